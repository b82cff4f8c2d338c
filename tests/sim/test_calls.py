"""Dialplan-driven calls beyond the captures: Dial to agent phones, ring timeouts, ChanSpy,
DTMF, registrations, applications the simulator does not implement."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from pbx.sim.ami.events import Event
from pbx.sim.dialplan.model import Dialplan
from pbx.sim.endpoints import Behaviour, Endpoint
from pbx.sim.inbound import inbound_call
from pbx.sim.runtime import Simulator
from tests.sim.captures import Client, header_orders
from tests.sim.conftest import make_config

DIALPLAN = """
[globals]
RING = 5

[in]
exten => 100,1,Answer()
 same => n,Dial(PJSIP/agent1001,${RING})
 same => n,NoOp(DIALSTATUS=${DIALSTATUS})
 same => n,Hangup()
exten => 200,1,Answer()
 same => n,Set(X=${CALLERID(num)})
 same => n,GotoIf($["${X}" = "777"]?vip,1:plain,1)
exten => vip,1,Wait(3600)
exten => plain,1,NoOp(plain)
 same => n,Hangup(17)
exten => 300,1,Answer()
 same => n,Frobnicate(1)
 same => n,NoOp(never)
exten => 400,1,Answer()
 same => n,Echo()

[spy]
exten => _56XXXX,1,Answer()
 same => n,ChanSpy(PJSIP/agent${EXTEN:2},q)
 same => n,Hangup()
