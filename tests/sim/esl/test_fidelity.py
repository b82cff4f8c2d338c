"""The simulator, driven by each capture's client bytes, answers as FreeSWITCH 1.10.12 did."""

from __future__ import annotations

import asyncio

import pytest

from pbx.sim.esl.runtime import FsSimulator
from pbx.sim.esl.switch import UserEndpoint
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


async def test_sip_call_into_park_matches_capture_09(fs: FsSimulator) -> None:
    """Flow 09: sipp calls 6000 (answer + park) and hangs up after 3 s. There is no SIP here:
    the call is injected as the sofia channel sipp's INVITE created, once the client listens,
    and the far end hangs up once it is parked."""
    recv = replay.frames(replay.capture_path("09", ".recv.raw").read_bytes())
    created = next(
        dict(f.event()[0])
        for f in recv
        if f.is_event and dict(f.event()[0])["Event-Name"] == "CHANNEL_CREATE"
    )
    user, _, host = created["Channel-Name"].removeprefix("sofia/internal/").partition("@")
    reader, writer = await asyncio.open_connection("127.0.0.1", fs.port)
    client = replay.Client(reader, writer)

    async def sipp() -> None:
        await client.until(replay.is_reply, 3)  # auth/request, auth, event plain ALL
        ch = fs.switch.inbound_call(
            created["Caller-Destination-Number"], user, context="default", profile="internal",
            host=host,
        )  # fmt: skip
        await client.until(
            lambda f: f.is_event and dict(f.event()[0]).get("Event-Name") == "CHANNEL_PARK", 1
        )
        await fs.switch.hangup(ch, "NORMAL_CLEARING")

    call = asyncio.create_task(sipp())
    try:
        await replay.drive(
            client, replay.commands_raw(replay.capture_path("09", ".sent.raw")), recv
        )
        await call
    finally:
        await client.close()
    problems = replay.compare_events(recv, client.frames)
    key = created["Channel-Name"] + "#1"
    got_streams, _ = replay.event_streams(client.frames)
    cap_streams, _ = replay.event_streams(recv)
    assert len(got_streams[key]) == len(cap_streams[key]) > 20  # the whole call was compared
    assert not problems, "\n".join(problems)


async def test_register_and_bridge_to_user_matches_capture_10(fs: FsSimulator) -> None:
    """Flow 10: 1001 registers, a SIP caller dials 8001 (bridge user/1001), hangs up, and 1001
    unregisters. The SIP side is injected at the moments the capture shows."""
    recv = replay.frames(replay.capture_path("10", ".recv.raw").read_bytes())
    events = [dict(f.event()[0]) for f in recv if f.is_event]
    reg = next(e for e in events if e.get("Event-Subclass") == "sofia::register")
    caller = next(e for e in events if e["Event-Name"] == "CHANNEL_CREATE")
    user, _, host = caller["Channel-Name"].removeprefix("sofia/internal/").partition("@")
    contact = reg["contact"].strip('"<> ').removeprefix('" <').rstrip(">")
    phone = UserEndpoint(
        reg["username"], reg["realm"], f"sofia/internal/{contact}", answer_delay=0.2,
        callgroup=reg["callgroup"],
    )  # fmt: skip
    reader, writer = await asyncio.open_connection("127.0.0.1", fs.port)
    client = replay.Client(reader, writer)

    def seen(name: str) -> object:
        return lambda f: f.is_event and dict(f.event()[0]).get("Event-Name") == name

    async def sipp() -> None:
        await client.until(replay.is_reply, 3)  # auth/request, auth, event plain ALL
        fs.register(phone)
        await client.until(replay.is_reply, 4)  # sofia_contact answered: the call comes in
        ch = fs.switch.inbound_call(
            caller["Caller-Destination-Number"], user, context="default", profile="internal",
            host=host,
        )  # fmt: skip
        await client.until(seen("CHANNEL_BRIDGE"), 1)
        await fs.switch.hangup(ch, "NORMAL_CLEARING")  # the caller's BYE
        await client.until(seen("CHANNEL_DESTROY"), 2)
        fs.unregister(phone.user)

    call = asyncio.create_task(sipp())
    try:
        await replay.drive(
            client, replay.commands_raw(replay.capture_path("10", ".sent.raw")), recv
        )
        await call
    finally:
        await client.close()
    problems = replay.compare_events(recv, client.frames)
    _, cl = replay.event_streams(recv)
    _, sl = replay.event_streams(client.frames)
    sent = replay.commands(replay.capture_path("10", ".sent.raw"))
    problems += replay.compare_replies(
        sent, replay.replies(recv), replay.replies(client.frames), cl, sl
    )
    assert not problems, "\n".join(problems)
