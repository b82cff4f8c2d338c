"""The supervised event socket: reconnect with backoff, re-subscription, resync after a drop,
pending commands failed, timeouts, and no thread left behind."""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import AsyncIterator

import gevent
import pytest

from pbx.freeswitch import FreeSwitchPort
from pbx.freeswitch.resync import VANISHED
from pbx.port import (
    CallArrived,
    CallHungUp,
    CommandTimeout,
    ConnectionLost,
    ConnectionRestored,
    NotConnected,
    PbxEvent,
    Resynced,
)

from .conftest import collect_until, drain, eventually, settings_for
from .fake_esl import FakeChannel, FakeFreeSwitch

A = "aaaaaaaa-0000-4000-8000-000000000001"
B = "bbbbbbbb-0000-4000-8000-000000000002"
C = "cccccccc-0000-4000-8000-000000000003"


def esl_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "freeswitch-esl"]


@pytest.fixture
async def fake() -> AsyncIterator[FakeFreeSwitch]:
    server = FakeFreeSwitch()
    await server.start()
    yield server
    await server.stop()


async def live_greenlets(adapter: FreeSwitchPort) -> int:
    """Greenlets alive in the adapter's gevent thread (counted there, minus the counter)."""

    def count() -> int:
        return sum(1 for g in gc.get_objects() if isinstance(g, gevent.Greenlet) and not g.dead) - 1

    return await asyncio.wrap_future(adapter._link._thread.submit(count))


def resynced(events: list[PbxEvent]) -> bool:
    return any(isinstance(e, Resynced) for e in events)


async def test_resync_reports_calls_with_their_variables(fake: FakeFreeSwitch) -> None:
    fake.add(FakeChannel(A, "sofia/internal/5551000@pbx", variables={"CC_INTERACTION_ID": "i-7"}))
    # Not yet in `show channels` (the SQL queue lags), but alive: not reported, not lost.
    fake.add(FakeChannel(B, "sofia/internal/5551001@pbx", listed=False))
    adapter = FreeSwitchPort(settings_for(fake.port))
    sub = adapter.events()
    await adapter.start()
    try:
        (event,) = await collect_until(sub, resynced)
        assert isinstance(event, Resynced)
        (call,) = event.calls
        assert (call.call_id, call.channel, call.context, call.caller_num) == (
            A,
            "sofia/internal/5551000@pbx",
            "ccplane",
            "5551000",
        )
        assert call.variables == {"CC_INTERACTION_ID": "i-7"}
        assert call.duration_s >= 3
    finally:
        await adapter.close()


async def test_resync_keeps_what_events_said_after_the_list_was_taken(
    fake: FakeFreeSwitch,
) -> None:
    fake.add(FakeChannel(A, "sofia/internal/a@pbx", dest="5000", application="socket"))
    fake.stall_matching = ("show channels",)
    adapter = FreeSwitchPort(settings_for(fake.port))
    sub = adapter.events()
    await adapter.start(wait=False)
    try:
        await eventually(lambda: bool(fake.commands("bgapi show channels")))
        # The list says A is in the IVR; then A moves to hold, and only then the list arrives.
        fake.move(A, "cc_hold", "endless_playback")
        await eventually(lambda: adapter._link.events_received >= 1)
        fake.release()
        (event,) = [e for e in await collect_until(sub, resynced) if isinstance(e, Resynced)]
        ((call,),) = (event.calls,)
        assert (call.call_id, call.exten, call.application) == (A, "cc_hold", "endless_playback")
        channel = adapter._table.get(A)
        assert channel is not None and channel.exten == "cc_hold"
    finally:
        await adapter.close()


async def test_link_drop_fails_pending_reconnects_resubscribes_and_resyncs(
    fake: FakeFreeSwitch,
) -> None:
    threads_before = len(esl_threads())
    adapter = FreeSwitchPort(settings_for(fake.port))
    sub = adapter.events()
    await adapter.start()
    fake.add(FakeChannel(A, "sofia/internal/a@pbx", variables={"CC_INTERACTION_ID": "i-a"}))
    fake.add(FakeChannel(B, "sofia/internal/b@pbx"))
    await collect_until(sub, lambda ev: len([e for e in ev if isinstance(e, CallArrived)]) == 2)

    greenlets_before = await live_greenlets(adapter)
    fake.stall = True
    pending = asyncio.create_task(adapter.get_variable(A, "CC_INTERACTION_ID", timeout_s=5))
    await eventually(lambda: bool(fake.commands("bgapi uuid_getvar")))
    # While the link is down, A ends and C arrives; FreeSWITCH tells nobody.
    fake.stall = False
    fake.drop()
    fake.hangup(A, announce=False)
    fake.add(FakeChannel(C, "sofia/internal/c@pbx"), announce=False)

    with pytest.raises(NotConnected, match="link lost"):
        await asyncio.wait_for(pending, 3)
    events = await collect_until(sub, resynced)
    lost = events.index(ConnectionLost(reason="FreeSWITCH closed the event socket"))
    assert events[lost + 1 : lost + 3] == [
        ConnectionRestored(),
        CallHungUp(call_id=A, cause=VANISHED),
    ]
    (resync,) = [e for e in events if isinstance(e, Resynced)]
    assert sorted(c.call_id for c in resync.calls) == [B, C]
    assert fake.connections == 2
    assert len(fake.commands("event plain")) == 2  # subscribed again on the new link
    assert adapter.connected
    assert await adapter.get_variable(B, "CC_INTERACTION_ID") is None
    # The dropped connection's reader greenlets are gone, not piling up per reconnect.
    assert await live_greenlets(adapter) == greenlets_before

    await adapter.close()
    assert len(esl_threads()) == threads_before
    assert not adapter.connected


