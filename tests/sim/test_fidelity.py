"""The simulator, loaded with the capture dialplan and driven by the captured actions, answers
as the real Asterisk 22.10.1 did: same responses and events, same headers in the same order."""

from __future__ import annotations

import pytest

from pbx.sim.runtime import Simulator
from tests.sim.captures import Client, blocks, capture, diff_streams, replay


@pytest.mark.parametrize("name", ["01", "02", "04"])
async def test_capture_flow(sim: Simulator, name: str) -> None:
    sent, raw = capture(name)
    expected = blocks(raw)
    client = await Client.connect(sim.ami_port)
    await replay(client, sent, expected)
    problems = diff_streams(expected, client.blocks())
    assert not problems, "\n".join(problems)
    await client.close()
