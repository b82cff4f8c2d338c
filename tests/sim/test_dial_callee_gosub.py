"""Dial's U() option in the simulated Asterisk: the routine runs on the called channel once it
has answered, before the bridge, while the caller waits in Dial; GOSUB_RESULT can refuse."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from pbx.sim.ami.events import Event
from pbx.sim.dialplan.model import Dialplan
from pbx.sim.endpoints import Behaviour, Endpoint
from pbx.sim.inbound import inbound_call
from pbx.sim.runtime import Simulator
from tests.sim.conftest import make_config
from tests.sim.test_calls import record

DIALPLAN = """
[globals]
RESULT =

[in]
exten => 100,1,Answer()
 same => n,Dial(PJSIP/agent1001,5,gU(answered^${UNIQUEID}^PJSIP/agent1001))
 same => n,NoOp(DIALSTATUS=${DIALSTATUS})
 same => n,Hangup()
exten => 101,1,Answer()
 same => n,Dial(PJSIP/agent1001,5,U(answered^${UNIQUEID}^PJSIP/agent1001))
 same => n,NoOp(DIALSTATUS=${DIALSTATUS})
 same => n,Hangup()

[answered]
exten => s,1,Set(GLOBAL(SEEN_${ARG2})=${ARG1})
 same => n,Set(GOSUB_RESULT=${RESULT})
 same => n,Return()

[elsewhere]
exten => s,1,NoOp(moved)
 same => n,Hangup()
"""


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    s = Simulator(make_config(time_scale=0.01), Dialplan.parse(DIALPLAN, "test.conf"))
    await s.start()
    s.endpoints.add(Endpoint("agent1001", behaviour=Behaviour(answer_delay=0.5)))
    s.endpoints.register("agent1001")
    yield s
    await s.stop()


def first(events: list[Event], name: str, **headers: str) -> int:
    """Index of the first event called ``name`` with these header values."""
    return next(
        i
        for i, e in enumerate(events)
        if e.name == name and all(e.get(k) == v for k, v in headers.items())
    )


def noops(events: list[Event], channel: str) -> list[str]:
    return [
        e.get("AppData")
        for e in events
        if e.name == "Newexten" and e.get("Channel") == channel and e.get("Application") == "NoOp"
    ]


async def test_the_routine_runs_on_the_answered_leg_before_the_bridge(sim: Simulator) -> None:
    events = record(sim)
    caller = inbound_call(sim.pbx, "100", context="in")
    await events.until("BridgeEnter")
    agent = next(e.get("DestChannel") for e in events if e.name == "DialBegin")
    answered = first(events, "Newstate", Channel=agent, ChannelStateDesc="Up")
    steps = [
        i
        for i, e in enumerate(events)
        if e.name == "Newexten" and e.get("Channel") == agent and e.get("Context") == "answered"
    ]
    dial_end = first(events, "DialEnd", Channel=caller.name, DialStatus="ANSWER")
    bridged = first(events, "BridgeEnter", Channel=caller.name)
    assert len(steps) == 3  # Set, Set, Return
    assert answered < steps[0] and steps[-1] < dial_end < bridged
    # ARG1, ARG2: the caller's Uniqueid and the endpoint, as written in the option.
    assert sim.pbx.globals["SEEN_PJSIP/agent1001"] == caller.uniqueid
    legs = [c for c in sim.pbx.channels.values() if c.name == agent]
    assert legs and "ARG1" not in legs[0].variables  # the arguments end with the routine
    sim.pbx.queue_hangup(caller, 16)
    await asyncio.wait_for(caller.gone.wait(), 5)


@pytest.mark.parametrize(
    ("result", "dial_status", "after"),
    [
        ("BUSY", "BUSY", ["DIALSTATUS=BUSY"]),
        ("CONTINUE", "CONTINUE", ["DIALSTATUS=ANSWER"]),
        ("GOTO:elsewhere^s^1", "GOTO:elsewhere^s^1", ["moved"]),
        ("ABORT", "ABORT", ["DIALSTATUS=ANSWER"]),  # Dial has g: the caller goes on
    ],
)
async def test_gosub_result_refuses_the_call(
    sim: Simulator, result: str, dial_status: str, after: list[str]
) -> None:
    sim.pbx.globals["RESULT"] = result
    events = record(sim)
    caller = inbound_call(sim.pbx, "100", context="in")
    await asyncio.wait_for(caller.gone.wait(), 5)
    assert [e.get("DialStatus") for e in events if e.name == "DialEnd"] == [dial_status]
    assert not [e for e in events if e.name == "BridgeEnter"]
    assert noops(events, caller.name) == after
    agent = next(e.get("DestChannel") for e in events if e.name == "DialBegin")
    assert any(e.name == "Hangup" and e.get("Channel") == agent for e in events)


async def test_abort_without_g_hangs_up_the_caller(sim: Simulator) -> None:
    sim.pbx.globals["RESULT"] = "ABORT"
    events = record(sim)
    caller = inbound_call(sim.pbx, "101", context="in")
    await asyncio.wait_for(caller.gone.wait(), 5)
    assert [e.get("DialStatus") for e in events if e.name == "DialEnd"] == ["ABORT"]
    assert noops(events, caller.name) == []
