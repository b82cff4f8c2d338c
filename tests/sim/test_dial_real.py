"""Dial() to a PJSIP phone, and hang-ups by BYE, as a real Asterisk 22.10.1 reported them.

The expected sequences were read from AMI recordings of the shipped ``cc-connect`` Dial
against a real Asterisk with sipp phones (docs/real-pbx.md): the agent endpoint has a
``callerid`` in pjsip.conf, the phone rings, then answers or never does. Only events of the
channels involved and their order are pinned (VarSet is left out: its volume depends on the
dialplan); values such as Uniqueid and timestamps are not compared.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from pbx.sim.dialplan.model import Dialplan
from pbx.sim.endpoints import Behaviour, Endpoint
from pbx.sim.inbound import inbound_call
from pbx.sim.runtime import Simulator
from tests.sim.conftest import make_config
from tests.sim.test_calls import Recorder, record

DIALPLAN = """
[in]
exten => 200,1,Answer()
 same => n,Wait(3600)
exten => 100,1,Answer()
 same => n,Dial(PJSIP/agent1001,2,g)
 same => n,NoOp(DIALSTATUS=${DIALSTATUS})
 same => n,Hangup()
"""

# The agent leg, answered (real: Newchannel already carries the endpoint's callerid, so no
# NewCallerid; app_dial empties the leg's extension once it answers: a Newexten with Exten "").
ANSWERED_LEG = [
    "Newchannel",
    "Newexten",
    "NewConnectedLine",
    "DialBegin",
    "Newstate",
    "DialState",
    "Newstate",
    "DialEnd",
    "Newexten",
    "BridgeEnter",
    "HangupRequest",
    "BridgeLeave",
    "Hangup",
]
# The agent leg, ring timeout: no SoftHangupRequest, Hangup with cause 0 "Unknown".
UNANSWERED_LEG = [
    "Newchannel",
    "Newexten",
    "NewConnectedLine",
    "DialBegin",
    "Newstate",
    "DialState",
    "DialEnd",
    "Hangup",
]


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    s = Simulator(make_config(time_scale=0.05), Dialplan.parse(DIALPLAN, "test.conf"))
    await s.start()
    yield s
    await s.stop()


def agent(sim: Simulator, behaviour: Behaviour) -> None:
    sim.endpoints.add(
        Endpoint("agent1001", behaviour=behaviour, callerid_num="1001", callerid_name="Agent 1001")
    )
    sim.endpoints.register("agent1001")


def leg_events(events: Recorder) -> list[tuple[str, dict[str, str]]]:
    """(name, headers) of every event that names the agent leg, VarSet left out."""
    out = []
    for e in events:
        if e.name == "VarSet":
            continue
        if "agent1001" in (e.get("Channel") or "") + (e.get("DestChannel") or ""):
            out.append((e.name, dict(e.headers)))
    return out


async def test_answered_dial_reports_what_asterisk_reports(sim: Simulator) -> None:
    events = record(sim)
    agent(sim, Behaviour(ring_delay=0.1, answer_delay=0.5, talk_time_mean=1, talk_time_min=1))
    caller = inbound_call(sim.pbx, "100", context="in", caller_num="2015550101")
    await asyncio.wait_for(caller.gone.wait(), 10)
    leg = leg_events(events)
    assert [name for name, _ in leg] == ANSWERED_LEG
    first = leg[0][1]
    assert (first["CallerIDNum"], first["CallerIDName"]) == ("1001", "Agent 1001")
    begin = dict(leg)["DialBegin"]
    assert begin["DialString"] == "agent1001"  # no technology, as app_dial passes it
    assert (begin["DestConnectedLineNum"], begin["DestCallerIDNum"]) == ("2015550101", "1001")
    state = dict(leg)["DialState"]
    assert (state["DialStatus"], state["DestChannelStateDesc"]) == ("RINGING", "Ringing")
    # The caller's connected line is the agent's callerid as soon as the ring starts.
    assert state["ConnectedLineNum"] == "1001"
    after_answer = leg[ANSWERED_LEG.index("DialEnd") + 1][1]
    assert (after_answer["Exten"], after_answer["Application"]) == ("", "AppDial")
    caller_events = [e.name for e in events if e.get("Channel") == caller.name]
    begin_at = caller_events.index("DialBegin")
    assert caller_events[begin_at + 1] == "NewConnectedLine"


async def test_ring_timeout_hangs_up_the_leg_without_a_request_and_no_cause(
    sim: Simulator,
) -> None:
    events = record(sim)
    agent(sim, Behaviour(ring_delay=0.1, no_answer_probability=1.0))
    caller = inbound_call(sim.pbx, "100", context="in", caller_num="2015550101")
    await asyncio.wait_for(caller.gone.wait(), 10)
    leg = leg_events(events)
    assert [name for name, _ in leg] == UNANSWERED_LEG
    assert dict(leg)["DialEnd"]["DialStatus"] == "NOANSWER"
    hangup = dict(leg)["Hangup"]
    assert (hangup["Cause"], hangup["Cause-txt"], hangup["ChannelStateDesc"]) == (
        "0",
        "Unknown",
        "Ringing",
    )


async def test_caller_hanging_up_while_the_phone_rings_cancels_with_the_callers_cause(
    sim: Simulator,
) -> None:
    events = record(sim)
    agent(sim, Behaviour(ring_delay=0.1, no_answer_probability=1.0))
    caller = inbound_call(sim.pbx, "100", context="in", caller_num="2015550101")
    await events.until("DialState")
    sim.pbx.queue_hangup(caller, 16)
    await asyncio.wait_for(caller.gone.wait(), 10)
    leg = leg_events(events)
    assert dict(leg)["DialEnd"]["DialStatus"] == "CANCEL"
    assert "SoftHangupRequest" not in [name for name, _ in leg]
    assert dict(leg)["Hangup"]["Cause"] == "16"


async def test_a_phone_without_callerid_gets_the_dialplan_extension(sim: Simulator) -> None:
    events = record(sim)
    sim.endpoints.add(Endpoint("agent1001", behaviour=Behaviour(no_answer_probability=1.0)))
    sim.endpoints.register("agent1001")
    caller = inbound_call(sim.pbx, "100", context="in", caller_num="2015550101")
    await asyncio.wait_for(caller.gone.wait(), 10)
    leg = leg_events(events)
    # app_dial's stand-in when the driver set none: the caller's extension as the number.
    assert dict(leg)["NewCallerid"]["CallerIDNum"] == "100"
    caller_events = [e.name for e in events if e.get("Channel") == caller.name]
    assert "NewConnectedLine" not in caller_events


async def test_a_callers_bye_before_any_answer_has_no_cause(sim: Simulator) -> None:
    # Real: HangupRequest without Cause (chan_pjsip queues it with none), the dialplan's
    # SoftHangupRequest with 16, then Hangup with cause 0 "Unknown".
    events = record(sim)
    caller = inbound_call(sim.pbx, "200", context="in", caller_num="2015550101")
    await events.until("Newexten")
    sim.pbx.far_end_hangup(caller)
    await asyncio.wait_for(caller.gone.wait(), 10)
    ends = [e for e in events if e.get("Channel") == caller.name and "Hangup" in e.name]
    assert [(e.name, e.get("Cause")) for e in ends] == [
        ("HangupRequest", None),
        ("SoftHangupRequest", "16"),
        ("Hangup", "0"),
    ]
    assert ends[-1].get("Cause-txt") == "Unknown"


async def test_an_agents_bye_after_answer_keeps_normal_clearing(sim: Simulator) -> None:
    events = record(sim)
    agent(sim, Behaviour(ring_delay=0.1, answer_delay=0.5, talk_time_mean=1, talk_time_min=1))
    caller = inbound_call(sim.pbx, "100", context="in", caller_num="2015550101")
    await asyncio.wait_for(caller.gone.wait(), 10)
    leg = leg_events(events)
    assert dict(leg)["HangupRequest"]["Cause"] == "16"  # app_dial set it on answer
    assert dict(leg)["Hangup"]["Cause"] == "16"
    caller_end = [e for e in events if e.get("Channel") == caller.name and e.name == "Hangup"]
    assert caller_end[0].get("Cause") == "16"
