"""Rings whose DialEnd falls into an AMI outage, through the shipped dialplan in the simulated
Asterisk: the adapter learns how they ended from [cc-connect]'s traces (the served mark and
CC_RING_RESULT) instead of reporting a served caller as vanished."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pbx.asterisk import AsteriskPort
from pbx.asterisk.resync import SERVED_VANISHED
from pbx.port import CallHungUp, DialEnded, DialStatus, HangupCause, PbxEvent, Resynced
from pbx.sim.channel import Channel
from pbx.sim.endpoints import Behaviour, Endpoint
from pbx.sim.inbound import inbound_call
from pbx.sim.runtime import SimConfig, Simulator

from .conftest import collect_until, settings_for

DIALPLAN = Path(__file__).resolve().parents[2] / "dialplan" / "asterisk" / "extensions.conf"
AGENT = "PJSIP/agent1001"


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    simulator = Simulator(SimConfig(dialplan_path=DIALPLAN, ami_port=0))
    simulator.endpoints.add(Endpoint("agent1001", port=5400, behaviour=Behaviour(ring_delay=0.02)))
    simulator.endpoints.register("agent1001")
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def ports() -> AsyncIterator[list[AsteriskPort]]:
    made: list[AsteriskPort] = []
    yield made
    for port in made:
        await port.close()


async def started(sim: Simulator, ports: list[AsteriskPort], reconnect_s: float) -> AsteriskPort:
    port = AsteriskPort(settings_for(sim.ami_port, reconnect_initial=reconnect_s,
                                     reconnect_max=reconnect_s, command_timeout=3.0))
    ports.append(port)
    await port.start()
    return port


def held_caller(sim: Simulator) -> Channel:
    return inbound_call(sim.pbx, "s", context="cc-hold", caller_num="4930555123")


def behave(sim: Simulator, **values: object) -> None:
    endpoint = sim.endpoints.get("agent1001")
    assert endpoint is not None
    for name, value in values.items():
        setattr(endpoint.behaviour, name, value)


def of_call(events: list[PbxEvent], call_id: str) -> list[PbxEvent]:
    return [e for e in events if isinstance(e, DialEnded | CallHungUp)
            and e.call_id == call_id]


async def test_call_answered_and_ended_inside_an_outage_is_reported_served(
    sim: Simulator, ports: list[AsteriskPort]
) -> None:
    behave(sim, answer_delay=0.05, talk_time_mean=0.01, talk_time_min=0.3)
    port = await started(sim, ports, reconnect_s=1.5)  # longer than the whole call
    sub = port.events()
    caller = held_caller(sim)
    await port.get_variable(caller.uniqueid, "CC_DNIS")  # the adapter has seen the channel
    await port.connect_agent(caller.uniqueid, AGENT, ring_timeout=5)
    port.drop_link("test: outage")
    events = await collect_until(sub, lambda got: any(isinstance(e, Resynced) for e in got),
                                 within=10)
    assert caller.hung_up
    assert of_call(events, caller.uniqueid) == [
        DialEnded(call_id=caller.uniqueid, endpoint=AGENT, status=DialStatus.ANSWER),
        CallHungUp(call_id=caller.uniqueid, cause=SERVED_VANISHED),
    ]
    assert sim.pbx.globals[f"CC_SERVED_{AGENT}"] == caller.uniqueid


async def test_unanswered_ring_inside_an_outage_is_not_reported_served(
    sim: Simulator, ports: list[AsteriskPort]
) -> None:
    behave(sim, no_answer_probability=1.0)
    port = await started(sim, ports, reconnect_s=1.8)
    sub = port.events()
    caller = held_caller(sim)
    await port.get_variable(caller.uniqueid, "CC_DNIS")
    await port.connect_agent(caller.uniqueid, AGENT, ring_timeout=1)
    port.drop_link("test: outage")
    events = await collect_until(sub, lambda got: any(isinstance(e, Resynced) for e in got),
                                 within=10)
    assert of_call(events, caller.uniqueid) == []  # still alive, back on hold
    assert await port.get_variable(caller.uniqueid, "CC_RING_RESULT") == "NOANSWER"
    # The next ring starts with an empty record.
    behave(sim, no_answer_probability=0.0, answer_delay=5.0)
    await port.connect_agent(caller.uniqueid, AGENT, ring_timeout=10)
    assert await port.get_variable(caller.uniqueid, "CC_RING_RESULT") is None


async def test_hang_up_after_an_outage_that_swallowed_the_answer(
    sim: Simulator, ports: list[AsteriskPort]
) -> None:
    behave(sim, answer_delay=0.05, talk_time_mean=0.01, talk_time_min=1.6)
    port = await started(sim, ports, reconnect_s=0.5)  # back while they still talk
    sub = port.events()
    caller = held_caller(sim)
    await port.get_variable(caller.uniqueid, "CC_DNIS")
    await port.connect_agent(caller.uniqueid, AGENT, ring_timeout=5)
    port.drop_link("test: outage")
    events = await collect_until(
        sub, lambda got: any(isinstance(e, CallHungUp) and e.call_id == caller.uniqueid
                             for e in got), within=10)
    resynced = next(e for e in events if isinstance(e, Resynced))
    (listed,) = [c for c in resynced.calls if c.call_id == caller.uniqueid]
    assert listed.bridged_with is not None  # talking when the link came back
    assert of_call(events, caller.uniqueid) == [
        DialEnded(call_id=caller.uniqueid, endpoint=AGENT, status=DialStatus.ANSWER),
        CallHungUp(call_id=caller.uniqueid, cause=HangupCause(16, "Normal Clearing")),
    ]
