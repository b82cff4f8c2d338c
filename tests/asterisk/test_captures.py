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
    assert (hangup.get("Channel"), hangup.get("Cause")) == ("Local/hold@local-test-00000000;1", "16")
    events = await collect_until(sub, hung_up("flow2-chan-1", "flow2-chan-2"))
    await finish(server, adapter, replay)
    assert events == [
        Resynced(calls=()),
        CallRinging(call_id="flow2-chan-1", channel="Local/hold@local-test-00000000;1"),
        CallAnswered(call_id="flow2-chan-2", channel="Local/hold@local-test-00000000;2"),
        CallAnswered(call_id="flow2-chan-1", channel="Local/hold@local-test-00000000;1"),
        DialEnded(call_id="flow2-chan-1", endpoint="Local/hold@local-test", status=DialStatus.ANSWER),
        CallHungUp(call_id="flow2-chan-2", cause=NORMAL),
        CallHungUp(call_id="flow2-chan-1", cause=NORMAL),
    ]
