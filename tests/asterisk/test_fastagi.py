"""The FastAGI server against a scripted Asterisk side over real TCP."""

from __future__ import annotations

import ast
import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from pbx.asterisk.fastagi import AgiSession, FastAgiServer, parse_reply
from pbx.port import (
    CallerHungUp,
    CollectEnd,
    CollectResult,
    CollectSpec,
    InvalidArgument,
    MediaSession,
    PbxError,
)

from .replay import CAPTURES


def captured_env() -> dict[str, str]:
    """The agi_* environment Asterisk 22.10.1 sent in the recorded sipp flow."""
    log = (CAPTURES / "asterisk-22.10.1_06_fastagi_stub.log").read_text()
    line = next(x for x in log.splitlines() if x.startswith("AGI session env: "))
    return ast.literal_eval(line.removeprefix("AGI session env: "))


@dataclass
class AsteriskSide:
    """Plays Asterisk on a FastAGI connection: sends the environment, then answers each
    command with the next scripted lines, recording what it was sent."""

    env: dict[str, str]
    answers: list[list[str]]
    received: list[str] = field(default_factory=list)
    close_after: int | None = None  # close the socket after this many commands

    async def run(self, port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write("".join(f"{k}: {v}\n" for k, v in self.env.items()).encode() + b"\n")
        answers = iter(self.answers)
        while True:
            line = await reader.readline()
            if not line:
                break
            self.received.append(line.decode().rstrip("\n"))
            if self.close_after is not None and len(self.received) >= self.close_after:
                break
            reply = next(answers, ["510 Invalid or unknown command"])
            writer.write("".join(f"{x}\n" for x in reply).encode())
        writer.close()


@pytest.fixture
async def server() -> AsyncIterator[FastAgiServer]:
    agi = FastAgiServer("127.0.0.1", 0)
    await agi.start()
    yield agi
    await agi.close()


def env_for(script: str, **extra: str) -> dict[str, str]:
    env = captured_env()
    env["agi_network_script"] = script
    env["agi_request"] = f"agi://127.0.0.1:4573/{script}"
    env.update(extra)
    return env


async def run_call(
    server: FastAgiServer, path: str, side: AsteriskSide, body
) -> tuple[list[object], AgiSession | None]:
    """Register ``body`` at ``path``, play one call, return what body returned/raised."""
    outcome: list[object] = []
    holder: list[AgiSession] = []
    finished = asyncio.Event()

    async def handler(session: AgiSession) -> None:
        holder.append(session)
        try:
            outcome.append(await body(session))
        except Exception as exc:
            outcome.append(exc)
            raise
        finally:
            finished.set()

    server.route(path, handler)
    await asyncio.wait_for(side.run(server.port), 5)
    if holder:
        await asyncio.wait_for(finished.wait(), 5)
    return outcome, holder[0] if holder else None


async def test_recorded_inbound_session(server: FastAgiServer) -> None:
    env = captured_env()
    assert env["agi_network_script"] == "inbound"
    side = AsteriskSide(
        env, [["200 result=0"], ["200 result=1"], ["200 result=1 (PJSIP/caller-00000000)"]]
    )

    async def body(s: AgiSession) -> str | None:
        await s.answer()
        await s.set_variable("ACD_ROUTE", "support")
        return await s.get_variable("CHANNEL")

    outcome, session = await run_call(server, "inbound", side, body)
    assert outcome == ["PJSIP/caller-00000000"]
    assert side.received == ["ANSWER", 'SET VARIABLE ACD_ROUTE "support"', "GET VARIABLE CHANNEL"]
    assert session is not None and isinstance(session, MediaSession)
    assert (session.call_id, session.caller_num, session.caller_name) == (
        "1795286202.16",
        "caller",
        "Caller",
    )
    assert (session.called_num, session.channel, session.args) == (
        "100",
        "PJSIP/caller-00000000",
        ["100"],
    )


async def test_prefix_route_and_free_port(server: FastAgiServer) -> None:
    assert server.port not in (0, 4573)
    side = AsteriskSide(env_for("ivr/billing"), [["200 result=0"]])

    async def body(s: AgiSession) -> str:
        return s.script

    outcome, _ = await run_call(server, "ivr/", side, body)
    assert outcome == ["ivr/billing"]


async def test_play_returns_interrupting_digit(server: FastAgiServer) -> None:
    side = AsteriskSide(
        env_for("ivr/p"), [["200 result=0 endpos=8000"], ["200 result=50 endpos=1200"]]
    )

    async def body(s: AgiSession) -> str:
        return await s.play(["welcome", "menu/main"], interrupt_digits="12")

    outcome, _ = await run_call(server, "ivr/p", side, body)
    assert outcome == ["2"]
    assert side.received == ['STREAM FILE welcome "12"', 'STREAM FILE menu/main "12"']


@pytest.mark.parametrize(
    ("spec", "answers", "expected", "sent_waits"),
    [
        # Digit during the prompt counts; then digits until the terminator.
        (
            CollectSpec(min_digits=1, max_digits=6, timeout=3, terminator="#"),
            [["200 result=49 endpos=10"], ["200 result=50"], ["200 result=35"]],
            CollectResult("12", CollectEnd.TERMINATOR),
            ["WAIT FOR DIGIT 3000", "WAIT FOR DIGIT 3000"],
        ),
        # Max digits reached: no more waiting.
        (
            CollectSpec(min_digits=2, max_digits=2, timeout=1.5, terminator=""),
            [["200 result=0 endpos=10"], ["200 result=55"], ["200 result=42"]],
            CollectResult("7*", CollectEnd.MAX_DIGITS),
            ["WAIT FOR DIGIT 1500", "WAIT FOR DIGIT 1500"],
        ),
        # Silence ends it.
        (
            CollectSpec(min_digits=1, max_digits=4, timeout=2),
            [["200 result=0 endpos=10"], ["200 result=51"], ["200 result=0"]],
            CollectResult("3", CollectEnd.TIMEOUT),
            ["WAIT FOR DIGIT 2000", "WAIT FOR DIGIT 2000"],
        ),
    ],
)
async def test_play_and_collect(
    server: FastAgiServer,
    spec: CollectSpec,
    answers: list[list[str]],
    expected: CollectResult,
    sent_waits: list[str],
) -> None:
    side = AsteriskSide(env_for("ivr/c"), answers)

    async def body(s: AgiSession) -> CollectResult:
        return await s.play_and_collect(["enter-account"], spec)

    outcome, _ = await run_call(server, "ivr/c", side, body)
    assert outcome == [expected]
    assert side.received == ['STREAM FILE enter-account "0123456789*#ABCD"', *sent_waits]


async def test_hangup_notice_during_prompt_raises_and_stays_in_step(
    server: FastAgiServer,
) -> None:
    # Asterisk sends HANGUP on its own line, then still answers the running command.
    side = AsteriskSide(env_for("ivr/h"), [["HANGUP", "200 result=-1 endpos=400"]])
    after: list[object] = []

    async def body(s: AgiSession) -> None:
        try:
            await s.play(["welcome"])
        finally:
            try:
                await s.get_variable("X")
            except CallerHungUp as exc:
                after.append(exc)

    outcome, _ = await run_call(server, "ivr/h", side, body)
    assert isinstance(outcome[0], CallerHungUp)
    assert outcome[0].call_id == "1795286202.16"
    assert isinstance(after[0], CallerHungUp)
    assert side.received == ['STREAM FILE welcome ""']  # nothing sent after the hang-up


async def test_dead_channel_answer_511_is_caller_hung_up(server: FastAgiServer) -> None:
    side = AsteriskSide(
        env_for("ivr/d"), [["511 Command Not Permitted on a dead channel or intercepted"]]
    )

    async def body(s: AgiSession) -> None:
        await s.answer()

    outcome, _ = await run_call(server, "ivr/d", side, body)
    assert isinstance(outcome[0], CallerHungUp)


async def test_socket_closed_mid_command_is_caller_hung_up(server: FastAgiServer) -> None:
    side = AsteriskSide(env_for("ivr/e"), [], close_after=1)

    async def body(s: AgiSession) -> None:
        await s.wait_for_digit(5)

    outcome, _ = await run_call(server, "ivr/e", side, body)
    assert isinstance(outcome[0], CallerHungUp)


async def test_missing_prompt_and_usage_error_keep_the_session_in_step(
    server: FastAgiServer,
) -> None:
    side = AsteriskSide(
        env_for("ivr/u"),
        [
            ["200 result=-1 endpos=0"],
            [
                "520-Invalid command syntax.  Proper usage follows:",
                "Usage: WAIT FOR DIGIT <timeout>",
                "520 End of proper usage.",
            ],
            ["200 result=0"],
        ],
    )
    errors: list[str] = []

    async def body(s: AgiSession) -> str | None:
        for attempt in (s.play(["no-such-sound"]), s.command("WAIT FOR DIGIT")):
            try:
                await attempt
            except PbxError as exc:
                errors.append(str(exc))
        return await s.get_variable("UNSET")

    outcome, _ = await run_call(server, "ivr/u", side, body)
    assert outcome == [None]
    assert "could not be played" in errors[0]
    assert "End of proper usage" in errors[1]


async def test_bad_input_is_refused_before_sending(server: FastAgiServer) -> None:
    side = AsteriskSide(env_for("ivr/b"), [["200 result=1"]])
    refused: list[str] = []

    async def body(s: AgiSession) -> None:
        for bad in (
            s.set_variable("X", "a\nHANGUP"),
            s.set_variable("1BAD", "v"),
            s.play(["welcome now"]),
            s.play(["welcome"], interrupt_digits="9x"),
        ):
            try:
                await bad
            except InvalidArgument as exc:
                refused.append(exc.field)
        await s.set_variable("NOTE", 'say "hi" \\ bye')

    await run_call(server, "ivr/b", side, body)
    assert refused == ["value", "variable", "prompt", "interrupt_digits"]
    assert side.received == ['SET VARIABLE NOTE "say \\"hi\\" \\\\ bye"']


async def test_unknown_script_gets_no_handler_and_server_survives(
    server: FastAgiServer,
) -> None:
    called: list[str] = []

    async def handler(session: AgiSession) -> None:
        called.append(session.script)

    server.route("ivr/main", handler)
    stray = AsteriskSide(env_for("nope"), [["200 result=1"]])
    await asyncio.wait_for(stray.run(server.port), 5)
    assert stray.received == ['SET VARIABLE CC_AGI_ERROR "no handler for nope"']
    good = AsteriskSide(env_for("ivr/main"), [])
    await asyncio.wait_for(good.run(server.port), 5)
    assert called == ["ivr/main"]


async def test_peer_closing_during_environment_is_dropped(server: FastAgiServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"agi_network_script: ivr/x\nagi_uniq")
    writer.close()
    # The server closes its side instead of spinning on the half-read block.
    assert await asyncio.wait_for(reader.read(), 2) == b""
    assert server.sessions_served == 0


def test_reply_parsing() -> None:
    reply = parse_reply("200 result=1 (a (b) c) endpos=5")
    assert (reply.result, reply.data, reply.extras) == ("1", "a (b) c", {"endpos": "5"})
    assert parse_reply("200 result= (timeout)").data == "timeout"
    assert parse_reply("511 Command Not Permitted on a dead channel or intercepted").code == 511
    with pytest.raises(PbxError, match="unreadable"):
        parse_reply("hello")


async def test_route_registry_refuses_bad_handlers() -> None:
    agi = FastAgiServer("127.0.0.1", 0)

    def plain(session: AgiSession) -> None: ...

    with pytest.raises(InvalidArgument, match="async function"):
        agi.route("ivr/x", plain)  # type: ignore[arg-type]

    async def ok(session: AgiSession) -> None: ...

    agi.route("ivr/x", ok)
    with pytest.raises(InvalidArgument, match="not registered yet"):
        agi.route("ivr/x", ok)


async def test_close_ends_running_sessions() -> None:
    agi = FastAgiServer("127.0.0.1", 0)
    await agi.start()
    started = asyncio.Event()

    async def stuck(session: AgiSession) -> None:
        started.set()
        await asyncio.Event().wait()

    agi.route("ivr/stuck", stuck)
    reader, writer = await asyncio.open_connection("127.0.0.1", agi.port)
    env = env_for("ivr/stuck")
    writer.write("".join(f"{k}: {v}\n" for k, v in env.items()).encode() + b"\n")
    await asyncio.wait_for(started.wait(), 2)
    await asyncio.wait_for(agi.close(), 2)
    assert await asyncio.wait_for(reader.read(), 2) == b""  # Asterisk's dialplan goes on
    writer.close()
