"""End to end through the simulated Asterisk (pbx.sim): AMI and FastAGI over real TCP.

The dialplan below is the contract docs/asterisk.md describes (cc-inbound, cc-hold,
cc-connect, cc-spy and the CC_* variables).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pbx.asterisk import AsteriskPort
from pbx.asterisk.fastagi import AgiSession, FastAgiServer
from pbx.asterisk.resync import VANISHED
from pbx.port import (
    CallAnswered,
    CallArrived,
    CallBridged,
    CallHungUp,
    CollectEnd,
    CollectSpec,
    ConnectionLost,
    ConnectionRestored,
    DialEnded,
    DialStatus,
    HangupCause,
    PbxEvent,
    Resynced,
)
from pbx.sim.endpoints import Behaviour, Endpoint
from pbx.sim.inbound import inbound_call
from pbx.sim.runtime import SimConfig, Simulator

from .conftest import collect_until, settings_for

DIALPLAN = """
[globals]
FASTAGI = agi://127.0.0.1:{agi_port}

[cc-inbound]
exten => _X.,1,Answer()
 same => n,Set(__CC_DNIS=${{EXTEN}})
 same => n,AGI(${{FASTAGI}}/ivr/main)
 same => n,Goto(cc-hold,s,1)

[cc-hold]
exten => s,1,Answer()
 same => n,MusicOnHold(${{CC_MOH_CLASS}},3600)
 same => n,Hangup()

[cc-connect]
exten => s,1,Dial(${{CC_AGENT_ENDPOINT}},${{CC_RING_TIMEOUT}})
 same => n,Goto(cc-hold,s,1)

[agents]
exten => wait,1,Answer()
 same => n,Wait(3600)
 same => n,Hangup()
