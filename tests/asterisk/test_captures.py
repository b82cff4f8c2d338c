"""Every recorded Asterisk 22.10.1 AMI session, replayed over TCP through the adapter."""

from __future__ import annotations

import asyncio

import pytest

from pbx.asterisk import AsteriskPort
from pbx.asterisk.ami import AuthenticationFailed
from pbx.port import (
    CallAnswered,
    CallArrived,
    CallBridged,
    CallHungUp,
    CallRinging,
    CallState,
    CallUnbridged,
    CommandTimeout,
    DialEnded,
    DialStatus,
    HangupCause,
    LiveCall,
    NoSuchCall,
    PbxError,
    PbxEvent,
    Resynced,
)

from .conftest import collect_until, drain, settings_for
from .replay import Replay, start_replay

NORMAL = HangupCause(16, "Normal Clearing")
# The recorded dialplan sends PSTN calls to from-pstn (the shipped one uses cc-inbound).
INBOUND = ("from-pstn",)


def hung_up(*ids: str):
    def done(events: list[PbxEvent]) -> bool:
        ended = {e.call_id for e in events if isinstance(e, CallHungUp)}
        return set(ids) <= ended

    return done


async def open_port(replay: Replay, **overrides: object) -> tuple[asyncio.Server, AsteriskPort]:
    server, port = await start_replay(replay)
    adapter = AsteriskPort(settings_for(port, inbound_contexts=INBOUND, **overrides))
    return server, adapter


async def finish(server: asyncio.Server, adapter: AsteriskPort, replay: Replay) -> None:
    await adapter.close()
    await asyncio.wait_for(replay.finished.wait(), 2)
    server.close()


async def test_01_login_ping_coreshowchannels() -> None:
    replay = Replay.of("01_login_ping_coreshowchannels", skip={"coreshowchannels": 1})
    server, adapter = await open_port(replay)
    sub = adapter.events()
    await adapter.start()
    assert adapter.connected
    rtt = await adapter.ping()
    assert rtt >= 0
    assert await adapter.list_live_calls() == []
    await finish(server, adapter, replay)
    assert [type(e) for e in drain(sub)] == [Resynced]
    assert [a.name for a in replay.received] == [
        "login",
        "coreshowchannels",
        "ping",
        "coreshowchannels",
        "logoff",
    ]
    login = replay.received[0]
    assert (login.get("Username"), login.get("Secret")) == ("acd", "acdsecret")


async def test_02_originate_local_then_ami_hangup() -> None:
    replay = Replay.of("02_originate_local_wait_then_ami_hangup", skip={"coreshowchannels": 1})
    server, adapter = await open_port(replay)
    sub = adapter.events()
    await adapter.start()
    call_id = await adapter.originate(
        "Local/hold@local-test",
        "local-test",
        "hold",
        caller_id='"ACD Test" <5550001>',
        variables={"ACD_CALL_ID": "flow2"},
        ring_timeout=15,
    )
    (originate,) = replay.actions("Originate")
    assert originate.get("ChannelId") == call_id
    assert originate.get("Channel") == "Local/hold@local-test"
    assert (originate.get("Context"), originate.get("Exten"), originate.get("Priority")) == (
        "local-test",
        "hold",
        "1",
    )
    assert originate.get("Timeout") == "15000"
    assert originate.get("Async") == "true"
    assert originate.all("Variable") == ["ACD_CALL_ID=flow2"]

    calls = await adapter.list_live_calls()
    assert [c.call_id for c in calls] == ["flow2-chan-1", "flow2-chan-2"]
    assert calls[0] == LiveCall(
        call_id="flow2-chan-1",
        channel="Local/hold@local-test-00000000;1",
        state=CallState.UP,
        caller_num="5550001",
        caller_name="ACD Test",
        called_num="hold",
        context="local-test",
        exten="hold",
        application="Wait",
        bridged_with=None,
        duration_s=1.0,
        variables={},
    )
    # The adapter read the tracked variables back from each listed channel.
    assert {(a.get("Channel"), a.get("Variable")) for a in replay.actions("Getvar")} == {
        (ch, var)
        for ch in ("Local/hold@local-test-00000000;1", "Local/hold@local-test-00000000;2")
        for var in ("CC_INTERACTION_ID", "CC_DNIS")
    }

    await adapter.hangup("flow2-chan-1")
    (hangup,) = replay.actions("Hangup")
    assert (hangup.get("Channel"), hangup.get("Cause")) == (
        "Local/hold@local-test-00000000;1",
        "16",
    )
    events = await collect_until(sub, hung_up("flow2-chan-1", "flow2-chan-2"))
    await finish(server, adapter, replay)
    assert events == [
        Resynced(calls=()),
        CallRinging(call_id="flow2-chan-1", channel="Local/hold@local-test-00000000;1"),
        CallAnswered(call_id="flow2-chan-2", channel="Local/hold@local-test-00000000;2"),
        CallAnswered(call_id="flow2-chan-1", channel="Local/hold@local-test-00000000;1"),
        DialEnded(
            call_id="flow2-chan-1", endpoint="Local/hold@local-test", status=DialStatus.ANSWER
        ),
        CallHungUp(call_id="flow2-chan-2", cause=NORMAL),
        CallHungUp(call_id="flow2-chan-1", cause=NORMAL),
    ]


