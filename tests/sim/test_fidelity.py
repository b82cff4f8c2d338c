"""The simulator, loaded with the capture dialplan and driven by the captured actions, answers
as the real Asterisk 22.10.1 did: same responses and events, same headers in the same order."""

from __future__ import annotations

import pytest

from pbx.sim.runtime import Simulator
from tests.sim.captures import Client, blocks, capture, diff_streams, header_orders, replay


@pytest.mark.parametrize("name", ["01", "02", "04"])
async def test_capture_flow(sim: Simulator, name: str) -> None:
    sent, raw = capture(name)
    expected = blocks(raw)
    client = await Client.connect(sim.ami_port)
    await replay(client, sent, expected)
    problems = diff_streams(expected, client.blocks())
    assert not problems, "\n".join(problems)
    assert_known_orders(client.blocks())
    await client.close()


ORDERS = header_orders()


def test_capture_header_orders_are_extracted() -> None:
    # The helper finds every channel event family the simulator must match.
    for name in (
        "Newchannel",
        "Newexten",
        "VarSet",
        "Hangup",
        "DialBegin",
        "BridgeEnter",
        "AGIExecStart",
        "AGIExecEnd",
        "MusicOnHoldStart",
        "OriginateResponse",
    ):
        assert name in ORDERS


def assert_known_orders(got: list[list[tuple[str, str]]]) -> None:
    for b in got:
        if b[0][0] == "Event" and b[0][1] in ORDERS:
            order = tuple(k for k, _ in b[1:])
            assert order in ORDERS[b[0][1]], f"{b[0][1]} headers out of order: {order}"
