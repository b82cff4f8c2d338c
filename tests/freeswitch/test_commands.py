"""Port commands on the wire (against a small fake FreeSWITCH), their errors, and the event
mapping of outcomes the recordings do not show (a ring with no answer, a supervisor joining)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from pbx.freeswitch import FreeSwitchPort
from pbx.freeswitch.channels import ChannelTable
from pbx.freeswitch.events import EventMapper
from pbx.freeswitch.protocol import EslEvent
from pbx.freeswitch.settings import FreeSwitchSettings
from pbx.port import (
    CallArrived,
    CallHungUp,
    CallRinging,
    DialEnded,
    DialStatus,
    HangupCause,
    InvalidArgument,
    NoSuchCall,
    NotConnected,
    PbxError,
    SpyMode,
    SpyStarted,
    SpyStopped,
)

from .conftest import collect_until, eventually, settings_for
from .fake_esl import FakeChannel, FakeFreeSwitch

CALLER = "11111111-0000-4000-8000-000000000001"
AGENT_LEG = "22222222-0000-4000-8000-000000000002"


@pytest.fixture
async def fake() -> AsyncIterator[FakeFreeSwitch]:
    server = FakeFreeSwitch()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def port(fake: FakeFreeSwitch) -> AsyncIterator[FreeSwitchPort]:
    adapter = FreeSwitchPort(settings_for(fake.port))
    await adapter.start()
    yield adapter
    await adapter.close()


def lines(fake: FakeFreeSwitch, prefix: str) -> list[str]:
    return [c.split("\n")[0] for c in fake.commands(prefix)]


def channel_lines(fake: FakeFreeSwitch) -> list[str]:
    """The channel commands (``api`` or ``bgapi``) in the order FreeSWITCH read them."""
    firsts = [c.split("\n")[0] for c in fake.received]
    return [line for line in firsts if line.startswith(("api uuid_", "bgapi uuid_"))]


async def test_hold_sets_music_class_then_transfers(
    fake: FakeFreeSwitch, port: FreeSwitchPort
) -> None:
    fake.add(FakeChannel(CALLER, "sofia/internal/caller@pbx"))
    await port.hold(CALLER, moh_class="sales")
    assert channel_lines(fake) == [
        f"api uuid_setvar {CALLER} cc_moh_class sales",
        f"bgapi uuid_transfer {CALLER} cc_hold XML ccplane",
    ]
    assert fake.channels[CALLER].dest == "cc_hold"


async def test_connect_agent_sets_variables_then_transfers(
    fake: FakeFreeSwitch, port: FreeSwitchPort
) -> None:
    fake.add(FakeChannel(CALLER, "sofia/internal/caller@pbx"))
    await port.connect_agent(CALLER, "user/1001", ring_timeout=12.5, caller_id="Queue <100>")
    sent = channel_lines(fake)
    # One uuid_setvar_multi for the values it can carry (mod_commands splits it on spaces),
    # the caller id with its space alone; the last ring's result emptied for this one. Both
    # as `api` commands, which FreeSWITCH runs before it reads the transfer's `bgapi`.
    assert sent[:2] == [
        f"api uuid_setvar_multi {CALLER} "
        "cc_agent_endpoint=user/1001;cc_ring_timeout=13;cc_ring_result=",
        f"api uuid_setvar {CALLER} cc_caller_id Queue <100>",
    ]
    assert sent[2:] == [f"bgapi uuid_transfer {CALLER} cc_connect XML ccplane"]
    assert fake.channels[CALLER].variables["cc_agent_endpoint"] == "user/1001"
    assert fake.channels[CALLER].variables["cc_ring_timeout"] == "13"


async def test_connect_agent_writes_the_transfer_before_the_variables_are_answered(
    fake: FakeFreeSwitch, port: FreeSwitchPort
) -> None:
    fake.add(FakeChannel(CALLER, "sofia/internal/caller@pbx"))
    # FreeSWITCH runs the variables' api command, but its answer (and every reply after it)
    # is still on its way.
    fake.stall_api_matching = ("uuid_setvar_multi",)
    connect = asyncio.create_task(port.connect_agent(CALLER, "user/1001", ring_timeout=10))
    await eventually(lambda: bool(lines(fake, "bgapi uuid_transfer")))
    # A command sent meanwhile queues its reply behind them.
    getvar = asyncio.create_task(port.get_variable(CALLER, "cc_agent_endpoint"))
    await eventually(lambda: bool(lines(fake, "bgapi uuid_getvar")))
    assert not connect.done() and not getvar.done()
    assert fake.channels[CALLER].dest == "cc_connect"
    fake.release()
    await asyncio.wait_for(connect, 5.0)
    # Each reply went to its own command (the transfer's acceptance is not read as the
    # variables' answer, nor the other way round).
    assert await asyncio.wait_for(getvar, 5.0) == "user/1001"
    assert port._mapper.pending_dial(CALLER) == "user/1001"


async def test_connect_agent_on_a_gone_call_raises_no_such_call(
    fake: FakeFreeSwitch, port: FreeSwitchPort
) -> None:
    with pytest.raises(NoSuchCall) as info:
        await port.connect_agent(CALLER, "user/1001", ring_timeout=10)
    assert info.value.call_id == CALLER
    # The transfer left behind the variables and FreeSWITCH refused it too: the channel the
    # variables could not be set on is gone, so there is nothing to transfer. No ring is kept.
    assert channel_lines(fake) == [
        f"api uuid_setvar_multi {CALLER} "
        "cc_agent_endpoint=user/1001;cc_ring_timeout=10;cc_caller_id=;cc_ring_result=",
        f"bgapi uuid_transfer {CALLER} cc_connect XML ccplane",
    ]
    assert port._mapper.pending_dial(CALLER) is None


async def test_connect_agent_fails_when_the_link_drops_before_the_answers(
    fake: FakeFreeSwitch, port: FreeSwitchPort
) -> None:
    fake.add(FakeChannel(CALLER, "sofia/internal/caller@pbx"))
    fake.stall_api_matching = ("uuid_setvar_multi",)
    connect = asyncio.create_task(port.connect_agent(CALLER, "user/1001", ring_timeout=10))
    await eventually(lambda: bool(lines(fake, "bgapi uuid_transfer")))
    fake.drop()
    with pytest.raises(NotConnected):
        await asyncio.wait_for(connect, 5.0)
    # The transfer may have been carried out: its events or the hang-up tell how it ended.
    assert port._mapper.pending_dial(CALLER) == "user/1001"


def test_setvars_keep_values_with_spaces_or_separators_apart() -> None:
    from pbx.freeswitch import commands

    assert commands.setvars(CALLER, {"a": "1"}) == [f"uuid_setvar {CALLER} a 1"]
    assert commands.setvars(CALLER, {"a": "1", "b": "x;y", "c": "p q", "d": ""}) == [
        f"uuid_setvar_multi {CALLER} a=1;d=",
        f"uuid_setvar {CALLER} b x;y",
        f"uuid_setvar {CALLER} c p q",
    ]


async def test_commands_on_a_gone_call_raise_no_such_call(port: FreeSwitchPort) -> None:
    for command in (
        port.hold(CALLER),
        port.hangup(CALLER),
        port.redirect(CALLER, "cc-hold", "s"),
        port.get_variable(CALLER, "X"),
        port.start_recording(CALLER, "/tmp/x.wav"),
    ):
        with pytest.raises(NoSuchCall) as info:
            await command
        assert info.value.call_id == CALLER


async def test_variables_recording_and_hangup_cause(
    fake: FakeFreeSwitch, port: FreeSwitchPort
) -> None:
    fake.add(FakeChannel(CALLER, "sofia/internal/caller@pbx"))
    await port.set_variable(CALLER, "CC_INTERACTION_ID", "i-42")
    assert await port.get_variable(CALLER, "CC_INTERACTION_ID") == "i-42"
    assert await port.get_variable(CALLER, "NEVER_SET") is None
    await port.start_recording(CALLER, "/var/rec/i-42.wav")
    await port.stop_recording(CALLER)
    await port.hangup(CALLER, cause=17)
    assert lines(fake, "bgapi uuid_record") == [
        f"bgapi uuid_record {CALLER} start /var/rec/i-42.wav",
        f"bgapi uuid_record {CALLER} stop all",
    ]
    assert lines(fake, "bgapi uuid_kill") == [f"bgapi uuid_kill {CALLER} USER_BUSY"]


async def test_originate_failure_arrives_as_hangup(
    fake: FakeFreeSwitch, port: FreeSwitchPort
) -> None:
    sub = port.events()
    call_id = await port.originate("user/9999", "ccplane", "cc_hold", caller_id="100")
    (event,) = await collect_until(sub, lambda ev: any(isinstance(e, CallHungUp) for e in ev))
    assert event == CallHungUp(call_id=call_id, cause=HangupCause(3, "No route to destination"))
    (line,) = lines(fake, "bgapi originate")
    assert line == (
        f"bgapi originate {{origination_uuid={call_id},originate_timeout=30,"
        "origination_caller_id_number=100}user/9999 cc_hold XML ccplane"
    )


async def test_spy_originates_the_supervisor_with_eavesdrop_variables(
    fake: FakeFreeSwitch, port: FreeSwitchPort
) -> None:
    fake.add(FakeChannel(AGENT_LEG, "sofia/internal/1001@pbx"), announce=False)
    whisper = await port.spy("user/2001", AGENT_LEG, SpyMode.WHISPER)
    barge = await port.spy("user/2002", AGENT_LEG, SpyMode.BARGE)
    assert lines(fake, "bgapi originate") == [
        f"bgapi originate {{origination_uuid={whisper},originate_timeout=30,"
        f"cc_spy_target={AGENT_LEG},cc_spy_mode=whisper,eavesdrop_whisper_aleg=true,"
        f"eavesdrop_whisper_bleg=false}}user/2001 cc_whisper_{AGENT_LEG} XML ccplane",
        f"bgapi originate {{origination_uuid={barge},originate_timeout=30,"
        f"cc_spy_target={AGENT_LEG},cc_spy_mode=barge,eavesdrop_bridge_aleg=true,"
        f"eavesdrop_bridge_bleg=true}}user/2002 cc_barge_{AGENT_LEG} XML ccplane",
    ]


async def test_whisper_to_a_parked_call_is_refused(
    fake: FakeFreeSwitch, port: FreeSwitchPort
) -> None:
    sub = port.events()
    fake.add(FakeChannel(CALLER, "sofia/internal/caller@pbx"))  # parked in ccplane
    await collect_until(sub, lambda ev: any(isinstance(e, CallArrived) for e in ev))
    # CHANNEL_PARK has no port event of its own: wait until the adapter has read it.
    await eventually(lambda: getattr(port._table.get(CALLER), "application", "") == "park")
    with pytest.raises(PbxError, match="parked"):
        await port.spy("user/2001", CALLER, SpyMode.BARGE)
    assert await port.spy("user/2001", CALLER, SpyMode.LISTEN)


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda p: p.hold("not a uuid"), "call_id"),
        (lambda p: p.hold(CALLER, moh_class="two words"), "moh_class"),
        (lambda p: p.redirect(CALLER, "cc-hold", "s", 2), "priority"),
        (lambda p: p.set_variable(CALLER, "X", "a\nexit"), "X"),
        (lambda p: p.set_variable(CALLER, "bad name", "v"), "variable"),
        (lambda p: p.connect_agent(CALLER, "1001", ring_timeout=10), "endpoint"),
        (lambda p: p.connect_agent(CALLER, "user/1001", ring_timeout=0), "ring_timeout"),
        (lambda p: p.originate("user/1", "c", "e", variables={"A": "x,y"}), "A"),
        (lambda p: p.spy("user/1", CALLER, "listen"), "mode"),
        (lambda p: p.hangup(CALLER, timeout_s=-1), "timeout_s"),
    ],
)
async def test_bad_input_is_refused_before_anything_is_sent(
    fake: FakeFreeSwitch, port: FreeSwitchPort, call, expected: str
) -> None:  # type: ignore[no-untyped-def]
    sent = len(fake.received)
    with pytest.raises(InvalidArgument) as info:
        await call(port)
    assert info.value.field == expected
    assert len(fake.received) == sent


def test_settings_are_checked() -> None:
    with pytest.raises(InvalidArgument, match="port"):
        FreeSwitchSettings(port=70000)
    with pytest.raises(InvalidArgument, match="reconnect_max"):
        FreeSwitchSettings(reconnect_initial=5, reconnect_max=1)
    with pytest.raises(InvalidArgument, match="context"):
        FreeSwitchSettings(hold_context="has space")
    with pytest.raises(InvalidArgument, match="spy_exten"):
        FreeSwitchSettings(spy_exten="cc_{who}")


# Mapping of outcomes the recordings do not contain ---------------------------------------------


def event(name: str, uid: str, **headers: str) -> EslEvent:
    return EslEvent({"Event-Name": name, "Unique-ID": uid, **headers})


def mapper() -> EventMapper:
    return EventMapper(ChannelTable(), inbound_contexts=("ccplane",), tracked_variables=())


def test_agent_not_answering_ends_the_dial_with_noanswer() -> None:
    m = mapper()
    m.connects[CALLER] = "user/1001"
    out = m.map(
        event(
            "CHANNEL_EXECUTE",
            CALLER,
            Application="bridge",
            **{"Application-Data": "{call_timeout=10}user/1001@pbx"},
        )
    )
    assert out == []
    out = m.map(
        event(
            "CHANNEL_ORIGINATE",
            AGENT_LEG,
            **{"Channel-Name": "sofia/internal/1001@pbx", "Other-Leg-Unique-ID": CALLER},
        )
    )
    assert out == [CallRinging(call_id=CALLER, channel="sofia/internal/1001@pbx")]
    out = m.map(
        event(
            "CHANNEL_EXECUTE_COMPLETE",
            CALLER,
            Application="bridge",
            variable_DIALSTATUS="NOANSWER",
            variable_originate_disposition="NO_ANSWER",
        )
    )
    assert out == [DialEnded(call_id=CALLER, endpoint="user/1001", status=DialStatus.NOANSWER)]
    # A second completion (the dialplan's next bridge attempt never started) says nothing.
    assert m.map(event("CHANNEL_EXECUTE_COMPLETE", CALLER, Application="bridge")) == []


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"variable_DIALSTATUS": "BUSY"}, DialStatus.BUSY),
        ({"variable_originate_disposition": "USER_BUSY"}, DialStatus.BUSY),
        ({"variable_originate_disposition": "ORIGINATOR_CANCEL"}, DialStatus.CANCEL),
        ({"variable_originate_disposition": "NORMAL_CIRCUIT_CONGESTION"}, DialStatus.CONGESTION),
        ({"variable_DIALSTATUS": "INVALIDARGS"}, DialStatus.CHANUNAVAIL),
        ({}, DialStatus.CHANUNAVAIL),
    ],
)
def test_dial_statuses(headers: dict[str, str], status: DialStatus) -> None:
    m = mapper()
    m.map(event("CHANNEL_EXECUTE", CALLER, Application="bridge", **{"Application-Data": "user/7"}))
    (ended,) = m.map(event("CHANNEL_EXECUTE_COMPLETE", CALLER, Application="bridge", **headers))
    assert ended == DialEnded(call_id=CALLER, endpoint="user/7", status=status)


def test_spy_start_and_stop() -> None:
    m = mapper()
    spy = "33333333-0000-4000-8000-000000000003"
    m.spy_modes[spy] = SpyMode.BARGE
    assert m.map(
        event("CHANNEL_EXECUTE", spy, Application="eavesdrop", **{"Application-Data": AGENT_LEG})
    ) == [SpyStarted(spy_call_id=spy, target_call_id=AGENT_LEG, mode=SpyMode.BARGE)]
    assert m.map(event("CHANNEL_HANGUP_COMPLETE", spy, **{"Hangup-Cause": "NORMAL_CLEARING"})) == [
        SpyStopped(spy_call_id=spy, target_call_id=AGENT_LEG),
        CallHungUp(call_id=spy, cause=HangupCause(16, "Normal Clearing")),
    ]


def test_malformed_events_are_skipped_not_fatal() -> None:
    m = mapper()
    assert m.map(EslEvent({"Event-Name": "CHANNEL_HANGUP_COMPLETE"})) == []
    assert m.map(EslEvent({"Event-Name": "DTMF", "Unique-ID": CALLER})) == []
    assert m.map(EslEvent({"Event-Name": "CUSTOM", "Event-Subclass": "sofia::register"})) == []