async def test_reconnects_with_backoff_until_freeswitch_accepts(fake: FakeFreeSwitch) -> None:
    fake.refuse = True
    adapter = FreeSwitchPort(settings_for(fake.port, reconnect_initial=0.05, reconnect_max=0.2))
    sub = adapter.events()
    await adapter.start(wait=False)
    try:
        await eventually(lambda: fake.connections >= 4)
        assert not adapter.connected
        with pytest.raises(NotConnected):
            await adapter.get_variable(A, "X")
        fake.refuse = False
        await collect_until(sub, resynced)
        assert adapter.connected
    finally:
        await adapter.close()


async def test_command_timeout_keeps_replies_paired(fake: FakeFreeSwitch) -> None:
    fake.add(FakeChannel(A, "sofia/internal/a@pbx", variables={"V": "first"}))
    fake.add(FakeChannel(B, "sofia/internal/b@pbx", variables={"V": "second"}))
    adapter = FreeSwitchPort(settings_for(fake.port))
    await adapter.start()
    try:
        fake.stall = True
        with pytest.raises(CommandTimeout, match="uuid_getvar"):
            await adapter.get_variable(A, "V", timeout_s=0.2)
        fake.release()
        # The late answer to the timed-out command is not taken for the next one's.
        assert await adapter.get_variable(B, "V") == "second"
        fake.silent_jobs = True
        with pytest.raises(CommandTimeout):
            await adapter.hangup(B, timeout_s=0.2)
    finally:
        await adapter.close()


async def test_commands_before_start_and_after_close(fake: FakeFreeSwitch) -> None:
    adapter = FreeSwitchPort(settings_for(fake.port))
    with pytest.raises(NotConnected):
        await adapter.hangup(A)
    await adapter.start()
    await adapter.close()
    with pytest.raises(NotConnected):
        await adapter.hangup(A)
    assert not [t for t in esl_threads() if t.is_alive()]


async def test_unreachable_freeswitch_fails_start() -> None:
    fake = FakeFreeSwitch()
    port = await fake.start()
    await fake.stop()  # nothing listens on that port now
    adapter = FreeSwitchPort(settings_for(port, connect_timeout=0.3, command_timeout=0.3))
    with pytest.raises(NotConnected, match="no event socket session"):
        await adapter.start()
    await adapter.close()


async def test_a_healthy_link_lost_again_and_again_reconnects_without_growing_backoff(
    fake: FakeFreeSwitch,
) -> None:
    # Backoff up to 4 s: were it kept growing, ten drops in a row would take over a minute.
    adapter = FreeSwitchPort(settings_for(fake.port, reconnect_initial=0.1, reconnect_max=4.0))
    sub = adapter.events()
    await adapter.start()
    try:
        for _ in range(10):
            before = adapter.resyncs
            adapter.drop_link("test: drop")
            # Each link did real work (its resync), so each reconnect waits the first delay.
            await eventually(lambda b=before: adapter.resyncs > b, within=1.5)
        assert sum(isinstance(e, ConnectionLost) for e in drain(sub)) >= 10
    finally:
        await adapter.close()


async def test_a_link_dropped_before_it_works_backs_off(fake: FakeFreeSwitch) -> None:
    fake.refuse = True  # FreeSWITCH answers and turns the login down, again and again
    adapter = FreeSwitchPort(settings_for(fake.port, reconnect_initial=0.1, reconnect_max=0.8))
    await adapter.start(wait=False)
    try:
        await asyncio.sleep(2.0)
        # 0.1 + 0.2 + 0.4 + 0.8 + 0.8 ... : a handful of attempts, not twenty.
        assert 2 <= fake.connections <= 8, fake.connections
    finally:
        await adapter.close()
