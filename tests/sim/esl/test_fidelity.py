"""The simulator, driven by each capture's client bytes, answers as FreeSWITCH 1.10.12 did."""

from __future__ import annotations

import asyncio

import pytest

from pbx.sim.esl.runtime import FsSimulator
from tests.sim.esl import replay

INBOUND_FLOWS = ["00", "01", "01b", "02", "03", "04", "05"]


async def run_flow(fs: FsSimulator, flow: str) -> tuple[list[replay.Frame], list[replay.Frame]]:
    sent_path = replay.capture_path(flow, ".sent.raw")
    recv = replay.frames(replay.capture_path(flow, ".recv.raw").read_bytes())
    reader, writer = await asyncio.open_connection("127.0.0.1", fs.port)
    client = replay.Client(reader, writer)
    try:
        await replay.drive(client, replay.commands_raw(sent_path), recv)
    finally:
        await client.close()
    return recv, client.frames


@pytest.mark.parametrize("flow", INBOUND_FLOWS)
async def test_inbound_flow_matches_capture(fs: FsSimulator, flow: str) -> None:
    recv, got = await run_flow(fs, flow)
    problems = replay.compare_events(recv, got)
    _, cap_labels = replay.event_streams(recv)
    _, sim_labels = replay.event_streams(got)
    sent = replay.commands(replay.capture_path(flow, ".sent.raw"))
    problems += replay.compare_replies(
        sent, replay.replies(recv), replay.replies(got), cap_labels, sim_labels
    )
    assert not problems, "\n".join(problems)