"""


def of(kind: type[PbxEvent], **match: object):
    def done(events: list[PbxEvent]) -> bool:
        return any(
            isinstance(e, kind) and all(getattr(e, k) == v for k, v in match.items())
            for e in events
        )

    return done


@pytest.fixture
async def agi() -> AsyncIterator[FastAgiServer]:
    server = FastAgiServer("127.0.0.1", 0)
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def sim(tmp_path: Path, agi: FastAgiServer) -> AsyncIterator[Simulator]:
    conf = tmp_path / "extensions.conf"
    conf.write_text(DIALPLAN.format(agi_port=agi.port))
    simulator = Simulator(SimConfig(dialplan_path=conf, ami_port=0, time_scale=0.02))
    for i, name in enumerate(("agent1001", "agent1002")):
        simulator.endpoints.add(
            Endpoint(name, port=5300 + i, behaviour=Behaviour(ring_delay=0.1, answer_delay=1.0))
        )
        simulator.endpoints.register(name)
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def ports(sim: Simulator) -> AsyncIterator[list[AsteriskPort]]:
    """Ports made by a test, closed before the simulator stops even when the test fails."""
    made: list[AsteriskPort] = []
    yield made
    for port in made:
        await port.close()


async def test_inbound_ivr_hold_connect_drop_resync_hangup(
    sim: Simulator, agi: FastAgiServer, ports: list[AsteriskPort]
) -> None:
    ivr_done: list[asyncio.Event] = [asyncio.Event(), asyncio.Event()]
    seen_in_ivr: list[dict[str, object]] = []

    async def ivr(session: AgiSession) -> None:
        n = len(seen_in_ivr)
        seen: dict[str, object] = {}
        seen_in_ivr.append(seen)
        await session.answer()
        seen["dnis"] = await session.get_variable("CC_DNIS")
        seen["menu"] = await session.play_and_collect(
            ["menu"], CollectSpec(min_digits=1, max_digits=3, timeout=5, terminator="#")
        )
        await session.set_variable("CC_INTERACTION_ID", f"i-{n}")
        ivr_done[n].set()

    agi.route("ivr/", ivr)
    # A slow first reconnect leaves time for what happens while the link is down.
    port = AsteriskPort(
        settings_for(sim.ami_port, reconnect_initial=1.0, reconnect_max=2.0, command_timeout=3)
    )
    ports.append(port)
    sub = port.events()
    await port.start()
    await collect_until(sub, of(Resynced))

    caller = inbound_call(sim.pbx, "800", context="cc-inbound", caller_num="5551234")
    (arrived,) = [
        e for e in await collect_until(sub, of(CallArrived)) if isinstance(e, CallArrived)
    ]
    call_id = arrived.call_id
    assert (arrived.called_num, arrived.caller_num, arrived.channel) == (
        "800",
        "5551234",
        caller.name,
    )
    await asyncio.sleep(0.05)
    for digit in "42#":
        sim.pbx.dtmf(caller, digit)
    await asyncio.wait_for(ivr_done[0].wait(), 5)
    assert seen_in_ivr[0]["dnis"] == "800"
    menu = seen_in_ivr[0]["menu"]
    assert (menu.digits, menu.ended) == ("42", CollectEnd.TERMINATOR)  # type: ignore[union-attr]
    # Back in the dialplan, the call waits in cc-hold tagged with its interaction.
    await asyncio.sleep(0.05)
    assert await port.get_variable(call_id, "CC_INTERACTION_ID") == "i-0"

    await port.connect_agent(call_id, "PJSIP/agent1001", ring_timeout=20)
    events = await collect_until(sub, of(CallBridged, call_id=call_id))
    (dial,) = [e for e in events if isinstance(e, DialEnded)]
    assert (dial.call_id, dial.endpoint, dial.status) == (
        call_id,
        "PJSIP/agent1001",
        DialStatus.ANSWER,
    )
    bridged = next(e for e in events if isinstance(e, CallBridged) and e.call_id == call_id)
    agent_leg = bridged.other_call_id
    live = {c.call_id: c for c in await port.list_live_calls()}
    assert live[call_id].variables["CC_INTERACTION_ID"] == "i-0"
    assert live[call_id].called_num == "800"
    assert live[call_id].bridged_with == agent_leg

    # The link drops. Meanwhile the agent hangs up (Dial without g: the caller goes too) and
    # a second call arrives and goes through the IVR.
    for session in list(sim.ami.sessions):
        session.abort()
    (agent_channel,) = [c for c in sim.pbx.channels.values() if c.uniqueid == agent_leg]
    sim.pbx.queue_hangup(agent_channel, 16)
    second = inbound_call(sim.pbx, "801", context="cc-inbound", caller_num="5559999")
    await asyncio.wait_for(ivr_done[1].wait(), 5)
    events = await collect_until(sub, of(Resynced), within=5)
    events = events[[type(e) for e in events].index(ConnectionLost) :]
    assert [type(e) for e in events] == [
        ConnectionLost,
        ConnectionRestored,
        CallHungUp,
        CallHungUp,
        Resynced,
    ]
    assert {e.call_id for e in events if isinstance(e, CallHungUp)} == {call_id, agent_leg}
    assert all(e.cause == VANISHED for e in events if isinstance(e, CallHungUp))
    resynced = events[-1]
    assert isinstance(resynced, Resynced)
    (adopted,) = resynced.calls
    assert (adopted.call_id, adopted.channel) == (second.uniqueid, second.name)
    assert (adopted.variables["CC_INTERACTION_ID"], adopted.called_num) == ("i-1", "801")

    # Commands work on the new link and on the adopted call.
    await port.hold(adopted.call_id)
    other = await port.originate("PJSIP/agent1002", "agents", "wait", ring_timeout=10)
    await collect_until(sub, of(CallAnswered, call_id=other), within=5)
    await port.hangup(other)
    await port.hangup(adopted.call_id, cause=16)
    events = await collect_until(sub, of(CallHungUp, call_id=adopted.call_id), within=5)
    assert CallHungUp(call_id=adopted.call_id, cause=HangupCause(16, "Normal Clearing")) in events
