"""The outbound-socket IVR server, driven by FreeSWITCH's side of recorded flow 06, and the
IVR interpreter's media session contract over it."""

from __future__ import annotations

import asyncio

import pytest

from pbx.freeswitch.outbound import OutboundServer, OutboundSession, file_string, prompt_path
from pbx.port import (
    CallerHungUp,
    CollectEnd,
    CollectResult,
    CollectSpec,
    HangupCause,
    InvalidArgument,
    MediaSession,
)

from .outbound_replay import OutboundReplay

CALL = "05c6a93b-1edd-4d9b-a800-aab360b3710c"


async def serve(handler, replay: OutboundReplay) -> OutboundServer:  # type: ignore[no-untyped-def]
    server = OutboundServer("127.0.0.1", 0, handler, command_timeout=2.0)
    await server.start()
    try:
        await asyncio.wait_for(replay.run(server.port), 10)
        await asyncio.wait_for(replay.finished.wait(), 2)
    finally:
        await server.close()
    return server


async def test_06_recorded_outbound_session() -> None:
    seen: dict[str, object] = {}

    async def ivr(session: OutboundSession) -> None:
        assert isinstance(session, MediaSession)
        seen["identity"] = (session.call_id, session.caller_num, session.called_num)
        seen["dest"] = await session.get_variable("destination_number")
        seen["played"] = await session.play(["tone_stream://%(300,100,440);loops=2"])
        seen["collected"] = await session.play_and_collect(
            ["tone_stream://%(200,0,800)"], CollectSpec(min_digits=1, max_digits=4, timeout=8)
        )
        seen["digits_var"] = await session.get_variable("pagd_digits")
        await session.hangup()
        with pytest.raises(CallerHungUp):
            await session.play(["tone_stream://%(100,0,440)"])
        seen["cause"] = session.hangup_cause

    replay = OutboundReplay.of("06_outbound-socket_stub", omit=frozenset({"api:uuid_getvar"}))
    server = await serve(ivr, replay)
    assert server.sessions_served == 1
    assert seen == {
        "identity": (CALL, "5550006", "5000"),
        "dest": "5000",
        "played": "",
        "collected": CollectResult("4711", CollectEnd.MAX_DIGITS),
        "digits_var": "4711",
        "cause": HangupCause(16, "Normal Clearing"),
    }
    keys = [c.split("\n")[0] for c in replay.received]
    assert keys[:4] == ["connect", "linger", "myevents", "resume"]
    assert keys[-1] == "exit"
    (playback,) = replay.commands("sendmsg:playback")
    assert "execute-app-arg: tone_stream://%(300,100,440);loops=2\n" in playback
    assert "event-lock: true" in playback
    (pagd,) = replay.commands("sendmsg:play_and_get_digits")
    assert (
        "execute-app-arg: 1 4 1 8000 # tone_stream://%(200,0,800) silence_stream://250 "
        "pagd_digits ^[0-9*#A-D]*$ 8000\n" in pagd
    )
    (hangup,) = replay.commands("sendmsg:hangup")
    assert "hangup-cause: NORMAL_CLEARING" in hangup
    # No interrupt digits: playback runs to its end whatever is pressed.
    (set_terminators,) = replay.commands("sendmsg:set")
    assert "execute-app-arg: playback_terminators=none" in set_terminators


async def test_caller_hangs_up_during_a_prompt() -> None:
    outcome: dict[str, object] = {}

    async def ivr(session: OutboundSession) -> None:
        await session.get_variable("destination_number")
        await session.play(["tone_stream://%(300,100,440);loops=2"])
        await session.play_and_collect(["x"], CollectSpec(min_digits=1, max_digits=4))
        await session.get_variable("pagd_digits")
        try:
            await session.play(["goodbye"], interrupt_digits="#")
        except CallerHungUp as exc:
            outcome["error"] = exc
            raise

    # Without our hang-up command, the recorded hang-up events follow the last getvar: the
    # caller hung up on their own, before or while "goodbye" plays.
    replay = OutboundReplay.of(
        "06_outbound-socket_stub", omit=frozenset({"api:uuid_getvar", "sendmsg:hangup"})
    )
    await serve(ivr, replay)
    error = outcome["error"]
    assert isinstance(error, CallerHungUp)
    assert (error.call_id, error.cause) == (CALL, HangupCause(16, "Normal Clearing"))
    assert replay.received[-1] == "exit"


def test_prompts_resolve_to_files_and_streams() -> None:
    assert prompt_path("welcome", "wav") == "welcome.wav"
    assert prompt_path("digits/1", "wav") == "digits/1.wav"
    assert prompt_path("/var/sounds/menu.wav", "wav") == "/var/sounds/menu.wav"
    assert prompt_path("tone_stream://%(300,100,440)", "wav") == "tone_stream://%(300,100,440)"
    assert file_string(["a", "b"], "wav") == "file_string://a.wav!b.wav"
    assert file_string([], "wav") == "silence_stream://1"
    for bad in ("../etc/passwd", "two words", "a!b", "", 5):
        with pytest.raises(InvalidArgument, match="prompt"):
            prompt_path(bad, "wav")