async def test_03_queue_call_local_member_answers() -> None:
    replay = Replay.of("03_queue_call_local_member_answers", skip={"coreshowchannels": 1})
    server, adapter = await open_port(replay)
    sub = adapter.events()
    await adapter.start()
    status = await adapter.send_action({"Action": "QueueStatus", "Queue": "support"}, as_list=True)
    assert [m.get("Event") for m in status[1:]] == [
        "QueueParams",
        "QueueMember",
        "QueueStatusComplete",
    ]
    call_id = await adapter.originate(
        "Local/5551000@sim-caller/n",
        "queues",
        "support",
        caller_id='"PSTN Caller" <5551000>',
        variables={"ACD_CALL_ID": "flow3"},
        ring_timeout=15,
    )
    assert replay.actions("Originate")[0].get("ChannelId") == call_id
    caller, caller2, agent, agent2 = (
        "1795286177.4",
        "1795286177.5",
        "1795286177.6",
        "1795286177.7",
    )
    events = await collect_until(sub, hung_up(caller, caller2, agent, agent2))
    summary = await adapter.send_action(
        {"Action": "QueueSummary", "Queue": "support"}, as_list=True
    )
    assert summary[-1].get("Event") == "QueueSummaryComplete"
    await finish(server, adapter, replay)
    caller_ch = "Local/5551000@sim-caller-00000002;1"
    agent_ch = "Local/sim1@local-agents-00000003;1"
    bridge = "5ac606a7-930f-4ddb-b430-9db6fc33e64d"
    assert events == [
        Resynced(calls=()),
        # The Originate dials the caller's Local channel itself (no calling party).
        CallRinging(call_id=caller, channel=caller_ch),
        CallAnswered(call_id=caller2, channel="Local/5551000@sim-caller-00000002;2"),
        CallAnswered(call_id=caller, channel=caller_ch),
        DialEnded(call_id=caller, endpoint="Local/5551000@sim-caller/n", status=DialStatus.ANSWER),
        # app_queue rings the member for the caller.
        CallRinging(call_id=caller, channel=agent_ch),
        CallAnswered(call_id=agent2, channel="Local/sim1@local-agents-00000003;2"),
        CallAnswered(call_id=agent, channel=agent_ch),
        DialEnded(call_id=caller, endpoint="Local/sim1@local-agents/n", status=DialStatus.ANSWER),
        CallBridged(call_id=caller, other_call_id=agent, bridge_id=bridge),
        CallBridged(call_id=agent, other_call_id=caller, bridge_id=bridge),
        CallHungUp(call_id=agent2, cause=NORMAL),
        CallUnbridged(call_id=agent, other_call_id=caller, bridge_id=bridge),
        CallHungUp(call_id=agent, cause=NORMAL),
        CallUnbridged(call_id=caller, other_call_id="", bridge_id=bridge),
        CallHungUp(call_id=caller, cause=NORMAL),
        CallHungUp(call_id=caller2, cause=NORMAL),
    ]


