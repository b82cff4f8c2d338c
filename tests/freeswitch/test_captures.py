"""Every recorded FreeSWITCH 1.10.12 event-socket session, replayed over TCP through the adapter.

Each test drives the adapter with the commands the recording's client sent (as port commands
where the port has one, else through ``api``), and checks the commands on the wire, the answers
and the port events against what the recorded bytes mean. Every event frame of each recording
must reach the adapter's parser and parse (``events_received``, ``malformed_events``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from pbx.freeswitch import AuthenticationFailed, FreeSwitchPort
from pbx.port import (
    CallAnswered,
    CallArrived,
    CallBridged,
    CallHungUp,
    CallRinging,
    CallState,
    CallUnbridged,
    DialEnded,
    DialStatus,
    DtmfReceived,
    EndpointRegistered,
    EndpointUnregistered,
    HangupCause,
    LiveCall,
    NoSuchCall,
    PbxEvent,
    Resynced,
)

from .conftest import drain, eventually, settings_for
from .replay import EslReplay, start_replay

NORMAL = HangupCause(16, "Normal Clearing")
# The recorded dialplan runs every test extension in "default".
INBOUND = ("default",)

Script = Callable[[FreeSwitchPort], Awaitable[None]]


async def replay_flow(
    replay: EslReplay, script: Script, **overrides: object
) -> tuple[FreeSwitchPort, list[PbxEvent]]:
    """Run ``script`` against the replay, close, and return the adapter and its events."""
    server, port = await start_replay(replay)
    adapter = FreeSwitchPort(settings_for(port, inbound_contexts=INBOUND, **overrides))
    sub = adapter.events()
    try:
        await adapter.start()
        await script(adapter)
        # The recording's last events follow its last reply; let them all arrive.
        wanted = _events_before_exit(replay)
        await eventually(lambda: adapter._link.events_received >= wanted + replay.synthesized_jobs)
    finally:
        await adapter.close()
        server.close()
    await asyncio.wait_for(replay.finished.wait(), 2)
    assert adapter._link.malformed_events == 0
    assert adapter._link.events_received == replay.event_frames + replay.synthesized_jobs
    return adapter, drain(sub)


def _events_before_exit(replay: EslReplay) -> int:
    count = 0
    for index, frame in enumerate(replay.frames):
        tie = replay._tie.get(index)
        if tie is not None and tie[0] == "exit":
            break
        count += frame.is_event
    return count


def hung_up(events: list[PbxEvent]) -> list[str]:
    return [e.call_id for e in events if isinstance(e, CallHungUp)]


async def test_00_bad_password_is_refused() -> None:
    replay = EslReplay.of("00_bad-auth")
    server, port = await start_replay(replay)
    adapter = FreeSwitchPort(settings_for(port, password="WrongPassword"))
    with pytest.raises(AuthenticationFailed, match="-ERR invalid"):
        await adapter.start()
    server.close()
    assert replay.received == ["auth WrongPassword"]
    assert not adapter.connected


async def test_01_auth_subscribe_and_api_answers() -> None:
    answers: dict[str, str] = {}

    async def script(adapter: FreeSwitchPort) -> None:
        for command in (
            "status",
            "version",
            "sofia status",
            "show channels",
            "show calls as json",
            "no_such_command",
            "global_getvar domain",
        ):
            answers[command] = await adapter.api(command)

    replay = EslReplay.of("01_auth-event-plain-ALL-api-status", skip={"api:show channels": 1})
    _, events = await replay_flow(replay, script)
    assert events == [Resynced(calls=())]
    assert answers["status"].startswith("UP 0 years, 0 days, 0 hours, 0 minutes, 4 seconds")
    assert answers["version"] == "FreeSWITCH Version 1.10.12-release~64bit ( 64bit)\n"
    assert "internal\tprofile" in answers["sofia status"]
    assert answers["show channels"] == "\n0 total.\n"
    assert answers["show calls as json"] == '{"row_count": 0}\n'
    assert answers["no_such_command"] == "-ERR no_such_command Command not found!\n"
    assert answers["global_getvar domain"] == "127.0.0.1"
    assert replay.received[0] == "auth ClueCon"
    subscribe = replay.received[1].split()
    assert subscribe[:2] == ["event", "plain"]
    assert {"CHANNEL_HANGUP_COMPLETE", "BACKGROUND_JOB", "sofia::register"} <= set(subscribe)
    # Every API command went as a background job with our own Job-UUID.
    assert all(c.startswith("bgapi ") and "\nJob-UUID: " in c for c in replay.received[2:-1])
    assert replay.received[-1] == "exit"


async def test_01b_json_events_are_parsed_too() -> None:
    call = "5f7aff46-5cb3-4683-876c-1ce40341a3fd"

    async def script(adapter: FreeSwitchPort) -> None:
        await adapter.originate("loopback/9999/default", "default", "park")
        await adapter.hangup(call)

    replay = EslReplay.of("01b_event-json-filter-originate", omit=frozenset({"filter"}))
    _, events = await replay_flow(replay, script)
    # The recorded A-leg is outbound: it answers and ends, it never "arrives".
    assert events == [
        Resynced(calls=()),
        CallAnswered(call_id=call, channel="loopback/9999-a"),
        CallHungUp(call_id=call, cause=NORMAL),
    ]


async def test_02_originate_setvar_getvar_lagging_show_channels_kill() -> None:
    a_leg = "329eebbc-d7fe-4159-aff2-7905a64069ee"
    b_leg = "c6fe8925-0e16-413d-8a1b-9fb2684c1ae4"
    seen: dict[str, object] = {}

    async def script(adapter: FreeSwitchPort) -> None:
        seen["id"] = await adapter.originate(
            "loopback/9999/default",
            "default",
            "park",
            caller_id='"Flow2" <5551234>',
            variables={"CC_INTERACTION_ID": "i-1"},
            ring_timeout=15,
        )
        seen["exists"] = await adapter.api(f"uuid_exists {a_leg}")
        await adapter.set_variable(a_leg, "cc_test_var", "hello")
        seen["var"] = await adapter.get_variable(a_leg, "cc_test_var")
        seen["calls"] = await adapter.list_live_calls()
        seen["dump"] = await adapter.api(f"uuid_dump {a_leg}")
        seen["broadcast"] = await adapter.api(
            f"uuid_broadcast {a_leg} tone_stream://%(300,200,440);loops=3 aleg"
        )
        await adapter.hangup(a_leg)

    replay = EslReplay.of("02_originate-park-uuid_broadcast-hangup", skip={"api:show channels": 1})
    _, events = await replay_flow(replay, script)
    (originate,) = replay.commands("api:originate")
    assert originate.startswith(
        f"bgapi originate {{origination_uuid={seen['id']},originate_timeout=15,"
        "origination_caller_id_number=5551234,origination_caller_id_name=Flow2,"
        "CC_INTERACTION_ID=i-1}loopback/9999/default park XML default\nJob-UUID: "
    )
    assert seen["exists"] == "true"
    assert seen["var"] == "hello"
    (setvar,) = replay.commands("api:uuid_setvar")
    assert setvar.startswith(f"bgapi uuid_setvar {a_leg} cc_test_var hello\n")
    # `show channels` still listed the previous flow's call (gone: uuid_getvar says so) and
    # not yet the parked one; the adapter reports what its events and probes confirm.
    assert seen["calls"] == [
        LiveCall(
            call_id=a_leg,
            channel="loopback/9999-a",
            state=CallState.UP,
            caller_num="default",
            caller_name="Outbound Call",
            called_num="9999",
            context="default",
            exten="9999",
            application="park",
        ),
        LiveCall(
            call_id=b_leg,
            channel="loopback/9999-b",
            state=CallState.UP,
            caller_num="5551234",
            caller_name="Flow2",
            called_num="9999",
            context="default",
            exten="9999",
            application="park",
        ),
    ]
    assert str(seen["dump"]).startswith("Event-Name: CHANNEL_DATA\n")
    assert seen["broadcast"] == "+OK Message sent\n"
    (kill,) = replay.commands("api:uuid_kill")
    assert kill.startswith(f"bgapi uuid_kill {a_leg} NORMAL_CLEARING\n")
    assert events == [
        Resynced(calls=()),
        CallArrived(
            call_id=b_leg,
            channel="loopback/9999-b",
            caller_num="5551234",
            caller_name="Flow2",
            called_num="9999",
        ),
        CallAnswered(call_id=a_leg, channel="loopback/9999-a"),
        CallAnswered(call_id=b_leg, channel="loopback/9999-b"),
        CallHungUp(call_id=a_leg, cause=NORMAL),
        CallHungUp(call_id=b_leg, cause=NORMAL),
    ]


async def test_03_dtmf_events() -> None:
    a_leg = "bbe1a56f-cbbf-4bd0-9fe8-7646e8e4d8c1"
    b_leg = "69713192-6c73-455c-85d0-dc4031649c56"

    async def script(adapter: FreeSwitchPort) -> None:
        await adapter.originate("loopback/9999/default", "default", "park")
        assert (await adapter.api(f"uuid_recv_dtmf {a_leg} 12#")).startswith("+OK")
        assert (await adapter.api(f"uuid_send_dtmf {a_leg} 345@400")).startswith("+OK")
        await adapter.hangup(a_leg)

    replay = EslReplay.of("03_dtmf", omit=frozenset({"sendmsg"}))
    _, events = await replay_flow(replay, script)
    digits = [(e.call_id, e.digit, e.duration_ms) for e in events if isinstance(e, DtmfReceived)]
    # Durations are 8 kHz samples on the wire: 2000 -> 250 ms, 3200 (345@400) -> 400 ms.
    assert digits == [
        (a_leg, "1", 250),
        (a_leg, "2", 250),
        (a_leg, "#", 250),
        (b_leg, "3", 400),
        (b_leg, "4", 400),
        (b_leg, "5", 400),
        (b_leg, "9", 250),
    ]
    assert hung_up(events) == [a_leg, b_leg]


async def test_04_uuid_transfer() -> None:
    a_leg = "521b2ddb-7fe1-4908-8b34-eddbf934e924"
    b_leg = "07982bb9-5af8-4f7d-8ef4-516136778bf7"

    async def script(adapter: FreeSwitchPort) -> None:
        await adapter.originate("loopback/9999/default", "default", "park")
        await adapter.redirect(a_leg, "default", "7000")
        await adapter.redirect(a_leg, "default", "park")
        await adapter.hangup(a_leg)

    replay = EslReplay.of("04_uuid_transfer")
    _, events = await replay_flow(replay, script)
    assert [c.split("\n")[0] for c in replay.commands("api:uuid_transfer")] == [
        f"bgapi uuid_transfer {a_leg} 7000 XML default",
        f"bgapi uuid_transfer {a_leg} park XML default",
    ]
    assert [type(e) for e in events] == [
        Resynced,
        CallArrived,
        CallAnswered,
        CallAnswered,
        CallHungUp,
        CallHungUp,
    ]
    assert hung_up(events) == [a_leg, b_leg]


async def test_05_uuid_bridge_then_one_side_hangs_up() -> None:
    a1, a2 = "e83add74-86f5-4aa2-a550-69ac6654ec6c", "6d71278b-715d-4977-92a4-4eac3dde768f"
    b1, b2 = "8eff30b9-ba3a-40d9-b38d-60622e6be6f2", "7bbf7c2e-f142-488f-ad39-de7188d48029"
    gone: list[str] = []

    async def script(adapter: FreeSwitchPort) -> None:
        await adapter.originate("loopback/9999/default", "default", "park", caller_id="1111")
        await adapter.originate("loopback/9999/default", "default", "park", caller_id="2222")
        assert (await adapter.api(f"uuid_bridge {a1} {a2}")) == f"+OK {a2}\n"
        assert (await adapter.api("show bridged_calls")).startswith("uuid,direction,")
        await adapter.hangup(a1)
        assert (await adapter.api("show channels")).startswith("uuid,direction,")
        for call in (a2, b1, b2):
            with pytest.raises(NoSuchCall) as info:
                await adapter.hangup(call)
            gone.append(info.value.call_id)

    replay = EslReplay.of(
        "05_uuid_bridge-then-hangup-one-side",
        skip={"api:show channels": 1, "api:show bridged_calls": 1},
    )
    _, events = await replay_flow(replay, script)
    assert gone == [a2, b1, b2]
    assert events[7:] == [
        CallBridged(call_id=a1, other_call_id=a2),
        CallBridged(call_id=a2, other_call_id=a1),
        CallHungUp(call_id=b1, cause=NORMAL),
        CallHungUp(call_id=a2, cause=NORMAL),
        CallHungUp(call_id=b2, cause=NORMAL),
        # FreeSWITCH sends CHANNEL_UNBRIDGE after a2's end: only a1 is left to unbridge.
        CallUnbridged(call_id=a1, other_call_id=a2),
        CallHungUp(call_id=a1, cause=NORMAL),
    ]
    assert [e.call_id for e in events if isinstance(e, CallArrived)] == [b1, b2]


async def test_06_controller_view_of_the_outbound_socket_call() -> None:
    a_leg = "c637bc59-096a-4767-9c0b-e3c897be242b"
    b_leg = "05c6a93b-1edd-4d9b-a800-aab360b3710c"

    async def script(adapter: FreeSwitchPort) -> None:
        await adapter.originate("loopback/5000/default", "default", "park", caller_id="5550006")
        assert (await adapter.api(f"uuid_send_dtmf {a_leg} 4711#")).startswith("+OK")

    replay = EslReplay.of("06_outbound-socket_controller-inbound")
    _, events = await replay_flow(replay, script)
    assert [e.digit for e in events if isinstance(e, DtmfReceived) and e.call_id == b_leg] == list(
        "4711#"
    )
    assert [e.call_id for e in events if isinstance(e, CallArrived)] == [b_leg]
    assert hung_up(events) == [b_leg, a_leg]


async def test_09_real_sip_call_parked_then_bye() -> None:
    call = "ec8c1e9a-31d3-4d56-8675-147575a2f8e3"

    async def script(adapter: FreeSwitchPort) -> None:
        return None

    replay = EslReplay.of("09_sipp-uac-call-into-6000")
    _, events = await replay_flow(replay, script)
    channel = "sofia/internal/sipp@127.0.0.1:5098"
    calls = [e for e in events if not isinstance(e, Resynced)]
    assert calls == [
        CallArrived(
            call_id=call, channel=channel, caller_num="sipp", caller_name="sipp", called_num="6000"
        ),
        CallAnswered(call_id=call, channel=channel),
        CallHungUp(call_id=call, cause=NORMAL),
    ]
    # The call ended while the first resync was in flight: it is not reported alive.
    (resynced,) = [e for e in events if isinstance(e, Resynced)]
    assert resynced.calls == ()


async def test_10_registration_and_bridge_to_a_registered_user() -> None:
    caller = "553cd5ec-8e02-4abb-826d-fa3e8fcc550f"
    agent = "7127d507-ae0c-4e04-bbdc-f130056ebb19"

    async def script(adapter: FreeSwitchPort) -> None:
        contact = await adapter.api("sofia_contact 1001@127.0.0.1")
        assert contact == "sofia/internal/sip:1001@127.0.0.1:5097"
        assert await adapter.api("show registrations") == "\n0 total.\n"

    replay = EslReplay.of("10_sipp-register-1001-and-bridge-user-1001")
    _, events = await replay_flow(replay, script)
    calls = [e for e in events if not isinstance(e, Resynced)]
    assert calls == [
        EndpointRegistered(endpoint="user/1001", contact="sip:1001@127.0.0.1:5097"),
        CallArrived(
            call_id=caller,
            channel="sofia/internal/sipp@127.0.0.1:5095",
            caller_num="sipp",
            caller_name="sipp",
            called_num="8001",
        ),
        CallRinging(call_id=caller, channel="sofia/internal/1001@127.0.0.1:5097"),
        CallAnswered(call_id=agent, channel="sofia/internal/1001@127.0.0.1:5097"),
        CallAnswered(call_id=caller, channel="sofia/internal/sipp@127.0.0.1:5095"),
        DialEnded(call_id=caller, endpoint="user/1001@127.0.0.1", status=DialStatus.ANSWER),
        CallBridged(call_id=caller, other_call_id=agent),
        CallBridged(call_id=agent, other_call_id=caller),
        CallHungUp(call_id=agent, cause=NORMAL),
        CallUnbridged(call_id=caller, other_call_id=agent),
        CallHungUp(call_id=caller, cause=NORMAL),
        EndpointUnregistered(endpoint="user/1001"),
    ]
