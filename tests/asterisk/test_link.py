"""Link loss, reconnect with backoff, keep-alive and resync, against a scripted AMI server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from pbx.asterisk import AsteriskPort, AuthenticationFailed
from pbx.asterisk.resync import VANISHED
from pbx.port import (
    CallArrived,
    CallHungUp,
    ConnectionLost,
    ConnectionRestored,
    HangupCause,
    NotConnected,
    PbxEvent,
    Resynced,
)

from .conftest import collect_until, eventually, settings_for
from .fake_ami import FakeAsterisk, FakeChannel


@pytest.fixture
async def fake() -> AsyncIterator[FakeAsterisk]:
    server = FakeAsterisk()
    await server.start()
    yield server
    await server.stop()


def seen(kind: type[PbxEvent], count: int = 1):
    return lambda events: sum(isinstance(e, kind) for e in events) >= count


async def test_resync_reports_live_calls_with_their_variables(fake: FakeAsterisk) -> None:
    fake.add(FakeChannel("1.1", "PJSIP/trunk-00000001", variables={"CC_INTERACTION_ID": "i-1"}))
    fake.add(FakeChannel("1.2", "PJSIP/agent1001-00000002", bridge="br-1"))
    fake.add(FakeChannel("1.3", "PJSIP/trunk-00000003", bridge="br-1"))
    port = AsteriskPort(settings_for(fake.port))
    sub = port.events()
    await port.start()
    (synced,) = await collect_until(sub, seen(Resynced))
    assert isinstance(synced, Resynced)
    calls = {c.call_id: c for c in synced.calls}
    assert set(calls) == {"1.1", "1.2", "1.3"}
    assert calls["1.1"].variables == {"CC_INTERACTION_ID": "i-1"}
    assert calls["1.1"].duration_s == 65.0
    assert calls["1.2"].bridged_with == "1.3" and calls["1.3"].bridged_with == "1.2"
    assert calls["1.1"].bridged_with is None
    await port.close()


async def test_link_drop_fails_pending_reconnects_and_reconciles(fake: FakeAsterisk) -> None:
    fake.add(FakeChannel("2.1", "PJSIP/trunk-00000001", variables={"CC_INTERACTION_ID": "i-1"}))
    fake.add(FakeChannel("2.2", "PJSIP/trunk-00000002", variables={"CC_INTERACTION_ID": "i-2"}))
    port = AsteriskPort(settings_for(fake.port))
    sub = port.events()
    await port.start()
    await collect_until(sub, seen(Resynced))

    fake.silent.add("hangup")
    pending = asyncio.create_task(port.hangup("2.1"))
    await eventually(lambda: bool(fake.of("Hangup")))
    # While the link is down: 2.2 hangs up, 2.3 arrives and is tagged.
    fake.channels.pop("2.2")
    fake.add(
        FakeChannel("2.3", "PJSIP/trunk-00000003", variables={"CC_INTERACTION_ID": "i-3"}),
        announce=False,
    )
    fake.drop_all()
    with pytest.raises(NotConnected, match="AMI link lost"):
        await pending
    events = await collect_until(sub, seen(Resynced))
    assert [type(e) for e in events] == [ConnectionLost, ConnectionRestored, CallHungUp, Resynced]
    assert events[2] == CallHungUp(call_id="2.2", cause=VANISHED)
    resynced = events[3]
    assert isinstance(resynced, Resynced)
    assert {c.call_id: dict(c.variables) for c in resynced.calls} == {
        "2.1": {"CC_INTERACTION_ID": "i-1"},
        "2.3": {"CC_INTERACTION_ID": "i-3"},
    }
    assert port.connected
    # The command was not re-sent on the new link (a hang-up must never happen twice).
    assert len(fake.of("Hangup")) == 1
    # Commands work again, and on the adopted call.
    fake.silent.clear()
    await port.hangup("2.3")
    (ended,) = await collect_until(sub, seen(CallHungUp))
    assert ended == CallHungUp(call_id="2.3", cause=HangupCause(16, "Normal Clearing"))
    await port.close()


async def test_commands_while_down_raise_not_connected(fake: FakeAsterisk) -> None:
    fake.add(FakeChannel("3.1", "PJSIP/trunk-00000001"))
    port = AsteriskPort(settings_for(fake.port, reconnect_initial=0.3, reconnect_max=0.6))
    sub = port.events()
    await port.start()
    await collect_until(sub, seen(Resynced))
    fake.close_at_once = 1000
    fake.drop_all()
    await collect_until(sub, seen(ConnectionLost))
    assert not port.connected
    with pytest.raises(NotConnected):
        await port.redirect("3.1", "cc-hold", "s")
    with pytest.raises(NotConnected):
        await port.list_live_calls()
    fake.close_at_once = 0
    await collect_until(sub, seen(Resynced), within=5)
    await port.redirect("3.1", "cc-hold", "s")
    await port.close()


async def test_reconnect_backs_off_between_attempts(fake: FakeAsterisk) -> None:
    port = AsteriskPort(settings_for(fake.port, reconnect_initial=0.05, reconnect_max=0.4))
    fake.close_at_once = 5
    sub = port.events()
    await port.start(wait=False)
    await collect_until(sub, seen(Resynced), within=5)
    gaps = [b - a for a, b in zip(fake.accepted_at, fake.accepted_at[1:], strict=False)]
    assert len(gaps) == 5
    # Doubling from 0.05 s with +-20 % jitter, capped at 0.4 s (bounds leave room for a
    # loaded machine: 0.05, 0.1, 0.2, 0.4, 0.4 nominal).
    assert gaps[0] < 0.2
    assert gaps[4] > 3 * gaps[0]
    assert gaps[2] > gaps[0]
    assert 0.3 < gaps[4] < 0.8
    await port.close()


async def test_silent_link_is_dropped_by_keepalive_then_restored(fake: FakeAsterisk) -> None:
    port = AsteriskPort(settings_for(fake.port, ping_interval=0.1, ping_timeout=0.2))
    sub = port.events()
    await port.start()
    await collect_until(sub, seen(Resynced))
    fake.silent.add("ping")
    (lost,) = await collect_until(sub, seen(ConnectionLost), within=3)
    assert isinstance(lost, ConnectionLost) and "Ping" in lost.reason
    fake.silent.clear()
    events = await collect_until(sub, seen(Resynced), within=3)
    assert [type(e) for e in events] == [ConnectionRestored, Resynced]
    await port.close()


async def test_hangup_during_resync_is_not_reported_alive(fake: FakeAsterisk) -> None:
    fake.add(FakeChannel("5.1", "PJSIP/trunk-00000001"))
    fake.add(FakeChannel("5.2", "PJSIP/trunk-00000002"))
    port = AsteriskPort(settings_for(fake.port))
    sub = port.events()
    await port.start()
    await collect_until(sub, seen(Resynced))

    async def hang_up_5_2_first() -> None:
        # Asterisk lists 5.2, but its Hangup event overtakes the list on the wire.
        fake.emit_event("Hangup", *fake.channels["5.2"].snapshot(), ("Cause", "16"))
        await asyncio.sleep(0)

    fake.before_list = hang_up_5_2_first
    fake.drop_all()
    events = await collect_until(sub, seen(Resynced))
    fake.before_list = None
    assert [type(e) for e in events] == [
        ConnectionLost,
        ConnectionRestored,
        CallHungUp,
        Resynced,
    ]
    assert events[2] == CallHungUp(call_id="5.2", cause=HangupCause(16, "Normal Clearing"))
    resynced = events[3]
    assert isinstance(resynced, Resynced)
    assert [c.call_id for c in resynced.calls] == ["5.1"]
    await port.close()


async def test_wrong_secret_fails_start(fake: FakeAsterisk) -> None:
    port = AsteriskPort(settings_for(fake.port, secret="nope"))
    with pytest.raises(AuthenticationFailed, match="Authentication failed"):
        await port.start()
    assert not port.connected


async def test_unreachable_asterisk_fails_start_with_not_connected(fake: FakeAsterisk) -> None:
    await fake.stop()
    port = AsteriskPort(settings_for(fake.port, connect_timeout=0.3, command_timeout=0.2))
    with pytest.raises(NotConnected, match="no AMI session"):
        await port.start()
    await port.close()


async def test_malformed_frames_are_logged_and_skipped(
    fake: FakeAsterisk, caplog: pytest.LogCaptureFixture
) -> None:
    port = AsteriskPort(settings_for(fake.port))
    sub = port.events()
    await port.start()
    await collect_until(sub, seen(Resynced))
    fake.emit(b"\x00\xff\xfe binary noise without a colon\r\n\r\n")
    fake.emit(b"Event: Hangup\r\nEvent: Hangup\r\nUniqueid: x\r\n\r\n")  # doubled header
    fake.emit(b"Event: Hangup\r\nChannel: PJSIP/x-1\r\nCause: 16\r\n\r\n")  # no Uniqueid
    fake.emit(b"Event: Hangup\r\nUniqueid: 9.9\r\nCause: banana\r\n\r\n")  # unreadable cause
    fake.emit(b"Response: Success\r\nActionID: nobody\r\n\r\n")
    # A caller name in UTF-8, split inside a character across two TCP writes.
    event = (
        "Event: Newchannel\r\nChannel: PJSIP/trunk-00000009\r\nChannelState: 4\r\n"
        "CallerIDNum: 5551000\r\nCallerIDName: Zoë Ångström\r\nContext: cc-inbound\r\n"
        "Exten: 100\r\nUniqueid: 9.10\r\n\r\n"
    ).encode()
    cut = event.index("ë".encode()) + 1
    fake.emit(event[:cut])
    for writer in fake.writers:
        await writer.drain()
    await asyncio.sleep(0.05)
    fake.emit(event[cut:])
    events = await collect_until(sub, seen(CallArrived))
    assert port.connected
    hangups = [e for e in events if isinstance(e, CallHungUp)]
    # The doubled Event header is skipped whole; the unreadable cause is kept as unknown.
    assert hangups == [CallHungUp(call_id="9.9", cause=HangupCause(0, "Unknown"))]
    assert "could not be handled" in caplog.text
    arrived = events[-1]
    assert isinstance(arrived, CallArrived)
    assert (arrived.call_id, arrived.caller_name, arrived.called_num) == (
        "9.10",
        "Zoë Ångström",
        "100",
    )
    assert "without Uniqueid" in caplog.text
    assert "unreadable Cause" in caplog.text
    await port.close()


async def test_shutdown_event_drops_link_and_reconnects(fake: FakeAsterisk) -> None:
    port = AsteriskPort(settings_for(fake.port))
    sub = port.events()
    await port.start()
    await collect_until(sub, seen(Resynced))
    fake.emit_event("Shutdown", ("Shutdown", "Cleanly"), ("Restart", "True"))
    events = await collect_until(sub, seen(Resynced))
    lost = events[0]
    assert isinstance(lost, ConnectionLost) and "Shutdown (Cleanly)" in lost.reason
    assert [type(e) for e in events[1:]] == [ConnectionRestored, Resynced]
    await port.close()


async def test_renamed_channel_is_commanded_by_its_new_name(fake: FakeAsterisk) -> None:
    port = AsteriskPort(settings_for(fake.port))
    await port.start()
    fake.add(FakeChannel("6.1", "Local/x@ctx-00000001;1"))
    fake.emit_event(
        "Rename",
        ("Channel", "Local/x@ctx-00000001;1"),
        ("Uniqueid", "6.1"),
        ("Newname", "PJSIP/a-1"),
    )
    fake.channels["6.1"].name = "PJSIP/a-1"
    await port.ping()  # answered after the events before it: they have been handled
    await port.set_variable("6.1", "CC_X", "1")
    assert fake.of("Setvar")[-1].get("Channel") == "PJSIP/a-1"
    await port.close()
