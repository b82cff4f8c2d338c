"""Port commands as AMI actions, and the events that only a live server can show."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from pbx.asterisk import AsteriskPort
from pbx.port import (
    CallArrived,
    CallHungUp,
    CommandTimeout,
    DtmfReceived,
    EndpointReachability,
    EndpointRegistered,
    EndpointUnregistered,
    HangupCause,
    InvalidArgument,
    NoSuchCall,
    PbxEvent,
    Resynced,
    SpyMode,
    SpyStarted,
    SpyStopped,
)

from .conftest import collect_until, settings_for
from .fake_ami import FakeAsterisk, FakeChannel

CALLER = FakeChannel(
    "7.1", "PJSIP/trunk-00000001", variables={"CC_INTERACTION_ID": "i-7", "CC_DNIS": "800"}
)


@pytest.fixture
async def fake() -> AsyncIterator[FakeAsterisk]:
    server = FakeAsterisk()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def port(fake: FakeAsterisk) -> AsyncIterator[AsteriskPort]:
    fake.add(FakeChannel(**{**CALLER.__dict__, "variables": dict(CALLER.variables)}))
    adapter = AsteriskPort(settings_for(fake.port))
    await adapter.start()
    yield adapter
    await adapter.close()


def seen(kind: type[PbxEvent], count: int = 1):
    return lambda events: sum(isinstance(e, kind) for e in events) >= count


def pairs(action) -> dict[str, str]:
    return {k: v for k, v in action.headers if k not in ("ActionID",)}


async def test_resync_uses_dnis_variable_as_called_number(fake: FakeAsterisk) -> None:
    fake.add(FakeChannel(**{**CALLER.__dict__}))
    adapter = AsteriskPort(settings_for(fake.port))
    sub = adapter.events()
    await adapter.start()
    (synced,) = await collect_until(sub, seen(Resynced))
    assert isinstance(synced, Resynced)
    (call,) = synced.calls
    assert (call.called_num, call.exten) == ("800", "s")
    await adapter.close()


async def test_hold_sets_moh_class_then_redirects(fake: FakeAsterisk, port: AsteriskPort) -> None:
    await port.hold("7.1", moh_class="support-en")
    setvar, redirect = fake.actions[-2:]
    assert pairs(setvar) == {
        "Action": "Setvar",
        "Channel": "PJSIP/trunk-00000001",
        "Variable": "CC_MOH_CLASS",
        "Value": "support-en",
    }
    assert pairs(redirect) == {
        "Action": "Redirect",
        "Channel": "PJSIP/trunk-00000001",
        "Context": "cc-hold",
        "Exten": "s",
        "Priority": "1",
    }


async def test_connect_agent_passes_endpoint_and_ring_timeout(
    fake: FakeAsterisk, port: AsteriskPort
) -> None:
    await port.connect_agent("7.1", "PJSIP/agent1001", ring_timeout=12.5, caller_id='"Queue" <800>')
    *setvars, redirect = fake.actions[-5:]
    assert {a.get("Variable"): a.get("Value") for a in setvars} == {
        "CC_AGENT_ENDPOINT": "PJSIP/agent1001",
        "CC_RING_TIMEOUT": "13",
        "CC_CALLER_ID": '"Queue" <800>',
        "CC_RING_RESULT": "",  # the dialplan's record of this ring starts empty
    }
    assert (redirect.get("Context"), redirect.get("Exten")) == ("cc-connect", "s")
    # A later attempt without caller id clears the earlier one.
    await port.connect_agent("7.1", "PJSIP/agent1002", ring_timeout=0.2)
    values = {a.get("Variable"): a.get("Value") for a in fake.of("Setvar")[-4:]}
    assert values == {
        "CC_AGENT_ENDPOINT": "PJSIP/agent1002",
        "CC_RING_TIMEOUT": "1",
        "CC_CALLER_ID": "",
        "CC_RING_RESULT": "",
    }


async def test_connect_agent_writes_its_actions_at_once(
    fake: FakeAsterisk, port: AsteriskPort
) -> None:
    """The four Setvar and the Redirect leave in one write (one TCP segment), in order."""
    transport = port._ami._link.manager.protocol.transport  # type: ignore[union-attr]
    write = transport.write
    writes: list[bytes] = []

    def recording(data: bytes) -> None:
        writes.append(bytes(data))
        write(data)

    transport.write = recording
    try:
        await port.connect_agent("7.1", "PJSIP/agent1001", ring_timeout=5)
    finally:
        transport.write = write
    (data,) = writes
    names = [ln for ln in data.decode().split("\r\n") if ln.startswith("Action: ")]
    assert names == ["Action: Setvar"] * 4 + ["Action: Redirect"]


async def test_spy_originates_supervisor_into_chanspy(
    fake: FakeAsterisk, port: AsteriskPort
) -> None:
    sub = port.events()
    spy_id = await port.spy("PJSIP/sup2001", "7.1", SpyMode.WHISPER)
    (originate,) = fake.of("Originate")
    assert originate.get("Channel") == "PJSIP/sup2001"
    assert (originate.get("Context"), originate.get("Exten")) == ("cc-spy", "s")
    assert originate.get("ChannelId") == spy_id
    assert sorted(originate.all("Variable")) == [
        "CC_SPY_MODE=whisper",
        "CC_SPY_OPTIONS=qwE",
        "CC_SPY_TARGET=PJSIP/trunk-00000001",
    ]
    fake.emit_event(
        "ChanSpyStart",
        ("SpyerChannel", "PJSIP/sup2001-00000009"),
        ("SpyerUniqueid", spy_id),
        ("SpyeeChannel", "PJSIP/trunk-00000001"),
        ("SpyeeUniqueid", "7.1"),
    )
    fake.emit_event("ChanSpyStop", ("SpyerUniqueid", spy_id), ("SpyeeUniqueid", "7.1"))
    events = await collect_until(sub, seen(SpyStopped))
    assert events == [
        SpyStarted(spy_call_id=spy_id, target_call_id="7.1", mode=SpyMode.WHISPER),
        SpyStopped(spy_call_id=spy_id, target_call_id="7.1"),
    ]
    with pytest.raises(NoSuchCall):
        await port.spy("PJSIP/sup2001", "never-seen", SpyMode.LISTEN)


async def test_recording_and_variables(fake: FakeAsterisk, port: AsteriskPort) -> None:
    await port.start_recording("7.1", "calls/i-7.wav")
    await port.stop_recording("7.1")
    assert pairs(fake.of("MixMonitor")[0])["File"] == "calls/i-7.wav"
    assert fake.of("StopMixMonitor")[0].get("Channel") == "PJSIP/trunk-00000001"
    assert await port.get_variable("7.1", "CC_INTERACTION_ID") == "i-7"
    assert await port.get_variable("7.1", "NEVER_SET") is None
    await port.set_variable("7.1", "CC_LANG", "fr")
    assert fake.channels["7.1"].variables["CC_LANG"] == "fr"
    with pytest.raises(NoSuchCall) as err:
        await port.get_variable("9.9", "X")
    assert err.value.call_id == "9.9"


async def test_bad_input_is_refused_before_anything_is_sent(
    fake: FakeAsterisk, port: AsteriskPort
) -> None:
    sent = len(fake.actions)
    cases = [
        (port.set_variable("7.1", "X", "a\r\nAction: Hangup"), "value"),
        (port.set_variable("7.1", "BAD NAME", "v"), "variable"),
        (port.redirect("7.1", "cc hold", "s"), "context"),
        (port.hangup("7.1", cause=300), "cause"),
        (port.connect_agent("7.1", "agent1001", ring_timeout=10), "endpoint"),
        (port.connect_agent("7.1", "PJSIP/a", ring_timeout=0), "ring_timeout"),
        (port.originate("PJSIP/a", "ctx", "s", variables={"A": "x,y"}), "variables[A]"),
        (port.hold("7.1", moh_class="a,b"), "moh_class"),
        (port.hangup("", cause=16), "call_id"),
        (port.redirect("7.1", "cc-hold", "s", timeout_s=-1), "timeout_s"),
    ]
    for coro, field in cases:
        with pytest.raises(InvalidArgument) as err:
            await coro
        assert err.value.field == field
    assert len(fake.actions) == sent


async def test_unanswered_command_times_out(fake: FakeAsterisk, port: AsteriskPort) -> None:
    fake.silent.add("redirect")
    with pytest.raises(CommandTimeout) as err:
        await port.redirect("7.1", "cc-hold", "s", timeout_s=0.2)
    assert err.value.command == "Redirect"
    assert port.connected  # a slow answer is not a dead link


async def test_failed_originate_without_channel_reports_a_hangup(
    fake: FakeAsterisk, port: AsteriskPort
) -> None:
    sub = port.events()
    call_id = await port.originate("PJSIP/agent1009", "cc-connect", "s", ring_timeout=5)
    (originate,) = fake.of("Originate")
    fake.emit_event(
        "OriginateResponse",
        ("ActionID", originate.get("ActionID") or ""),
        ("Response", "Failure"),
        ("Channel", "PJSIP/agent1009"),
        ("Reason", "5"),
        ("Uniqueid", "<null>"),
    )
    (ended,) = await collect_until(sub, seen(CallHungUp))
    assert ended == CallHungUp(call_id=call_id, cause=HangupCause(17, "User busy"))


async def test_inbound_dtmf_and_endpoint_events(fake: FakeAsterisk, port: AsteriskPort) -> None:
    sub = port.events()
    fake.add(FakeChannel("8.1", "PJSIP/trunk-00000008", context="cc-inbound", exten="800"))
    fake.emit_event(
        "DTMFEnd",
        ("Channel", "PJSIP/trunk-00000008"),
        ("Uniqueid", "8.1"),
        ("Digit", "5"),
        ("DurationMs", "120"),
        ("Direction", "Received"),
    )
    fake.emit_event("DTMFEnd", ("Uniqueid", "8.1"), ("Digit", "9"), ("Direction", "Sent"))
    for status, extra in [
        ("NonQualified", ()),
        ("Reachable", (("RoundtripUsec", "2500"),)),
        ("Unreachable", ()),
        ("Removed", ()),
    ]:
        fake.emit_event(
            "ContactStatus",
            ("URI", "sip:agent1001@127.0.0.1:5062"),
            ("ContactStatus", status),
            ("AOR", "agent1001"),
            ("EndpointName", "agent1001"),
            *extra,
        )
    events = await collect_until(sub, seen(EndpointUnregistered))
    assert events == [
        CallArrived(
            call_id="8.1",
            channel="PJSIP/trunk-00000008",
            caller_num="5551000",
            caller_name="Caller",
            called_num="800",
            variables={},
        ),
        DtmfReceived(call_id="8.1", digit="5", duration_ms=120),
        EndpointRegistered(endpoint="PJSIP/agent1001", contact="sip:agent1001@127.0.0.1:5062"),
        EndpointReachability(endpoint="PJSIP/agent1001", reachable=True, rtt_ms=2.5),
        EndpointReachability(endpoint="PJSIP/agent1001", reachable=False),
        EndpointUnregistered(endpoint="PJSIP/agent1001"),
    ]
