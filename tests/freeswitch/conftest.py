from __future__ import annotations

import asyncio
from collections.abc import Callable

from pbx.freeswitch.settings import FreeSwitchSettings
from pbx.port import EventSubscription, PbxEvent


def settings_for(port: int, **overrides: object) -> FreeSwitchSettings:
    """Settings for a test server on loopback, with short timers so failures show fast."""
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": port,
        "password": "ClueCon",
        "command_timeout": 2.0,
        "connect_timeout": 2.0,
        "reconnect_initial": 0.05,
        "reconnect_max": 0.4,
    }
    values.update(overrides)
    return FreeSwitchSettings(**values)  # type: ignore[arg-type]


async def collect_until(
    sub: EventSubscription,
    done: Callable[[list[PbxEvent]], bool],
    within: float = 5.0,
) -> list[PbxEvent]:
    """Events from ``sub`` until ``done(events)`` holds; fails the test on timeout."""
    events: list[PbxEvent] = []

    async def run() -> None:
        while not done(events):
            events.append(await sub.__anext__())

    try:
        await asyncio.wait_for(run(), within)
    except TimeoutError:
        raise AssertionError(f"condition not met within {within} s; events: {events}") from None
    return events


def drain(sub: EventSubscription) -> list[PbxEvent]:
    """Events already queued on ``sub``, without waiting."""
    out: list[PbxEvent] = []
    while sub.pending:
        item = sub._queue.get_nowait()
        if isinstance(item, PbxEvent):
            out.append(item)
    return out


async def eventually(condition: Callable[[], bool], within: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(0.01)
