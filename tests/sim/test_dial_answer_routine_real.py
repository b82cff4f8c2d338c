"""The shipped ``cc-connect`` Dial with its pre-dial handler ``b()`` and answer routine ``U()``
(the served mark), answered by a PJSIP phone, the caller hanging up first with a BYE: the
sequences a real Asterisk 22.10.1 reported (recorded with a ``read = all`` account during
``tests/real/test_asterisk_served.py``, docs/real-pbx.md).

Pinned per channel, VarSet included (the routines' frames are part of the flow), except the
bridge's and RTP's own variables (BRIDGEPEER, BRIDGEPVTCALLID, RTPAUDIOQOS*: their number
depends on the media), and the caller's timing variables (RINGTIME*, ANSWEREDTIME*,
DIALEDTIME*), which the simulator does not report.
"""

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

# cc-connect's Dial and the two routines as shipped (dialplan/asterisk/extensions_cc.conf).
DIALPLAN = """
[in]
exten => 100,1,Answer()
 same => n,Dial(PJSIP/agent1001,20,gb(cc-agent-leg^s^1(i-1)){answered})
 same => n,Hangup()

[cc-agent-leg]
exten => s,1,GotoIf($["${ARG1}" = ""]?done)
 same => n,GotoIf($["${CHANNEL(channeltype)}" != "PJSIP"]?done)
 same => n,Set(PJSIP_HEADER(add,X-CC-Interaction)=${ARG1})
 same => n(done),Return()

[cc-agent-answered]
exten => s,1,Set(GLOBAL(CC_SERVED_${ARG2})=${ARG1})
 same => n,Return()
"""

DIALPLAN = DIALPLAN.replace("{answered}", "U(cc-agent-answered^${UNIQUEID}^PJSIP/agent1001)")

# The agent's leg, as recorded (one of the two orders seen: Asterisk publishes DialState and
# the leg's Newstate on different topics). Return() restores the location without a snapshot:
# the Newexten back in cc-agents comes with the Newstate Ringing after b(), and with app_dial's
# empty Exten after U(). The leg app_dial hangs up itself: no (Soft)HangupRequest.
AGENT_LEG = [
    "Newchannel",
    "VarSet DIALEDPEERNUMBER",
    "Newexten cc-agents,s,AppDial",
    "NewConnectedLine",
    "VarSet LOCAL(ARG1)",
    "VarSet LOCAL(ARGC)",
    "Newexten cc-agent-leg,s,GotoIf",
    "Newexten cc-agent-leg,s,GotoIf",
    "Newexten cc-agent-leg,s,Set",
    "Newexten cc-agent-leg,s,Return",
    "VarSet ARGC",
    "VarSet ARG1",
    "VarSet GOSUB_RETVAL",
    "DialBegin",
    "Newstate",
    "Newexten cc-agents,s,AppDial",
    "DialState",
    "Newstate",
    "VarSet LOCAL(ARG1)",
    "VarSet LOCAL(ARG2)",
    "VarSet LOCAL(ARGC)",
    "Newexten cc-agent-answered,s,Set",
    "Newexten cc-agent-answered,s,Return",
    "VarSet ARGC",
    "VarSet ARG2",
    "VarSet ARG1",
    "VarSet GOSUB_RETVAL",
    "DialEnd",
    "Newexten cc-agents,,AppDial",
    "BridgeEnter",
    "BridgeLeave",
    "Hangup 16",
]
# The caller from its Dial on: app_dial marks the answer (DIALSTATUS and the peer) before the
# routine runs on the leg, and DialEnd ANSWER comes after the routine's Return().
CALLER = [
    "DialBegin",
    "NewConnectedLine",
    "DialState",
    "VarSet DIALSTATUS=ANSWER",
    "VarSet DIALEDPEERNAME",
    "VarSet DIALEDPEERNUMBER=agent1001",
    "DialEnd",
    "BridgeEnter",
    "HangupRequest 16",
    "BridgeLeave",
    "SoftHangupRequest 16",
    "Hangup 16",
]
LEFT_OUT = ("BRIDGEP", "RTPAUDIO", "RINGTIME", "ANSWEREDTIME", "DIALEDTIME")


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    s = Simulator(make_config(time_scale=0.05), Dialplan.parse(DIALPLAN, "test.conf"))
    await s.start()
    s.endpoints.add(
        Endpoint(
            "agent1001",
            context="cc-agents",
            behaviour=Behaviour(ring_delay=0.1, answer_delay=0.5),  # never hangs up itself
            callerid_num="1001",
            callerid_name="Agent 1001",
        )
    )
    s.endpoints.register("agent1001")
    yield s
    await s.stop()


def step(e: Event, with_values: bool = False) -> str | None:
    """How an event reads in the lists above; None for one left out."""
    if e.name == "VarSet":
        variable = e.get("Variable") or ""
        if variable.startswith(LEFT_OUT):
            return None
        values = with_values and variable.startswith(("DIALSTATUS", "DIALEDPEERNUMBER"))
        return f"VarSet {variable}={e.get('Value')}" if values else f"VarSet {variable}"
    if e.name == "Newexten":
        return f"Newexten {e.get('Context')},{e.get('Exten')},{e.get('Application')}"
    if e.name in ("Hangup", "HangupRequest", "SoftHangupRequest"):
        return f"{e.name} {e.get('Cause')}"
    return e.name


def of_channel(events: list[Event], name: str, with_values: bool = False) -> list[str]:
    steps = (
        step(e, with_values) for e in events if name in (e.get("Channel"), e.get("DestChannel"))
    )
    return [s for s in steps if s is not None]


async def test_answer_routine_and_the_callers_bye_as_asterisk_reports_them(sim: Simulator) -> None:
    events = record(sim)
    caller = inbound_call(sim.pbx, "100", context="in", caller_num="2015550101")
    await events.until("BridgeEnter")
    agent = next(e.get("DestChannel") for e in events if e.name == "DialBegin")
    leg = next(c for c in sim.pbx.channels.values() if c.name == agent)
    sim.pbx.far_end_hangup(caller)  # the caller's BYE
    await asyncio.wait_for(asyncio.gather(caller.gone.wait(), leg.gone.wait()), 5)
    assert agent is not None
    assert of_channel(events, agent) == AGENT_LEG
    mine = of_channel(events, caller.name, with_values=True)
    assert mine[mine.index("DialBegin") :] == CALLER
    # DialBegin shows the leg where AMI last saw it: the pre-dial handler's Return().
    begin = next(e for e in events if e.name == "DialBegin")
    assert (begin.get("DestContext"), begin.get("DestPriority")) == ("cc-agent-leg", "4")
    # The served mark: a VarSet naming no channel, right after the routine's Set.
    mark = next(i for i, e in enumerate(events) if e.get("Variable") == "CC_SERVED_PJSIP/agent1001")
    assert step(events[mark - 1]) == "Newexten cc-agent-answered,s,Set"
    assert events[mark].headers == [
        ("Channel", "none"),
        ("Uniqueid", "none"),
        ("Variable", "CC_SERVED_PJSIP/agent1001"),
        ("Value", caller.uniqueid),
    ]