"""


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    s = Simulator(make_config(time_scale=0.01), Dialplan.parse(DIALPLAN, "test.conf"))
    await s.start()
    yield s
    await s.stop()


class Recorder(list[Event]):
    """Every event the engine emits, with a way to wait for one."""

    def __init__(self, sim: Simulator) -> None:
        super().__init__()
        self._changed = asyncio.Event()
        sim.pbx.listen(self._add)

    def _add(self, event: Event) -> None:
        self.append(event)
        self._changed.set()

    async def until(self, name: str, limit: float = 5.0) -> Event:
        async with asyncio.timeout(limit):
            while True:
                for e in self:
                    if e.name == name:
                        return e
                self._changed.clear()
                await self._changed.wait()


def record(sim: Simulator) -> Recorder:
    return Recorder(sim)


def names(events: list[Event], channel_prefix: str) -> list[str]:
    return [
        e.name
        for e in events
        if (e.get("Channel") or e.get("DestChannel") or "").startswith(channel_prefix)
    ]


async def test_dial_agent_answers_talks_and_hangs_up(sim: Simulator) -> None:
    events = record(sim)
    sim.endpoints.add(
        Endpoint(
            "agent1001", behaviour=Behaviour(answer_delay=1, talk_time_mean=5, talk_time_min=5)
        )
    )
    sim.endpoints.register("agent1001")
    caller = inbound_call(sim.pbx, "100", context="in")
    await asyncio.wait_for(caller.gone.wait(), 10)
    agent = [
        e for e in events if e.name == "Newchannel" and "agent1001" in (e.get("Channel") or "")
    ]
    assert len(agent) == 1
    agent_name = agent[0].get("Channel")
    assert agent_name.startswith("PJSIP/agent1001-")
    assert names(events, agent_name) == [
        "Newchannel",
        "VarSet",  # DIALEDPEERNUMBER, set by app_dial on the new leg (real Asterisk 22)
        "Newexten",
        "NewCallerid",
        "NewConnectedLine",
        "Newstate",
        "Newstate",
        "Newexten",  # app_dial empties the answered leg's extension (real Asterisk 22)
        "BridgeEnter",
        "VarSet",
        "HangupRequest",
        "BridgeLeave",
        "Hangup",
    ]
    begin = next(e for e in events if e.name == "DialBegin")
    assert begin.get("Channel") == caller.name and begin.get("DestChannel") == agent_name
    end = next(e for e in events if e.name == "DialEnd")
    assert end.get("DialStatus") == "ANSWER"
    assert [e.get("BridgeNumChannels") for e in events if e.name.startswith("Bridge")] == [
        "0",
        "1",
        "2",
        "1",
        "0",
        "0",
    ]
    statuses = [e.get("Value") for e in events if e.get("Variable") == "DIALSTATUS"]
    assert statuses[-1] == "ANSWER"
    # No g option: the caller is hung up when the agent hangs up.
    assert names(events, caller.name)[-2:] == ["SoftHangupRequest", "Hangup"]


async def test_dial_ring_timeout_sets_noanswer(sim: Simulator) -> None:
    events = record(sim)
    sim.endpoints.add(Endpoint("agent1001", behaviour=Behaviour(no_answer_probability=1.0)))
    sim.endpoints.register("agent1001")
    caller = inbound_call(sim.pbx, "100", context="in")
    await asyncio.wait_for(caller.gone.wait(), 10)
    assert [e.get("DialStatus") for e in events if e.name == "DialEnd"] == ["NOANSWER"]
    noop = [
        e.get("AppData") for e in events if e.name == "Newexten" and e.get("Application") == "NoOp"
    ]
    assert noop == ["DIALSTATUS=NOANSWER"]
    agent = next(e.get("DestChannel") for e in events if e.name == "DialBegin")
    assert "Ringing" in [e.get("ChannelStateDesc") for e in events if e.get("Channel") == agent]


async def test_dial_unregistered_is_chanunavail(sim: Simulator) -> None:
    events = record(sim)
    caller = inbound_call(sim.pbx, "100", context="in")
    await asyncio.wait_for(caller.gone.wait(), 10)
    assert not [e for e in events if e.name == "DialBegin"]
    noop = [
        e.get("AppData") for e in events if e.name == "Newexten" and e.get("Application") == "NoOp"
    ]
    assert noop == ["DIALSTATUS=CHANUNAVAIL"]


async def test_gotoif_with_expression_and_hangup_cause(sim: Simulator) -> None:
    events = record(sim)
    plain = inbound_call(sim.pbx, "200", context="in", caller_num="555")
    await asyncio.wait_for(plain.gone.wait(), 5)
    hang = [e for e in events if e.name == "Hangup" and e.get("Channel") == plain.name]
    assert hang[0].get("Cause") == "17" and hang[0].get("Cause-txt") == "User busy"
    vip = inbound_call(sim.pbx, "200", context="in", caller_num="777")
    while True:
        e = await events.until("Newexten")
        events.remove(e)
        if e.get("Channel") == vip.name and e.get("Exten") == "vip":
            break
    assert e.get("Application") == "Wait" and not vip.hung_up


async def test_unknown_application_warned_at_load_and_ends_call(
    sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    assert sim.missing_applications == ["frobnicate"]
    events = record(sim)
    with caplog.at_level(logging.ERROR):
        chan = inbound_call(sim.pbx, "300", context="in")
        await asyncio.wait_for(chan.gone.wait(), 5)
    assert "No application 'Frobnicate'" in caplog.text
    assert "never" not in [e.get("AppData") for e in events]
    assert names(events, chan.name)[-1] == "Hangup"


async def test_chanspy_start_and_stop(sim: Simulator) -> None:
    events = record(sim)
    sim.endpoints.add(Endpoint("agent1001", behaviour=Behaviour(answer_delay=0.5)))
    sim.endpoints.register("agent1001")
    caller = inbound_call(sim.pbx, "100", context="in")
    await events.until("BridgeEnter")
    spy = inbound_call(sim.pbx, "561001", context="spy", caller_num="9000")
    start = await events.until("ChanSpyStart")
    assert start.get("SpyerChannel") == spy.name
    assert (start.get("SpyeeChannel") or "").startswith("PJSIP/agent1001-")
    sim.pbx.soft_hangup(caller, 16)
    stop = await events.until("ChanSpyStop")
    assert stop.get("SpyerChannel") == spy.name
    # Like Asterisk, ChanSpy goes back to scanning for the next matching channel.
    assert not spy.hung_up
    sim.pbx.soft_hangup(spy, 16)
    await asyncio.wait_for(spy.gone.wait(), 5)
    assert [e.name for e in events if e.name.startswith("ChanSpy")] == [
        "ChanSpyStart",
        "ChanSpyStop",
    ]


async def test_registration_raises_contact_status(sim: Simulator) -> None:
    events = record(sim)
    sim.endpoints.register("agent1002")
    sim.endpoints.unregister("agent1002")
    statuses = [
        (e.get("EndpointName"), e.get("ContactStatus")) for e in events if e.name == "ContactStatus"
    ]
    assert statuses == [("agent1002", "NonQualified"), ("agent1002", "Removed")]


async def test_dtmf_and_ami_actions(sim: Simulator) -> None:
    chan = inbound_call(sim.pbx, "400", context="in", caller_num="5551000")
    client = await Client.connect(sim.ami_port)
    await client.send(b"Action: Login\r\nUsername: acd\r\nSecret: acdsecret\r\n\r\n")
    await client.wait_for(lambda got: any(dict(b).get("Event") == "SuccessfulAuth" for b in got))
    sim.pbx.dtmf(chan, "5")
    await client.wait_for(lambda got: any(dict(b).get("Event") == "DTMFEnd" for b in got))
    d = [dict(b) for b in client.blocks() if dict(b).get("Event", "").startswith("DTMF")]
    assert [(x["Event"], x["Digit"], x["Direction"]) for x in d] == [
        ("DTMFBegin", "5", "Received"),
        ("DTMFEnd", "5", "Received"),
    ]
    assert [k for k in d[1]][-3:] == ["Digit", "DurationMs", "Direction"]
    await client.send(
        b"Action: UserEvent\r\nActionID: u1\r\nUserEvent: CcTest\r\nFoo: bar\r\n\r\n"
        b"Action: CoreShowChannels\r\nActionID: c1\r\n\r\n"
        b"Action: Setvar\r\nActionID: s1\r\nChannel: " + chan.name.encode() + b"\r\n"
        b"Variable: CC_INTERACTION_ID\r\nValue: abc\r\n\r\n"
        b"Action: Getvar\r\nActionID: g1\r\nChannel: " + chan.name.encode() + b"\r\n"
        b"Variable: CALLERID(num)\r\n\r\n"
    )
    await client.wait_for(lambda got: any(dict(b).get("ActionID") == "g1" for b in got))
    got = [dict(b) for b in client.blocks()]
    user = next(b for b in got if b.get("Event") == "UserEvent")
    assert user["UserEvent"] == "CcTest" and user["Foo"] == "bar" and user["ActionID"] == "u1"
    listed = [b for b in got if b.get("Event") == "CoreShowChannel"]
    assert [b["Channel"] for b in listed] == [chan.name] and listed[0]["Application"] == "Echo"
    assert next(b for b in got if b.get("Event") == "CoreShowChannelsComplete")["ListItems"] == "1"
    assert chan.variables["CC_INTERACTION_ID"] == "abc"
    assert next(b for b in got if b.get("ActionID") == "g1" and "Value" in b)["Value"] == "5551000"
    await client.close()


async def test_sync_originate_and_dual_redirect(sim: Simulator) -> None:
    client = await Client.connect(sim.ami_port)
    await client.send(
        b"Action: Login\r\nUsername: acd\r\nSecret: acdsecret\r\nEvents: off\r\n\r\n"
        b"Action: Originate\r\nActionID: o1\r\nChannel: Local/400@in\r\n"
        b"Application: Wait\r\nData: 3600\r\n\r\n"
    )
    await client.wait_for(lambda got: any(dict(b).get("ActionID") == "o1" for b in got))
    resp = next(dict(b) for b in client.blocks() if dict(b).get("ActionID") == "o1")
    assert resp["Response"] == "Success" and resp["Message"] == "Originate successfully queued"
    one = next(c for c in sim.pbx.channels.values() if c.name.endswith(";1"))
    two = one.peer
    assert one.appl == "Wait" and two is not None and two.appl == "Echo"
    await client.send(
        b"Action: Redirect\r\nActionID: r1\r\nChannel: " + one.name.encode() + b"\r\n"
        b"ExtraChannel: " + two.name.encode() + b"\r\nContext: in\r\nExten: vip\r\n"
        b"Priority: 1\r\n\r\n"
    )
    await client.wait_for(lambda got: any(dict(b).get("ActionID") == "r1" for b in got))
    assert dict(client.blocks()[-1])["Message"] == "Dual Redirect successful"
    await asyncio.sleep(0.1)
    assert (one.exten, one.appl, two.exten, two.appl) == ("vip", "Wait", "vip", "Wait")
    await client.close()


BRIDGE_DIALPLAN = """
[in]
exten => 400,1,Answer()
 same => n,Echo()