async def test_04_redirect_held_channel() -> None:
    replay = Replay.of("04_redirect_held_channel", skip={"coreshowchannels": 1})
    server, adapter = await open_port(replay)
    sub = adapter.events()
    await adapter.start()
    await adapter.originate(
        "Local/5551234@sim-caller/n",
        "from-pstn",
        "200",
        caller_id='"PSTN Caller" <5551234>',
        ring_timeout=15,
    )
    arrived = await collect_until(sub, lambda ev: any(isinstance(e, CallArrived) for e in ev))
    call = arrived[-1]
    channel = "Local/5551234@sim-caller-00000004;1"
    assert call == CallArrived(
        call_id="1795286184.8",
        channel=channel,
        caller_num="5551234",
        caller_name="PSTN Caller",
        called_num="200",
        variables={},
    )
    assert await adapter.get_variable(call.call_id, "ACD_HELD") == "1"
    await adapter.set_variable(call.call_id, "ACD_AGENT", "agent1001")
    await adapter.redirect(call.call_id, "local-test", "redirected")
    for name in ("Getvar", "Setvar", "Redirect"):
        assert replay.actions(name)[-1].get("Channel") == channel
    assert replay.actions("Setvar")[0].get("Value") == "agent1001"
    redirect = replay.actions("Redirect")[0]
    assert (redirect.get("Context"), redirect.get("Exten"), redirect.get("Priority")) == (
        "local-test",
        "redirected",
        "1",
    )
    rest = await collect_until(sub, hung_up("1795286184.8", "1795286184.9"))
    await finish(server, adapter, replay)
    assert arrived[:5] == [
        Resynced(calls=()),
        CallRinging(call_id="1795286184.8", channel=channel),
        CallAnswered(call_id="1795286184.9", channel="Local/5551234@sim-caller-00000004;2"),
        CallAnswered(call_id="1795286184.8", channel=channel),
        DialEnded(
            call_id="1795286184.8", endpoint="Local/5551234@sim-caller/n", status=DialStatus.ANSWER
        ),
    ]
    assert rest == [
        CallHungUp(call_id="1795286184.8", cause=NORMAL),
        CallHungUp(call_id="1795286184.9", cause=NORMAL),
    ]


async def test_06_sipp_inbound_fastagi_hold_redirect_queue() -> None:
    replay = Replay.of("06_sipp_inbound_fastagi_hold_redirect_queue", skip={"coreshowchannels": 1})
    server, adapter = await open_port(replay)
    sub = adapter.events()
    await adapter.start()
    caller = "1795286202.16"
    arrived = await collect_until(sub, lambda ev: {type(e) for e in ev} >= {CallArrived, Resynced})
    # The call rang in while the adapter was reading the channel list: it arrives through its
    # events, and the Resynced that follows includes it.
    assert arrived[0] == CallArrived(
        call_id=caller,
        channel="PJSIP/caller-00000000",
        caller_num="caller",
        caller_name="Caller",
        called_num="100",
        variables={},
    )
    assert isinstance(arrived[-1], Resynced)
    assert [c.call_id for c in arrived[-1].calls] == [caller]
    assert [type(e) for e in arrived[1:-1]] == [CallAnswered]
    assert await adapter.get_variable(caller, "ACD_ROUTE") == "support"
    await adapter.redirect(caller, "queues", "support")
    assert replay.actions("Redirect")[0].get("Channel") == "PJSIP/caller-00000000"
    agent, agent2 = "1795286205.17", "1795286205.18"
    events = await collect_until(sub, hung_up(caller, agent, agent2))
    await finish(server, adapter, replay)
    agent_ch = "Local/sim1@local-agents-00000008;1"
    bridge = "fa87e788-128a-4d47-b3c1-bdb64d7fa706"
    assert events == [
        CallRinging(call_id=caller, channel=agent_ch),
        CallAnswered(call_id=agent2, channel="Local/sim1@local-agents-00000008;2"),
        CallAnswered(call_id=agent, channel=agent_ch),
        DialEnded(call_id=caller, endpoint="Local/sim1@local-agents/n", status=DialStatus.ANSWER),
        CallBridged(call_id=caller, other_call_id=agent, bridge_id=bridge),
        CallBridged(call_id=agent, other_call_id=caller, bridge_id=bridge),
        CallHungUp(call_id=agent2, cause=NORMAL),
        CallUnbridged(call_id=agent, other_call_id=caller, bridge_id=bridge),
        CallHungUp(call_id=agent, cause=NORMAL),
        CallUnbridged(call_id=caller, other_call_id="", bridge_id=bridge),
        CallHungUp(call_id=caller, cause=NORMAL),
    ]


# Error answers ----------------------------------------------------------------------------


async def test_e1_bad_secret_is_refused_at_start() -> None:
    replay = Replay.of("e1_bad_secret")
    server, adapter = await open_port(replay, secret="wrong")
    with pytest.raises(AuthenticationFailed, match="Authentication failed"):
        await adapter.start()
    assert not adapter.connected
    assert replay.received[0].get("Secret") == "wrong"
    server.close()


