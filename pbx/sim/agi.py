"""The Asterisk side of FastAGI: what ``AGI(agi://host:port/script?args,arg1,...)`` does.

:func:`run_agi` connects to the FastAGI server, sends the ``agi_*`` environment (the headers,
their order and the closing blank line as Asterisk 22 sends them), then answers commands on
behalf of a channel until the server closes the connection. It returns ``AGISTATUS`` as
Asterisk's ``res_agi`` sets it: ``FAILURE`` when nothing listens or a command failed on a live
channel, ``HANGUP`` when the caller hung up during the session, ``SUCCESS`` otherwise.

The channel is anything satisfying :class:`AgiChannel`; the simulator's channel implements it.
Commands answered (case-insensitive, as Asterisk parses them): ANSWER, STREAM FILE, GET DATA,
WAIT FOR DIGIT, SET VARIABLE, GET VARIABLE, GET FULL VARIABLE, EXEC, HANGUP, VERBOSE,
CHANNEL STATUS, NOOP, and SAY DIGITS / SAY NUMBER (English, played as ``digits/*`` files
through ``stream_file``). Anything else gets ``510 Invalid or unknown command``; a command that
needs a live channel after the caller hung up gets ``511``; wrong arguments get ``520``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable
from urllib.parse import urlsplit

from pbx.sim.dialplan.args import split_args

log = logging.getLogger(__name__)

AGI_VERSION = "22.10.1"
DEFAULT_PORT = 4573
CONNECT_TIMEOUT = 2.0  # Asterisk gives up connecting to a FastAGI server after 2 s
MAX_GET_DATA_DIGITS = 1024

AGISTATUS_SUCCESS = "SUCCESS"
AGISTATUS_FAILURE = "FAILURE"
AGISTATUS_HANGUP = "HANGUP"


class ChannelHungUp(Exception):
    """Raised by an :class:`AgiChannel` media operation when the caller hangs up during it."""

    def __init__(self, endpos: int = 0) -> None:
        self.endpos = endpos  # for STREAM FILE: samples played before the hang-up
        super().__init__("channel hung up")


@dataclass(frozen=True, slots=True)
class Playback:
    """How ``stream_file`` ended: the escape digit pressed (``""`` when the file played to its
    end) and the sample position reached."""

    digit: str = ""
    endpos: int = 0


@dataclass(frozen=True, slots=True)
class Digits:
    """How ``get_data`` ended: the digits (``#`` not included) and whether it timed out."""

    digits: str
    timed_out: bool


@runtime_checkable
class AgiChannel(Protocol):
    """What FastAGI needs from a channel. Media coroutines raise :class:`ChannelHungUp` when
    the caller hangs up while they run; ``stream_file``/``get_data`` raise
    :class:`FileNotFoundError` for an unknown sound file."""

    @property
    def name(self) -> str: ...  # PJSIP/caller-00000000

    @property
    def uniqueid(self) -> str: ...

    @property
    def language(self) -> str: ...

    @property
    def caller_num(self) -> str: ...  # "" when unknown

    @property
    def caller_name(self) -> str: ...

    @property
    def dnid(self) -> str: ...

    @property
    def rdnis(self) -> str: ...

    @property
    def context(self) -> str: ...

    @property
    def exten(self) -> str: ...

    @property
    def priority(self) -> int: ...

    @property
    def accountcode(self) -> str: ...

    @property
    def state(self) -> int:  # ast_channel_state: 4 Ring, 5 Ringing, 6 Up ...
        ...

    @property
    def is_hung_up(self) -> bool: ...

    async def wait_hangup(self) -> None:
        """Return once the channel has hung up (at once if it already has)."""
        ...

    async def answer(self) -> None: ...

    async def stream_file(self, name: str, escape_digits: str, offset: int) -> Playback: ...

    async def get_data(self, prompt: str, timeout_ms: int, max_digits: int) -> Digits:
        """Play ``prompt`` (``&``-separated files), collect up to ``max_digits`` ended by ``#``;
        ``timeout_ms`` 0 means the channel's default."""
        ...

    async def wait_for_digit(self, timeout_ms: int) -> str:
        """The digit pressed, ``""`` on timeout; ``timeout_ms`` -1 waits for ever."""
        ...

    def set_variable(self, name: str, value: str) -> None: ...

    def get_variable(self, name: str) -> str | None:
        """A variable, a builtin (``CHANNEL``, ``EXTEN``) or a function (``CALLERID(num)``);
        ``None`` when not set."""
        ...

    def substitute(self, text: str) -> str:
        """``${...}``/``$[...]`` substitution in this channel's scope (GET FULL VARIABLE)."""
        ...

    async def exec(self, app: str, args: str) -> int | None:
        """Run a dialplan application; ``None`` when no such application exists, else its
        return value (negative: the channel should hang up)."""
        ...

    async def hangup(self) -> None:
        """Request a hang-up (soft hang-up; the channel then reports it is hung up)."""
        ...

    def verbose(self, message: str, level: int) -> None: ...


ExecStart = Callable[[int, str], None]
"""``(command_id, command)`` before a command runs (AMI ``AGIExecStart``)."""
ExecEnd = Callable[[int, str, int, str], None]
"""``(command_id, command, result_code, result)`` after it ran (AMI ``AGIExecEnd``)."""


@dataclass(frozen=True, slots=True)
class AgiUrl:
    host: str
    port: int
    script: str  # everything after the first '/' (query included), as agi_network_script


def parse_agi_url(url: str) -> AgiUrl:
    """``agi://host[:port][/script[?args]]``. Raises ValueError for anything else."""
    if not url.lower().startswith("agi://"):
        raise ValueError(f"{url!r}: expected agi://host[:port]/script")
    rest = url[len("agi://") :]
    hostport, _, script = rest.partition("/")
    parts = urlsplit("//" + hostport)
    if not parts.hostname:
        raise ValueError(f"{url!r}: missing host")
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise ValueError(f"{url!r}: bad port") from None
    return AgiUrl(parts.hostname, port, script)


def environment(
    channel: AgiChannel, request: str, script: str, args: Sequence[str], thread_id: int
) -> list[tuple[str, str]]:
    """The ``agi_*`` headers in Asterisk's order (``launch_netscript`` then ``setup_env``)."""
    env: list[tuple[str, str]] = [("agi_network", "yes")]
    if script:
        env.append(("agi_network_script", script))
    tech = channel.name.split("/", 1)[0] if "/" in channel.name else channel.name
    env += [
        ("agi_request", request),
        ("agi_channel", channel.name),
        ("agi_language", channel.language),
        ("agi_type", tech),
        ("agi_uniqueid", channel.uniqueid),
        ("agi_version", AGI_VERSION),
        ("agi_callerid", channel.caller_num or "unknown"),
        ("agi_calleridname", channel.caller_name or "unknown"),
        ("agi_callingpres", "0"),
        ("agi_callingani2", "0"),
        ("agi_callington", "0"),
        ("agi_callingtns", "0"),
        ("agi_dnid", channel.dnid or "unknown"),
        ("agi_rdnis", channel.rdnis or "unknown"),
        ("agi_context", channel.context),
        ("agi_extension", channel.exten),
        ("agi_priority", str(channel.priority)),
        ("agi_enhanced", "0.0"),
        ("agi_accountcode", channel.accountcode),
        ("agi_threadid", str(thread_id)),
    ]
    env += [(f"agi_arg_{i}", arg) for i, arg in enumerate(args, start=1)]
    return env


def parse_command(line: str) -> list[str]:
    """Split a command line like Asterisk's ``parse_args``: blanks separate words, double
    quotes group (``""`` is an empty word), a backslash takes the next character literally."""
    words: list[str] = []
    cur: list[str] = []
    in_word = False
    quoted = escaped = False
    for ch in line:
        if ch == '"' and not escaped:
            quoted = not quoted
            if quoted and not in_word:
                in_word = True
            continue
        if ch in " \t" and not quoted and not escaped:
            if in_word:
                words.append("".join(cur))
                cur = []
                in_word = False
            continue
        if ch == "\\" and not escaped:
            escaped = True
            continue
        in_word = True
        cur.append(ch)
        escaped = False
    if in_word:
        words.append("".join(cur))
    return words


def _atoi(text: str) -> int:
    """C ``atoi``: the leading integer, 0 when there is none."""
    m = re.match(r"\s*([+-]?\d+)", text)
    return int(m.group(1)) if m else 0


class _Reply:
    """What a handler produced: the lines to send and how the command ended for AMI
    ("success", "failure", or "unknown" for an EXEC whose application returned non-zero)."""

    __slots__ = ("lines", "outcome")

    def __init__(self, lines: list[str], outcome: str = "success") -> None:
        self.lines = lines
        self.outcome = outcome


def _ok(text: str) -> _Reply:
    return _Reply([f"200 {text}"])


def _failed(text: str) -> _Reply:
    return _Reply([f"200 {text}"], "failure")


Handler = Callable[[AgiChannel, list[str]], Awaitable[_Reply | None]]


@dataclass(frozen=True, slots=True)
class _Command:
    words: tuple[str, ...]
    handler: Handler
    usage: str
    dead_ok: bool  # may run after the caller hung up


async def _answer(ch: AgiChannel, argv: list[str]) -> _Reply | None:
    if ch.state != 6:
        try:
            await ch.answer()
        except ChannelHungUp:
            return _failed("result=-1")
    return _ok("result=0")


async def _stream_file(ch: AgiChannel, argv: list[str]) -> _Reply | None:
    if not 4 <= len(argv) <= 5:
        return None
    offset = 0
    if len(argv) == 5:
        m = re.fullmatch(r"\s*(-?\d+).*", argv[4])
        if not m:
            return None
        offset = int(m.group(1))
    try:
        result = await ch.stream_file(argv[2], argv[3], offset)
    except FileNotFoundError:
        return _failed(f"result=-1 endpos={offset}")
    except ChannelHungUp as hup:
        ch.set_variable("PLAYBACKSTATUS", "FAILED")
        return _failed(f"result=-1 endpos={hup.endpos}")
    code = ord(result.digit[0]) if result.digit else 0
    ch.set_variable("PLAYBACKSTATUS", "FAILED" if code else "SUCCESS")
    return _ok(f"result={code} endpos={result.endpos}")


async def _get_data(ch: AgiChannel, argv: list[str]) -> _Reply | None:
    if len(argv) < 3:
        return None
    timeout_ms = _atoi(argv[3]) if len(argv) >= 4 else 0
    max_digits = _atoi(argv[4]) if len(argv) >= 5 else MAX_GET_DATA_DIGITS
    max_digits = min(max(max_digits, 0), MAX_GET_DATA_DIGITS) or MAX_GET_DATA_DIGITS
    try:
        got = await ch.get_data(argv[2], timeout_ms, max_digits)
    except FileNotFoundError:
        return _ok("result=-1")
    except ChannelHungUp:
        return _ok("result=-1")
    if got.timed_out:
        return _ok(f"result={got.digits} (timeout)")
    return _ok(f"result={got.digits}")


async def _wait_for_digit(ch: AgiChannel, argv: list[str]) -> _Reply | None:
    if len(argv) != 4 or not re.match(r"\s*[+-]?\d", argv[3]):
        return None
    try:
        digit = await ch.wait_for_digit(_atoi(argv[3]))
    except ChannelHungUp:
        return _failed("result=-1")
    return _ok(f"result={ord(digit[0]) if digit else 0}")


async def _set_variable(ch: AgiChannel, argv: list[str]) -> _Reply | None:
    # Asterisk checks no count: without a value nothing is set, extra words are ignored.
    if len(argv) >= 4:
        ch.set_variable(argv[2], argv[3])
    return _ok("result=1")


async def _get_variable(ch: AgiChannel, argv: list[str]) -> _Reply | None:
    if len(argv) != 3:
        return None
    value = ch.get_variable(argv[2])
    return _ok("result=0") if value is None else _ok(f"result=1 ({value})")


async def _get_full_variable(ch: AgiChannel, argv: list[str]) -> _Reply | None:
    if len(argv) not in (4, 5):
        return None
    if len(argv) == 5 and argv[4] != ch.name:
        return _ok("result=0")  # only this channel is reachable from here
    return _ok(f"result=1 ({ch.substitute(argv[3])})")


async def _exec(ch: AgiChannel, argv: list[str]) -> _Reply | None:
    if len(argv) < 2:
        return None
    ch.verbose(
        f"AGI Script Executing Application: ({argv[1]}) Options: "
        f"({argv[2] if len(argv) > 2 else ''})",
        3,
    )
    try:
        res = await ch.exec(argv[1], argv[2] if len(argv) > 2 else "")
    except ChannelHungUp:
        res = -1
    if res is None:
        return _Reply(["200 result=-2"], "unknown")
    # Asterisk hands the application's own return value back as the command status, so a
    # non-zero result is reported as "Unknown Result" rather than as a failure.
    return _ok("result=0") if res == 0 else _Reply([f"200 result={res}"], "unknown")


async def _hangup(ch: AgiChannel, argv: list[str]) -> _Reply | None:
    if len(argv) > 2:
        return None
    if len(argv) == 2 and argv[1] != ch.name:
        return _ok("result=-1")  # other channels are not reachable from here
    await ch.hangup()
    return _ok("result=1")


async def _verbose(ch: AgiChannel, argv: list[str]) -> _Reply | None:
    if len(argv) < 2:
        return None
    level = _atoi(argv[2]) if len(argv) > 2 else 0
    ch.verbose(argv[1], level)
    return _ok("result=1")


async def _channel_status(ch: AgiChannel, argv: list[str]) -> _Reply | None:
    if len(argv) > 3:
        return None
    if len(argv) == 3 and argv[2] != ch.name:
        return _ok("result=-1")
    return _ok(f"result={ch.state}")


_SAY_DIGIT_FILES = {"*": "digits/star", "#": "digits/pound", "-": "digits/minus"}


def number_files(num: int) -> list[str]:
    """The English sound files ``SAY NUMBER`` plays (``ast_say_number_full_en``)."""
    if num == 0:
        return ["digits/0"]
    files: list[str] = []
    if num < 0:
        files.append("digits/minus")
        num = -num
    if num >= 1_000_000_000:
        raise ValueError(f"number {num} is too big to say")
    if num >= 1_000_000:
        files += [*number_files(num // 1_000_000), "digits/million"]
        num %= 1_000_000
    if num >= 1000:
        files += [*number_files(num // 1000), "digits/thousand"]
        num %= 1000
    if num >= 100:
        files += [f"digits/{num // 100}", "digits/hundred"]
        num %= 100
    if num >= 20:
        files.append(f"digits/{num // 10 * 10}")
        num %= 10
    if num:
        files.append(f"digits/{num}")
    return files


def digit_files(digits: str) -> list[str]:
    """The sound files ``SAY DIGITS`` plays, one per character."""
    return [_SAY_DIGIT_FILES.get(d, f"digits/{d}") for d in digits if d.isdigit() or d in "*#-"]


async def _say(ch: AgiChannel, files: list[str], escape: str) -> _Reply:
    try:
        for name in files:
            result = await ch.stream_file(name, escape, 0)
            if result.digit:
                return _ok(f"result={ord(result.digit[0])}")
    except (FileNotFoundError, ChannelHungUp):
        return _failed("result=-1")
    return _ok("result=0")


async def _say_digits(ch: AgiChannel, argv: list[str]) -> _Reply | None:
    if len(argv) != 4 or not re.match(r"\s*[+-]?\d", argv[2]):
        return None
    return await _say(ch, digit_files(argv[2]), argv[3])


async def _say_number(ch: AgiChannel, argv: list[str]) -> _Reply | None:
    if len(argv) not in (4, 5) or not re.match(r"\s*[+-]?\d", argv[2]):
        return None
    try:
        files = number_files(_atoi(argv[2]))
    except ValueError:
        return _failed("result=-1")
    return await _say(ch, files, argv[3])


async def _noop(ch: AgiChannel, argv: list[str]) -> _Reply | None:
    return _ok("result=0")


COMMANDS: tuple[_Command, ...] = (
    _Command(("ANSWER",), _answer, "", False),
    _Command(
        ("STREAM", "FILE"),
        _stream_file,
        "Usage: STREAM FILE <filename> <escape digits> [sample offset]",
        False,
    ),
    _Command(("GET", "DATA"), _get_data, "Usage: GET DATA <file> [timeout] [maxdigits]", False),
    _Command(("WAIT", "FOR", "DIGIT"), _wait_for_digit, "Usage: WAIT FOR DIGIT <timeout>", False),
    _Command(
        ("SET", "VARIABLE"), _set_variable, "Usage: SET VARIABLE <variablename> <value>", True
    ),
    _Command(("GET", "VARIABLE"), _get_variable, "Usage: GET VARIABLE <variablename>", True),
    _Command(
        ("GET", "FULL", "VARIABLE"),
        _get_full_variable,
        "Usage: GET FULL VARIABLE <variablename> [channel name]",
        True,
    ),
    _Command(("EXEC",), _exec, "Usage: EXEC <application> <options>", True),
    _Command(("HANGUP",), _hangup, "Usage: HANGUP [<channelname>]", False),
    _Command(("VERBOSE",), _verbose, "Usage: VERBOSE <message> <level>", True),
    _Command(
        ("CHANNEL", "STATUS"), _channel_status, "Usage: CHANNEL STATUS [<channelname>]", False
    ),
    _Command(("NOOP",), _noop, "Usage: NOOP", True),
    _Command(("SAY", "DIGITS"), _say_digits, "Usage: SAY DIGITS <number> <escape digits>", False),
    _Command(
        ("SAY", "NUMBER"),
        _say_number,
        "Usage: SAY NUMBER <number> <escape digits> [gender]",
        False,
    ),
)


def find_command(argv: Sequence[str]) -> _Command | None:
    """The longest command whose words start ``argv`` (so GET FULL VARIABLE beats GET ...)."""
    best: _Command | None = None
    upper = [w.upper() for w in argv]
    for cmd in COMMANDS:
        n = len(cmd.words)
        if tuple(upper[:n]) == cmd.words and (best is None or n > len(best.words)):
            best = cmd
    return best


class AgiSession:
    """One FastAGI session for one channel; see :func:`run_agi`."""

    def __init__(
        self,
        channel: AgiChannel,
        on_exec_start: ExecStart | None = None,
        on_exec_end: ExecEnd | None = None,
        command_ids: Callable[[], int] | None = None,
    ) -> None:
        self.channel = channel
        self.on_exec_start = on_exec_start
        self.on_exec_end = on_exec_end
        self._next_id = command_ids or (lambda: random.randrange(1, 2**31))
        self.dead = channel.is_hung_up
        self.status = AGISTATUS_SUCCESS
        self.commands_run = 0

    async def run(self, url: str, args: Sequence[str]) -> str:
        """Connect, talk, return the AGISTATUS value (also set on the channel)."""
        status = await self._run(url, args)
        self.channel.set_variable("AGISTATUS", status)
        return status

    async def _run(self, url: str, args: Sequence[str]) -> str:
        try:
            target = parse_agi_url(url)
        except ValueError as exc:
            log.warning("AGI %s: %s", self.channel.name, exc)
            return AGISTATUS_FAILURE
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(target.host, target.port), CONNECT_TIMEOUT
            )
        except (OSError, TimeoutError) as exc:
            log.warning("FastAGI connect to %s failed: %s", url, exc)
            return AGISTATUS_FAILURE
        try:
            env = environment(self.channel, url, target.script, args, random.randrange(1, 2**47))
            writer.write("".join(f"{k}: {v}\n" for k, v in env).encode() + b"\n")
            await writer.drain()
            return await self._loop(reader, writer)
        except (ConnectionError, OSError) as exc:
            log.info("FastAGI connection for %s ended: %s", self.channel.name, exc)
            return AGISTATUS_HANGUP if self.dead else self.status
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    async def _loop(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> str:
        # Both read when the session starts, as Asterisk's run_agi() does.
        send_hangup = not _is_false(self.channel.get_variable("AGISIGHUP"))
        exit_on_hangup = _is_true(self.channel.get_variable("AGIEXITONHANGUP"))
        hangup_seen = self.dead
        line_task: asyncio.Task[bytes] | None = None
        hangup_task: asyncio.Task[None] | None = None
        try:
            while True:
                if not hangup_seen and self.channel.is_hung_up:
                    hangup_seen = self.dead = True
                    if send_hangup:
                        await self._send(writer, ["HANGUP"])
                    if exit_on_hangup:
                        break
                if line_task is None:
                    line_task = asyncio.ensure_future(reader.readline())
                waiting: set[asyncio.Future[object]] = {line_task}  # type: ignore[arg-type]
                if not hangup_seen:
                    if hangup_task is None:
                        hangup_task = asyncio.ensure_future(self.channel.wait_hangup())
                    waiting.add(hangup_task)  # type: ignore[arg-type]
                await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                if not line_task.done():
                    continue  # the hang-up fired: notify at the top of the loop
                try:
                    raw = line_task.result()
                except (ValueError, asyncio.LimitOverrunError):
                    log.warning("FastAGI on %s: command line too long", self.channel.name)
                    self.status = AGISTATUS_FAILURE
                    break
                line_task = None
                if not raw:
                    break  # the server closed the connection: the script is done
                line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                if line[:7].lower() == "failure":
                    # Asterisk's marker for a script that could not run.
                    self.status = AGISTATUS_FAILURE
                    break
                reply = await self._handle(line)
                await self._send(writer, reply.lines)
        finally:
            for task in (line_task, hangup_task):
                if task is not None and not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
        if send_hangup:
            # Asterisk says HANGUP once more as it leaves, even to a server that has gone.
            with contextlib.suppress(ConnectionError, OSError):
                await self._send(writer, ["HANGUP"])
        if self.status == AGISTATUS_FAILURE:
            return AGISTATUS_FAILURE
        return AGISTATUS_HANGUP if hangup_seen else AGISTATUS_SUCCESS

    @staticmethod
    async def _send(writer: asyncio.StreamWriter, lines: list[str]) -> None:
        writer.write("".join(f"{ln}\n" for ln in lines).encode())
        await writer.drain()

    async def _handle(self, line: str) -> _Reply:
        self.commands_run += 1
        command_id = self._next_id()
        if self.on_exec_start:
            self.on_exec_start(command_id, line)
        argv = parse_command(line)
        cmd = find_command(argv)
        if cmd is None:
            text = "Invalid or unknown command"
            return self._end(command_id, line, _Reply([f"510 {text}"]), 510, text)
        if self.dead and not cmd.dead_ok:
            text = "Command Not Permitted on a dead channel or intercept routine"
            return self._end(command_id, line, _Reply([f"511 {text}"]), 511, text)
        reply = await cmd.handler(self.channel, argv)
        if reply is None:
            if cmd.usage:
                lines = [
                    "520-Invalid command syntax.  Proper usage follows:",
                    cmd.usage,
                    "520 End of proper usage.",
                ]
            else:
                lines = ["520 Invalid command syntax.  Proper usage not available."]
            return self._end(command_id, line, _Reply(lines), 520, "Usage")
        if reply.outcome == "failure":
            # A failure the caller's hang-up did not cause makes AGISTATUS FAILURE; the
            # session goes on until the server closes it, as in Asterisk.
            if not self.dead and not self.channel.is_hung_up:
                self.status = AGISTATUS_FAILURE
            return self._end(command_id, line, reply, -1, "Failure")
        if reply.outcome == "unknown":
            return self._end(command_id, line, reply, 200, "Unknown Result")
        return self._end(command_id, line, reply, 200, "Success")

    def _end(self, command_id: int, line: str, reply: _Reply, code: int, text: str) -> _Reply:
        if self.on_exec_end:
            self.on_exec_end(command_id, line, code, text)
        return reply


_TRUE = {"yes", "true", "y", "t", "1", "on"}
_FALSE = {"no", "false", "n", "f", "0", "off"}


def _is_true(value: str | None) -> bool:
    """``ast_true``."""
    return (value or "").strip().lower() in _TRUE


def _is_false(value: str | None) -> bool:
    """``ast_false`` (an unset value is neither true nor false)."""
    return (value or "").strip().lower() in _FALSE


async def run_agi(
    channel: AgiChannel,
    url: str,
    args: Sequence[str] = (),
    *,
    on_exec_start: ExecStart | None = None,
    on_exec_end: ExecEnd | None = None,
) -> str:
    """Run one FastAGI session for ``channel`` and return AGISTATUS (also set on the channel).

    ``url`` and ``args`` are the ``AGI()`` application's arguments. The callbacks let the
    caller publish ``AGIExecStart``/``AGIExecEnd`` around every command, with the same
    ``CommandId`` for both.
    """
    session = AgiSession(channel, on_exec_start, on_exec_end)
    return await session.run(url, args)


def split_agi_args(data: str) -> tuple[str, list[str]]:
    """``AGI()`` application data -> (url, script arguments), split like Asterisk does."""
    parts = split_args(data)
    if not parts or not parts[0].strip():
        raise ValueError("AGI requires an argument (the script URL)")
    return parts[0].strip(), parts[1:]
