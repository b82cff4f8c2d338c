"""The event socket link outlives its own failures: a dropped connection is closed at once (not
when a garbage collection finds it), and a gevent thread or supervisor greenlet that ends while
the link is open is logged and started again, so the link keeps reconnecting."""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
from collections.abc import AsyncIterator, Iterator

import gevent
import pytest

from pbx.freeswitch import FreeSwitchPort
from pbx.port import ConnectionLost, PbxEvent, Resynced

from .conftest import collect_until, eventually, settings_for
from .fake_esl import FakeFreeSwitch


def esl_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "freeswitch-esl"]


def lost_then_resynced(events: list[PbxEvent]) -> bool:
    lost = [i for i, e in enumerate(events) if isinstance(e, ConnectionLost)]
    return bool(lost) and any(isinstance(e, Resynced) for e in events[lost[0] :])


@pytest.fixture
async def fake() -> AsyncIterator[FakeFreeSwitch]:
    server = FakeFreeSwitch()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def no_gc() -> Iterator[None]:
    """Only explicit closes count: a collection would close leaked sockets behind our back."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


async def started(fake: FakeFreeSwitch) -> FreeSwitchPort:
    adapter = FreeSwitchPort(settings_for(fake.port))
    await adapter.start()
    return adapter


async def test_a_dropped_connection_is_closed_at_once(fake: FakeFreeSwitch, no_gc: None) -> None:
    adapter = await started(fake)
    try:
        for _ in range(5):
            before = adapter.resyncs
            adapter.drop_link("test: link drop")
            await eventually(lambda b=before: adapter.resyncs > b)
        # FreeSWITCH saw every dropped connection end: only the live one is left.
        await eventually(lambda: len(fake._writers) == 1)
        assert fake.connections == 6
    finally:
        await adapter.close()
    await eventually(lambda: not fake._writers)


async def test_a_killed_supervisor_is_logged_and_started_again(
    fake: FakeFreeSwitch, caplog: pytest.LogCaptureFixture
) -> None:
    adapter = await started(fake)
    link = adapter._link
    sub = adapter.events()
    try:
        first = link._supervisor
        assert first is not None
        with caplog.at_level(logging.ERROR, logger="pbx.freeswitch.connection"):
            link._thread.submit(lambda: first.kill(RuntimeError("boom"), block=False))
            await collect_until(sub, lost_then_resynced)
        assert link._supervisor is not first and first.dead
        assert link.restarts == 1 and link.connects == 2
        assert "supervisor ended unexpectedly" in caplog.text and "boom" in caplog.text
        # The new supervisor does its job: a drop is reconnected and resynced.
        adapter.drop_link("test: after the restart")
        await collect_until(sub, lost_then_resynced)
        assert link.connects == 3
        await eventually(lambda: len(fake._writers) == 1)
    finally:
        await adapter.close()
    assert not [t for t in esl_threads() if t.is_alive()]


async def test_a_dead_gevent_thread_is_logged_and_replaced(
    fake: FakeFreeSwitch, caplog: pytest.LogCaptureFixture
) -> None:
    adapter = await started(fake)
    link = adapter._link
    sub = adapter.events()
    try:
        old = link._thread
        (old_thread,) = esl_threads()

        def end_the_hub() -> None:
            # What an exception escaping the hub does: it lands in the thread's main greenlet.
            gevent.get_hub().parent.throw(RuntimeError("hub broke"))

        with caplog.at_level(logging.ERROR):
            old.submit(end_the_hub)
            await collect_until(sub, lost_then_resynced)
        old_thread.join(2.0)
        assert not old_thread.is_alive()
        assert link._thread is not old and link._thread.running
        assert isinstance(old.error, RuntimeError)
        assert link.restarts == 1 and link.connects == 2
        assert "gevent thread ended" in caplog.text and "hub broke" in caplog.text
        # The abandoned connection was shut down, the new one works and survives a drop.
        await eventually(lambda: len(fake._writers) == 1)
        assert adapter.connected
        adapter.drop_link("test: after the new thread")
        await collect_until(sub, lost_then_resynced)
        assert link.connects == 3
    finally:
        await adapter.close()
    await asyncio.sleep(0)
    assert not [t for t in esl_threads() if t.is_alive()]