exten => 500,1,Bridge(${PEER})
 same => n,Hangup()
"""


async def test_bridge_application_takes_over_the_other_channel() -> None:
    sim = Simulator(make_config(time_scale=0.01), Dialplan.parse(BRIDGE_DIALPLAN, "b.conf"))
    await sim.start()
    try:
        events = record(sim)
        a = inbound_call(sim.pbx, "400", context="in")
        b = inbound_call(sim.pbx, "400", context="in")
        await asyncio.sleep(0.05)
        sim.pbx.set_var(b, "PEER", a.name)
        sim.pbx.redirect(b, "in", "500", 1)
        await events.until("BridgeEnter")
        await asyncio.sleep(0.05)
        entered = [e.get("Channel") for e in events if e.name == "BridgeEnter"]
        assert entered == [a.name, b.name]
        assert not a.hung_up and a.bridge is b.bridge is not None
        sim.pbx.soft_hangup(a, 16)
        await asyncio.wait_for(b.gone.wait(), 5)
        assert [e.name for e in events if e.name.startswith("Bridge")][-1] == "BridgeDestroy"
    finally:
        await sim.stop()


async def test_mixmonitor_start_and_stop(sim: Simulator) -> None:
    events = record(sim)
    chan = inbound_call(sim.pbx, "400", context="in")
    client = await Client.connect(sim.ami_port)
    name = chan.name.encode()
    await client.send(
        b"Action: Login\r\nUsername: acd\r\nSecret: acdsecret\r\nEvents: off\r\n\r\n"
        b"Action: StopMixMonitor\r\nActionID: x0\r\nChannel: " + name + b"\r\n\r\n"
        b"Action: MixMonitor\r\nActionID: x1\r\nChannel: " + name + b"\r\nFile: c/a.wav\r\n\r\n"
        b"Action: StopMixMonitor\r\nActionID: x2\r\nChannel: " + name + b"\r\n\r\n"
        b"Action: MixMonitor\r\nActionID: x3\r\nChannel: PJSIP/none-00000009\r\n\r\n"
    )
    await client.wait_for(lambda got: any(dict(b).get("ActionID") == "x3" for b in got))
    answers = {dict(b)["ActionID"]: dict(b) for b in client.blocks()[1:]}
    assert answers["x0"]["Message"] == "Could not stop monitoring channel"
    assert answers["x1"]["Response"] == "Success"
    assert answers["x2"]["Message"] == "Stopped monitoring channel"
    assert answers["x3"]["Message"] == "No such channel"
    assert [e.name for e in events if e.name.startswith("MixMonitor")] == [
        "MixMonitorStart",
        "MixMonitorStop",
    ]
    assert chan.variables["MIXMONITOR_FILENAME"] == "c/a.wav"
    await client.close()


async def test_originate_supervisor_phone_into_chanspy(sim: Simulator) -> None:
    events = record(sim)
    for name in ("agent1001", "agent1009"):
        sim.endpoints.add(Endpoint(name, behaviour=Behaviour(answer_delay=0.5)))
        sim.endpoints.register(name)
    caller = inbound_call(sim.pbx, "100", context="in")
    await events.until("BridgeEnter")
    client = await Client.connect(sim.ami_port)
    await client.send(
        b"Action: Login\r\nUsername: acd\r\nSecret: acdsecret\r\n\r\n"
        b"Action: Originate\r\nActionID: sup\r\nAsync: true\r\nChannel: PJSIP/agent1009\r\n"
        b"Context: spy\r\nExten: 561001\r\nPriority: 1\r\n\r\n"
        b"Action: Originate\r\nActionID: nobody\r\nAsync: true\r\nChannel: PJSIP/agent7777\r\n"
        b"Context: spy\r\nExten: 561001\r\nPriority: 1\r\n\r\n"
    )
    await client.wait_for(
        lambda got: sum(dict(b).get("Event") == "OriginateResponse" for b in got) == 2
    )
    results = {
        dict(b)["ActionID"]: dict(b)
        for b in client.blocks()
        if dict(b).get("Event") == "OriginateResponse"
    }
    assert results["sup"]["Response"] == "Success" and results["sup"]["Reason"] == "4"
    assert results["nobody"]["Response"] == "Failure"
    start = await events.until("ChanSpyStart")
    assert start.get("SpyerChannel") == results["sup"]["Channel"]
    assert (start.get("SpyeeChannel") or "").startswith("PJSIP/agent1001-")
    assert not caller.hung_up
    await client.close()


async def test_dial_events_use_the_captured_header_orders(sim: Simulator) -> None:
    """Dial, bridges and hangups of an agent call were recorded only inside app_queue (06);
    the same event types here must carry the same headers in the same order."""
    orders = header_orders()
    client = await Client.connect(sim.ami_port)
    await client.send(b"Action: Login\r\nUsername: acd\r\nSecret: acdsecret\r\n\r\n")
    await client.wait_for(lambda got: any(dict(b).get("Event") == "SuccessfulAuth" for b in got))
    sim.endpoints.add(
        Endpoint(
            "agent1001", behaviour=Behaviour(answer_delay=1, talk_time_mean=2, talk_time_min=2)
        )
    )
    sim.endpoints.register("agent1001")
    caller = inbound_call(sim.pbx, "100", context="in")
    await asyncio.wait_for(caller.gone.wait(), 10)
    await client.wait_for(
        lambda got: any(
            dict(b).get("Channel") == caller.name and dict(b).get("Event") == "Hangup" for b in got
        )
    )
    checked = set()
    for b in client.blocks():
        if b[0][0] == "Event" and b[0][1] in orders:
            assert tuple(k for k, _ in b[1:]) in orders[b[0][1]], b
            checked.add(b[0][1])
    assert {
        "DialBegin",
        "DialEnd",
        "BridgeCreate",
        "BridgeEnter",
        "BridgeLeave",
        "BridgeDestroy",
        "HangupRequest",
        "SoftHangupRequest",
        "Hangup",
        "Newstate",
    } <= checked
    await client.close()


@pytest.mark.parametrize("when", ["ringing", "bridged"])
async def test_redirect_caller_out_of_dial(sim: Simulator, when: str) -> None:
    """The ACD pulls a caller back to hold while its agent rings, or out of a talking call."""
    events = record(sim)
    sim.endpoints.add(
        Endpoint(
            "agent1001",
            behaviour=Behaviour(no_answer_probability=1.0 if when == "ringing" else 0.0),
        )
    )
    sim.endpoints.register("agent1001")
    sim.pbx.globals["RING"] = "3600"
    caller = inbound_call(sim.pbx, "100", context="in")
    await events.until("Newstate" if when == "ringing" else "BridgeEnter")
    if when == "ringing":
        while True:  # wait for the agent leg to report Ringing
            e = await events.until("Newstate")
            events.remove(e)
            if e.get("ChannelStateDesc") == "Ringing":
                break
    agent = next(e.get("DestChannel") for e in events if e.name == "DialBegin")
    sim.pbx.redirect(caller, "in", "vip", 1)
    while True:
        e = await events.until("Newexten")
        events.remove(e)
        if e.get("Channel") == caller.name and e.get("Exten") == "vip":
            break
    assert not caller.hung_up and caller.bridge is None
    while True:  # the agent's leg is hung up
        e = await events.until("Hangup")
        events.remove(e)
        if e.get("Channel") == agent:
            break
    if when == "ringing":
        assert [x.get("DialStatus") for x in events if x.name == "DialEnd"] == ["CANCEL"]
    else:
        assert [x.name for x in events if x.name.startswith("Bridge")][-1] == "BridgeDestroy"


async def test_status_lists_channels(sim: Simulator) -> None:
    chan = inbound_call(sim.pbx, "400", context="in", caller_num="5551000")
    client = await Client.connect(sim.ami_port)
    await client.send(
        b"Action: Login\r\nUsername: acd\r\nSecret: acdsecret\r\nEvents: off\r\n\r\n"
        b"Action: Status\r\nActionID: st\r\n\r\n"
        b"Action: Status\r\nActionID: st2\r\nChannel: PJSIP/none-00000001\r\n\r\n"
    )
    await client.wait_for(lambda got: any(dict(b).get("ActionID") == "st2" for b in got))
    got = [dict(b) for b in client.blocks()]
    item = next(b for b in got if b.get("Event") == "Status")
    assert item["Channel"] == chan.name and item["Type"] == "PJSIP" and item["ActionID"] == "st"
    done = next(b for b in got if b.get("Event") == "StatusComplete")
    assert done["ListItems"] == "1"
    assert got[-1]["Message"] == "No such channel"
    await client.close()
