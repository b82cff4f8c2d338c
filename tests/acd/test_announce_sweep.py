"""The announcement sweep on its own: a real engine and call book, a recording port.

What is sent (only what the caller would hear differently), to whom (waiting calls held in
the PBX), and what a refused Setvar does."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

import pytest

from cc_core.acd.announce import Announcer, call_handled, last_spoken
from cc_core.acd.lifecycle import ANNOUNCED_UNKNOWN, CallBook, CallRecord, Stage
from cc_core.domain import Agent, AgentState, ChannelKind, Interaction, Queue
from cc_core.routing import Engine
from pbx.port import NoSuchCall, NotConnected, PbxError


class Port:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []
        self.error: PbxError | None = None

    async def set_variable(self, call_id: str, name: str, value: str, **_: Any) -> None:
        self.sent.append((call_id, name, value))
        if self.error is not None:
            raise self.error


class Acd:
    """What the announcer uses of `AcdService`."""

    def __init__(self) -> None:
        self.engine = Engine([Queue("q")])
        self.engine.add_agent(Agent("a", queues={"q": 1}), 0.0, AgentState.LOGGED_OUT)
        self.calls = CallBook()
        self.hung_up: set[str] = set()
        self.port = Port()
        self.pending: list[Awaitable[Any]] = []

    def command(self, send: Awaitable[Any]) -> None:
        self.pending.append(send)

    async def flush(self) -> None:
        pending, self.pending = self.pending, []
        await asyncio.gather(*pending)

    def wait(self, n: int, call_id: str | None = None) -> CallRecord:
        iid = f"i{n}"
        record = CallRecord(iid, call_id or f"c{n}", "q", float(n))
        self.calls.add(record)
        record.move(Stage.QUEUED)
        self.engine.arrive(Interaction(iid, "q", ChannelKind.VOICE, float(n)), float(n))
        return record


async def sweep(acd: Acd, announcer: Announcer) -> list[tuple[str, str, str]]:
    mark = len(acd.port.sent)
    announcer._sweep()
    await acd.flush()
    return acd.port.sent[mark:]


@pytest.fixture
def acd() -> Acd:
    return Acd()


def announcer_for(acd: Acd) -> Announcer:
    return Announcer(acd, refresh_seconds=10, default_handle_seconds=120)  # type: ignore[arg-type]


async def test_only_changes_are_sent(acd: Acd) -> None:
    announcer = announcer_for(acd)
    for n in range(3):
        acd.wait(n)
    assert await sweep(acd, announcer) == [
        ("c0", "CC_POSITION", "1"),
        ("c0", "CC_EWT", "120"),
        ("c1", "CC_POSITION", "2"),
        ("c1", "CC_EWT", "240"),
        ("c2", "CC_POSITION", "3"),
        ("c2", "CC_EWT", "360"),
    ]
    assert await sweep(acd, announcer) == []  # nothing changed
    acd.engine.set_state("a", AgentState.NOT_READY, 5.0, "break")  # still one agent
    assert await sweep(acd, announcer) == []
    acd.engine.end("i0", 6.0)
    assert await sweep(acd, announcer) == [
        ("c1", "CC_POSITION", "1"),
        ("c1", "CC_EWT", "120"),
        ("c2", "CC_POSITION", "2"),
        ("c2", "CC_EWT", "240"),
    ]


async def test_only_the_wait_when_only_its_minutes_change(acd: Acd) -> None:
    announcer = announcer_for(acd)
    acd.wait(0)
    await sweep(acd, announcer)
    announcer.handle_times.observe("q", 170.0)  # 2 min -> 3 min, same place
    assert await sweep(acd, announcer) == [("c0", "CC_EWT", "170")]
    announcer.handle_times.observe("q", 170.0)
    announcer.handle_times.observe("q", 173.0)  # 171 s: still 3 minutes, nothing to say
    assert await sweep(acd, announcer) == []


async def test_beyond_what_is_spoken_nothing_more_is_sent(acd: Acd) -> None:
    announcer = Announcer(acd, refresh_seconds=10, default_handle_seconds=1)  # type: ignore[arg-type]
    for n in range(103):
        acd.wait(n)
    await sweep(acd, announcer)
    acd.engine.end("i0", 200.0)
    sent = await sweep(acd, announcer)
    # Places 2..100 moved to 1..99 and are told; 101 and up moved to 100 and up: silence.
    assert {call for call, name, _ in sent if name == "CC_POSITION"} == {
        f"c{n}" for n in range(1, 100)
    }


@pytest.mark.parametrize(
    ("handle", "agents", "last"), [(180.0, 1, 99), (1.0, 1, 5940), (180.0, 100, 3300)]
)
def test_last_spoken_position(handle: float, agents: int, last: int) -> None:
    # Place 100 and up is silence; so is a wait above 99 minutes (5940 s).
    assert last_spoken(handle, agents) == last


async def test_far_back_in_line_nothing_is_sent_unless_stale(acd: Acd) -> None:
    announcer = announcer_for(acd)  # 120 s a call, one agent: 99 minutes at place 50
    records = [acd.wait(n) for n in range(101)]
    sent = await sweep(acd, announcer)
    assert {call for call, _, _ in sent} == {f"c{n}" for n in range(99)}
    assert ("c49", "CC_EWT", "6000") not in sent and ("c48", "CC_EWT", "5880") in sent
    records[100].announced = ANNOUNCED_UNKNOWN  # e.g. back from a ring with old values
    assert await sweep(acd, announcer) == [
        ("c100", "CC_POSITION", "101"),
        ("c100", "CC_EWT", "12120"),
    ]


async def test_calls_not_held_in_the_pbx_get_nothing(acd: Acd) -> None:
    announcer = announcer_for(acd)
    acd.wait(0, call_id="callback-0001")  # a callback request: nobody on hold
    acd.wait(1)
    acd.hung_up.add("c1")  # its hang-up job not run yet
    assert await sweep(acd, announcer) == []


async def test_a_call_gone_is_not_worth_a_warning(
    acd: Acd, caplog: pytest.LogCaptureFixture
) -> None:
    announcer = announcer_for(acd)
    record = acd.wait(0)
    acd.port.error = NoSuchCall("c0")
    with caplog.at_level(logging.DEBUG, logger="cc_core.acd.announce"):
        assert await sweep(acd, announcer) == [("c0", "CC_POSITION", "1")]
    assert [r.levelno for r in caplog.records] == [logging.DEBUG]
    assert record.announced is not None  # not sent again


async def test_a_refused_setvar_is_sent_again_and_warned_about_once(
    acd: Acd, caplog: pytest.LogCaptureFixture
) -> None:
    announcer = announcer_for(acd)
    record = acd.wait(0)
    acd.port.error = NotConnected("link down")
    with caplog.at_level(logging.DEBUG, logger="cc_core.acd.announce"):
        await sweep(acd, announcer)
        assert record.announced == ANNOUNCED_UNKNOWN
        assert await sweep(acd, announcer) == [("c0", "CC_POSITION", "1")]
    assert [r.levelno for r in caplog.records] == [logging.WARNING, logging.DEBUG]
    acd.port.error = None
    assert await sweep(acd, announcer) == [("c0", "CC_POSITION", "1"), ("c0", "CC_EWT", "120")]
    assert await sweep(acd, announcer) == []


async def test_handle_times_come_from_calls_served(acd: Acd) -> None:
    announcer = announcer_for(acd)
    record = CallRecord("x", "cx", "q", 0.0)
    call_handled(acd, record, 50.0)  # type: ignore[arg-type]  # never connected: not counted
    assert announcer.handle_times.average("q") == 120.0
    record.connected_at = 10.0
    call_handled(acd, record, 70.0)  # type: ignore[arg-type]
    assert announcer.handle_times.average("q") == 60.0
    announcer.close()
    call_handled(acd, record, 500.0)  # type: ignore[arg-type]  # closed: no longer fed
    assert announcer.handle_times.average("q") == 60.0


async def test_the_sweep_runs_every_refresh_as_a_job(acd: Acd) -> None:
    jobs: list[Any] = []
    submitted = asyncio.Event()

    def submit(job: Any) -> None:
        jobs.append(job)
        submitted.set()

    acd.submit = submit  # type: ignore[attr-defined]
    announcer = Announcer(acd, refresh_seconds=0.01, default_handle_seconds=120)  # type: ignore[arg-type]
    announcer.start()
    await asyncio.wait_for(submitted.wait(), 5)
    assert await jobs[0]() == 0  # nobody waits; the next one is armed
    assert announcer._timer is not None
    announcer.close()
    assert announcer._timer is None