async def test_e2_unknown_action_is_a_pbx_error() -> None:
    replay = Replay.of("e2_unknown_action", skip={"coreshowchannels": 1})
    server, adapter = await open_port(replay, events="off")
    await adapter.start()
    with pytest.raises(PbxError, match=r"Invalid/unknown command: NoSuchThing\."):
        await adapter.send_action({"Action": "NoSuchThing"})
    assert adapter.connected
    await finish(server, adapter, replay)


async def test_e3_stray_error_with_unknown_actionid_is_logged_not_fatal() -> None:
    # The recorded client sent an action without Action; ours never does, so the answer
    # (ActionID m1) reaches the adapter matching nothing.
    replay = Replay.of("e3_missing_action_header", skip={"coreshowchannels": 1})
    server, adapter = await open_port(replay, events="off")
    await adapter.start()
    await asyncio.wait_for(replay.finished.wait(), 2)
    assert await adapter.ping() >= 0  # the session survives
    (stray,) = adapter.unmatched_answers
    assert (stray.get("ActionID"), stray.get("Message")) == ("m1", "Missing action in request")
    await finish(server, adapter, replay)


async def test_e4_error_without_actionid_then_ping_answered() -> None:
    replay = Replay.of("e4_garbage_line", skip={"coreshowchannels": 1})
    server, adapter = await open_port(replay, events="off")
    await adapter.start()
    assert await adapter.ping() >= 0
    await asyncio.wait_for(replay.finished.wait(), 2)
    assert [m.get("Message") for m in adapter.unmatched_answers] == ["Missing action in request"]
    assert replay.actions("Ping")[0].get("ActionID") is not None
    await finish(server, adapter, replay)


async def test_e5_actions_before_login_are_permission_denied() -> None:
    replay = Replay.of("e5_action_before_login", skip={"coreshowchannels": 1})
    server, adapter = await open_port(replay, events="off")
    await adapter.start()
    with pytest.raises(PbxError, match="Permission denied"):
        await adapter.ping()
    with pytest.raises(PbxError, match="Permission denied"):
        await adapter.send_action({"Action": "CoreShowChannels"}, as_list=True)
    await finish(server, adapter, replay)


async def test_e6_missing_params_and_vanished_channels() -> None:
    replay = Replay.of("e6_originate_missing_params", skip={"coreshowchannels": 1})
    server, adapter = await open_port(replay, events="off")
    await adapter.start()
    with pytest.raises(PbxError, match="Channel not specified") as err:
        await adapter.send_action({"Action": "Originate"})
    assert not isinstance(err.value, NoSuchCall)
    # Unknown call ids are passed as the channel (Asterisk also resolves Uniqueids).
    gone = "PJSIP/nosuch-00000001"
    with pytest.raises(NoSuchCall, match="Channel does not exist: PJSIP/nosuch-00000001") as e1:
        await adapter.redirect(gone, "hold", "s")
    with pytest.raises(NoSuchCall, match="No such channel") as e2:
        await adapter.hangup(gone)
    with pytest.raises(NoSuchCall, match="No such channel") as e3:
        await adapter.get_variable(gone, "X")
    assert e1.value.call_id == e2.value.call_id == e3.value.call_id == gone
    assert [a.get("Channel") for a in replay.received[3:]] == [gone, gone, gone]
    await finish(server, adapter, replay)


async def test_e7_line_too_long_times_out_then_session_survives() -> None:
    replay = Replay.of("e7_long_header", skip={"coreshowchannels": 1})
    server, adapter = await open_port(replay, events="off")
    await adapter.start()
    # Asterisk answers a 70 kB line without its ActionID: nothing can correlate the answer.
    with pytest.raises(CommandTimeout):
        await adapter.send_action({"Action": "Ping", "ActionID": "x" * 70000}, timeout_s=0.3)
    assert await adapter.ping() >= 0
    assert [m.get("Message") for m in adapter.unmatched_answers] == [
        "Failed to parse message: line too long"
    ]
    await finish(server, adapter, replay)


async def test_e8_pings_answered() -> None:
    replay = Replay.of("e8_bare_lf", skip={"coreshowchannels": 1})
    server, adapter = await open_port(replay, events="off")
    await adapter.start()
    assert await adapter.ping() >= 0
    assert await adapter.ping() >= 0
    await finish(server, adapter, replay)
    assert replay.actions("Login")[0].get("Events") == "off"
