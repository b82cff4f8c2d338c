"""FastAGI, Asterisk side: round trips against a real TCP FastAGI server run by the test."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pbx.sim import agi
from pbx.sim.agi import AgiChannel, ChannelHungUp, Digits, Playback, run_agi
from pbx.sim.dialplan import substitute

# The environment Asterisk 22.10.1 sent in the capture (06_fastagi_stub.log), in order.
CAPTURE_ENV = [
    ("agi_network", "yes"),
    ("agi_network_script", "inbound"),
    ("agi_request", "agi://127.0.0.1:4573/inbound"),
    ("agi_channel", "PJSIP/caller-00000000"),
    ("agi_language", "en"),
    ("agi_type", "PJSIP"),
    ("agi_uniqueid", "1795286202.16"),
    ("agi_version", "22.10.1"),
    ("agi_callerid", "caller"),
    ("agi_calleridname", "Caller"),
    ("agi_callingpres", "0"),
    ("agi_callingani2", "0"),
    ("agi_callington", "0"),
    ("agi_callingtns", "0"),
    ("agi_dnid", "100"),
    ("agi_rdnis", "unknown"),
    ("agi_context", "from-pstn"),
    ("agi_extension", "100"),
    ("agi_priority", "4"),
    ("agi_enhanced", "0.0"),
    ("agi_accountcode", ""),
    ("agi_threadid", "139974270617280"),
    ("agi_arg_1", "100"),
]


@dataclass
class FakeChannel:
    """A channel whose caller presses ``dtmf`` digits (one per media wait) and may hang up."""

    name: str = "PJSIP/caller-00000000"
    uniqueid: str = "1795286202.16"
    language: str = "en"
    caller_num: str = "caller"
    caller_name: str = "Caller"
    dnid: str = "100"
    rdnis: str = ""
    context: str = "from-pstn"
    exten: str = "100"
    priority: int = 4
    accountcode: str = ""
    state: int = 4
    sounds: set[str] = field(default_factory=lambda: {"welcome", "enter-account", "beep"})
    dtmf: list[str] = field(default_factory=list)
    hang_up_during_media: bool = False
    variables: dict[str, str] = field(default_factory=dict)
    log: list[tuple[str, ...]] = field(default_factory=list)
    apps: dict[str, int] = field(default_factory=lambda: {"Wait": 0, "Fail": -1})
    _hung_up: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def is_hung_up(self) -> bool:
        return self._hung_up.is_set()

    async def wait_hangup(self) -> None:
        await self._hung_up.wait()

    def caller_hangs_up(self) -> None:
        self._hung_up.set()

    async def _media(self) -> None:
        await asyncio.sleep(0)
        if self.hang_up_during_media:
            self.caller_hangs_up()
        if self.is_hung_up:
            raise ChannelHungUp(endpos=800)

    async def answer(self) -> None:
        self.log.append(("answer",))
        await self._media()
        self.state = 6

    async def stream_file(self, name: str, escape_digits: str, offset: int) -> Playback:
        self.log.append(("stream_file", name, escape_digits, str(offset)))
        if name not in self.sounds:
            raise FileNotFoundError(name)
        await self._media()
        if self.dtmf and self.dtmf[0] in escape_digits:
            return Playback(self.dtmf.pop(0), endpos=1600)
        return Playback("", endpos=8000)

    async def get_data(self, prompt: str, timeout_ms: int, max_digits: int) -> Digits:
        self.log.append(("get_data", prompt, str(timeout_ms), str(max_digits)))
        await self._media()
        got = ""
        while self.dtmf and len(got) < max_digits:
            d = self.dtmf.pop(0)
            if d == "#":
                return Digits(got, timed_out=False)
            got += d
        return Digits(got, timed_out=len(got) < max_digits)

    async def wait_for_digit(self, timeout_ms: int) -> str:
        self.log.append(("wait_for_digit", str(timeout_ms)))
        await self._media()
        return self.dtmf.pop(0) if self.dtmf else ""

    def set_variable(self, name: str, value: str) -> None:
        self.log.append(("set", name, value))
        self.variables[name] = value

    def get_variable(self, name: str) -> str | None:
        if name == "CHANNEL":
            return self.name
        return self.variables.get(name)

    def substitute(self, text: str) -> str:
        return substitute(text, {**self.variables, "CHANNEL": self.name, "EXTEN": self.exten})

    async def exec(self, app: str, args: str) -> int | None:
        self.log.append(("exec", app, args))
        return self.apps.get(app)

    async def hangup(self) -> None:
        self.log.append(("hangup",))
        self.caller_hangs_up()

    def verbose(self, message: str, level: int) -> None:
        self.log.append(("verbose", message, str(level)))


def test_fake_channel_satisfies_protocol() -> None:
    assert isinstance(FakeChannel(), AgiChannel)


Script = Callable[["AgiPeer"], Awaitable[None]]


@dataclass
class AgiPeer:
    """The FastAGI server's view of one session: the environment and a command helper."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    env: list[tuple[str, str]] = field(default_factory=list)
    transcript: list[tuple[str, str]] = field(default_factory=list)

    async def read_env(self) -> None:
        while True:
            line = (await self.reader.readline()).decode()
            assert line.endswith("\n"), f"environment cut short: {line!r}"
            if line == "\n":
                return
            key, sep, value = line[:-1].partition(": ")
            assert sep, f"bad environment line {line!r}"
            self.env.append((key, value))

    async def line(self) -> str:
        raw = await asyncio.wait_for(self.reader.readline(), 5)
        assert raw.endswith(b"\n"), f"unterminated answer {raw!r}"
        return raw.decode()[:-1]

    async def send(self, command: str, lines: int = 1) -> str:
        self.writer.write(command.encode() + b"\n")
        await self.writer.drain()
        got = "\n".join([await self.line() for _ in range(lines)])
        self.transcript.append((command, got))
        return got


class AgiServer:
    """A FastAGI server on a free loopback port; ``script`` plays the server side."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.peers: list[AgiPeer] = []
        self.errors: list[BaseException] = []
        self.done = asyncio.Event()
        self.server: asyncio.Server | None = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = AgiPeer(reader, writer)
        self.peers.append(peer)
        try:
            await peer.read_env()
            await self.script(peer)
        except BaseException as exc:  # surfaced by the test, not lost in the server task
            self.errors.append(exc)
        finally:
            writer.close()
            self.done.set()

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.sockets[0].getsockname()[1]

    def url(self, script: str = "inbound") -> str:
        return f"agi://127.0.0.1:{self.port}/{script}"

    def check(self) -> AgiPeer:
        if self.errors:
            raise self.errors[0]
        assert len(self.peers) == 1
        return self.peers[0]


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Script], Awaitable[AgiServer]]]:
    servers: list[AgiServer] = []

    async def start(script: Script) -> AgiServer:
        srv = AgiServer(script)
        srv.server = await asyncio.start_server(srv._handle, "127.0.0.1", 0)
        servers.append(srv)
        return srv

    yield start
    for srv in servers:
        assert srv.server is not None
        srv.server.close()
        await srv.server.wait_closed()


async def test_capture_session_env_and_answers(
    serve: Callable[[Script], Awaitable[AgiServer]],
) -> None:
    async def script(peer: AgiPeer) -> None:
        assert await peer.send("ANSWER") == "200 result=0"
        assert await peer.send('SET VARIABLE ACD_ROUTE "support"') == "200 result=1"
        assert await peer.send("GET VARIABLE CHANNEL") == "200 result=1 (PJSIP/caller-00000000)"
        assert await peer.send('VERBOSE "FastAGI stub handled inbound" 1') == "200 result=1"

    srv = await serve(script)
    chan = FakeChannel()
    starts: list[tuple[int, str]] = []
    ends: list[tuple[int, str, int, str]] = []
    url = f"agi://127.0.0.1:{srv.port}/inbound"
    status = await run_agi(
        chan,
        url,
        ["100"],
        on_exec_start=lambda cid, cmd: starts.append((cid, cmd)),
        on_exec_end=lambda cid, cmd, code, res: ends.append((cid, cmd, code, res)),
    )
    peer = srv.check()
    assert status == "SUCCESS"
    assert chan.variables["AGISTATUS"] == "SUCCESS"
    assert chan.variables["ACD_ROUTE"] == "support"
    assert chan.state == 6
    # Same headers, same order; values equal except the request's port and the thread id.
    assert [k for k, _ in peer.env] == [k for k, _ in CAPTURE_ENV]
    expected = dict(CAPTURE_ENV, agi_request=url)
    got = dict(peer.env)
    assert got.pop("agi_threadid").isdigit()
    expected.pop("agi_threadid")
    assert got == expected
    commands = [cmd for cmd, _ in peer.transcript]
    assert [cmd for _, cmd in starts] == commands
    assert [(cid, cmd) for cid, cmd, _, _ in ends] == starts
    assert {(code, res) for _, _, code, res in ends} == {(200, "Success")}
    assert len({cid for cid, _ in starts}) == 4
    assert ("verbose", "FastAGI stub handled inbound", "1") in chan.log


async def test_nothing_listening_is_failure() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    chan = FakeChannel()
    assert await run_agi(chan, f"agi://127.0.0.1:{port}/inbound") == "FAILURE"
    assert chan.variables["AGISTATUS"] == "FAILURE"


@pytest.mark.parametrize("url", ["http://127.0.0.1/x", "agi:///nohost", "agi://h:notaport/x"])
async def test_bad_url_is_failure(url: str) -> None:
    assert await run_agi(FakeChannel(), url) == "FAILURE"


def test_url_parsing() -> None:
    assert agi.parse_agi_url("agi://127.0.0.1/ivr/main?lang=en") == agi.AgiUrl(
        "127.0.0.1", 4573, "ivr/main?lang=en"
    )
    assert agi.parse_agi_url("AGI://acd:4600").script == ""
    assert agi.split_agi_args('agi://h/x,100,"a,b"') == ("agi://h/x", ["100", "a,b"])
    with pytest.raises(ValueError):
        agi.split_agi_args("")


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ('SET VARIABLE ACD_ROUTE "support"', ["SET", "VARIABLE", "ACD_ROUTE", "support"]),
        ('STREAM FILE welcome ""', ["STREAM", "FILE", "welcome", ""]),
        ('VERBOSE "two  spaces" 1', ["VERBOSE", "two  spaces", "1"]),
        ('SET VARIABLE X "say \\"hi\\""', ["SET", "VARIABLE", "X", 'say "hi"']),
        ("GET   DATA\tbeep 3000", ["GET", "DATA", "beep", "3000"]),
        ('EXEC Dial "PJSIP/a,20"', ["EXEC", "Dial", "PJSIP/a,20"]),
    ],
)
def test_command_parsing(line: str, words: list[str]) -> None:
    assert agi.parse_command(line) == words


async def test_error_answers(serve: Callable[[Script], Awaitable[AgiServer]]) -> None:
    async def script(peer: AgiPeer) -> None:
        assert await peer.send("FLY ME TO THE MOON") == "510 Invalid or unknown command"
        assert await peer.send("GET VARIABLE", 3) == (
            "520-Invalid command syntax.  Proper usage follows:\n"
            "Usage: GET VARIABLE <variablename>\n"
            "520 End of proper usage."
        )
        assert (await peer.send("WAIT FOR DIGIT soon", 3)).startswith("520-")
        assert await peer.send("GET VARIABLE NOPE") == "200 result=0"
        assert await peer.send("get variable CHANNEL") == "200 result=1 (PJSIP/caller-00000000)"
        assert await peer.send("CHANNEL STATUS") == "200 result=4"
        assert await peer.send("CHANNEL STATUS PJSIP/other-1") == "200 result=-1"
        assert await peer.send("NOOP anything at all") == "200 result=0"
        assert await peer.send("ANSWER please") == "200 result=0"  # extra words ignored

    srv = await serve(script)
    ends: list[tuple[int, str]] = []
    status = await run_agi(
        FakeChannel(), srv.url(), on_exec_end=lambda _i, _c, code, res: ends.append((code, res))
    )
    srv.check()
    assert status == "SUCCESS"
    assert ends[:3] == [(510, "Invalid or unknown command"), (520, "Usage"), (520, "Usage")]


async def test_media_commands(serve: Callable[[Script], Awaitable[AgiServer]]) -> None:
    async def script(peer: AgiPeer) -> None:
        assert await peer.send('STREAM FILE welcome ""') == "200 result=0 endpos=8000"
        assert await peer.send("STREAM FILE welcome 12") == "200 result=50 endpos=1600"
        assert await peer.send("GET DATA enter-account 3000 4") == "200 result=4711"
        assert await peer.send("GET DATA enter-account 3000 6") == "200 result=99"
        assert await peer.send("GET DATA beep 2000 4") == "200 result=5 (timeout)"
        assert await peer.send("GET DATA beep") == "200 result= (timeout)"
        assert await peer.send("WAIT FOR DIGIT -1") == "200 result=0"

    srv = await serve(script)
    chan = FakeChannel(dtmf=["2", "4", "7", "1", "1", "9", "9", "#", "5"])
    assert await run_agi(chan, srv.url()) == "SUCCESS"
    srv.check()
    assert ("get_data", "beep", "0", "1024") in chan.log
    assert ("stream_file", "welcome", "", "0") in chan.log
    assert chan.variables["PLAYBACKSTATUS"] == "FAILED"  # the last playback was interrupted


async def test_set_get_full_variable_and_exec(
    serve: Callable[[Script], Awaitable[AgiServer]],
) -> None:
    async def script(peer: AgiPeer) -> None:
        assert await peer.send("SET VARIABLE __ACD_DNIS 100") == "200 result=1"
        # Asterisk checks no argument count here: no value, nothing set.
        assert await peer.send("SET VARIABLE X") == "200 result=1"
        assert (
            await peer.send("GET FULL VARIABLE ${ACD_DNIS}-${EXTEN:1}") == "200 result=1 (100-00)"
        )
        assert await peer.send("EXEC Wait 5") == "200 result=0"
        assert await peer.send("EXEC NoSuchApp x") == "200 result=-2"

    srv = await serve(script)
    chan = FakeChannel()
    chan.variables["ACD_DNIS"] = "100"
    assert await run_agi(chan, srv.url()) == "SUCCESS"
    srv.check()
    assert chan.variables["__ACD_DNIS"] == "100"
    assert "X" not in chan.variables
    assert ("exec", "Wait", "5") in chan.log


async def test_failed_command_on_live_channel_means_failure(
    serve: Callable[[Script], Awaitable[AgiServer]],
) -> None:
    async def script(peer: AgiPeer) -> None:
        # An application returning -1 is passed through, not counted as a failure.
        assert await peer.send("EXEC Fail now") == "200 result=-1"
        # A missing sound file is a failure on a live channel; the session goes on.
        assert await peer.send('STREAM FILE no-such-file "" 40') == "200 result=-1 endpos=40"
        assert await peer.send("NOOP") == "200 result=0"

    srv = await serve(script)
    ends: list[tuple[int, str]] = []
    chan = FakeChannel()
    status = await run_agi(
        chan, srv.url(), on_exec_end=lambda _i, _c, code, res: ends.append((code, res))
    )
    srv.check()
    assert status == "FAILURE"
    assert ends == [(200, "Unknown Result"), (-1, "Failure"), (200, "Success")]


async def test_failure_line_ends_the_session(
    serve: Callable[[Script], Awaitable[AgiServer]],
) -> None:
    async def script(peer: AgiPeer) -> None:
        peer.writer.write(b"FAILURE\n")
        await peer.writer.drain()
        assert await peer.line() == "HANGUP"
        assert await asyncio.wait_for(peer.reader.read(), 5) == b""

    srv = await serve(script)
    assert await run_agi(FakeChannel(), srv.url()) == "FAILURE"
    srv.check()


async def test_caller_hangs_up_while_idle(serve: Callable[[Script], Awaitable[AgiServer]]) -> None:
    chan = FakeChannel()

    async def script(peer: AgiPeer) -> None:
        assert await peer.send("ANSWER") == "200 result=0"
        chan.caller_hangs_up()
        assert await peer.line() == "HANGUP"
        dead = "511 Command Not Permitted on a dead channel or intercept routine"
        assert await peer.send('STREAM FILE welcome ""') == dead
        assert await peer.send("GET DATA beep") == dead
        assert await peer.send("GET VARIABLE CHANNEL") == "200 result=1 (PJSIP/caller-00000000)"
        assert await peer.send("SET VARIABLE DONE yes") == "200 result=1"

    srv = await serve(script)
    ends: list[int] = []
    status = await run_agi(chan, srv.url(), on_exec_end=lambda _i, _c, code, _r: ends.append(code))
    srv.check()
    assert status == "HANGUP"
    assert chan.variables["AGISTATUS"] == "HANGUP"
    assert ends == [200, 511, 511, 200, 200]


async def test_caller_hangs_up_during_playback(
    serve: Callable[[Script], Awaitable[AgiServer]],
) -> None:
    async def script(peer: AgiPeer) -> None:
        assert await peer.send('STREAM FILE welcome "#"') == "200 result=-1 endpos=800"
        assert await peer.line() == "HANGUP"
        assert (await peer.send("WAIT FOR DIGIT 1000")).startswith("511 ")

    srv = await serve(script)
    chan = FakeChannel(hang_up_during_media=True)
    assert await run_agi(chan, srv.url()) == "HANGUP"
    srv.check()


async def test_script_hangs_up_the_call(serve: Callable[[Script], Awaitable[AgiServer]]) -> None:
    async def script(peer: AgiPeer) -> None:
        assert await peer.send("HANGUP") == "200 result=1"
        assert await peer.line() == "HANGUP"

    srv = await serve(script)
    chan = FakeChannel()
    assert await run_agi(chan, srv.url()) == "HANGUP"
    srv.check()
    assert ("hangup",) in chan.log


async def test_exit_on_hangup_closes_the_session(
    serve: Callable[[Script], Awaitable[AgiServer]],
) -> None:
    chan = FakeChannel(variables={"AGIEXITONHANGUP": "yes"})

    async def script(peer: AgiPeer) -> None:
        chan.caller_hangs_up()
        assert await peer.line() == "HANGUP"
        # Asterisk says HANGUP again as it leaves, then closes.
        assert await peer.line() == "HANGUP"
        assert await asyncio.wait_for(peer.reader.read(), 5) == b""

    srv = await serve(script)
    assert await run_agi(chan, srv.url()) == "HANGUP"
    srv.check()


async def test_agisighup_no_suppresses_hangup_lines(
    serve: Callable[[Script], Awaitable[AgiServer]],
) -> None:
    chan = FakeChannel(variables={"AGISIGHUP": "no"})

    async def script(peer: AgiPeer) -> None:
        chan.caller_hangs_up()
        await asyncio.sleep(0.05)
        # No HANGUP line came: the first thing read is the answer to this command.
        assert (await peer.send("ANSWER")).startswith("511 ")

    srv = await serve(script)
    assert await run_agi(chan, srv.url()) == "HANGUP"
    srv.check()


async def test_works_with_panoramisk_fastagi_server() -> None:
    from panoramisk import fast_agi

    seen: dict[str, object] = {}

    async def inbound(request: fast_agi.Request) -> None:
        seen["headers"] = dict(request.headers)
        seen["answer"] = await request.send_command("ANSWER")
        seen["set"] = await request.send_command('SET VARIABLE ACD_ROUTE "support"')
        seen["get"] = await request.send_command("GET VARIABLE CHANNEL")
        seen["data"] = await request.send_command("GET DATA enter-account 3000 4")

    app = fast_agi.Application()
    app.add_route("inbound", inbound)
    server = await asyncio.start_server(app.handler, "127.0.0.1", 0)
    try:
        port = server.sockets[0].getsockname()[1]
        chan = FakeChannel(dtmf=list("1234"))
        status = await run_agi(chan, f"agi://127.0.0.1:{port}/inbound", ["100"])
    finally:
        server.close()
        await server.wait_closed()
    assert status == "SUCCESS"
    headers = seen["headers"]
    assert isinstance(headers, dict)
    assert headers["agi_channel"] == "PJSIP/caller-00000000"
    assert headers["agi_arg_1"] == "100"
    assert seen["answer"] == {"status_code": 200, "result": ("0", ""), "msg": ""}
    assert seen["get"] == {
        "status_code": 200,
        "result": ("1", "PJSIP/caller-00000000"),
        "msg": "",
    }
    assert seen["data"] == {"status_code": 200, "result": ("1234", ""), "msg": ""}
    assert chan.variables["ACD_ROUTE"] == "support"


@given(st.lists(st.text(alphabet='ab "\\\t1', max_size=6), min_size=1, max_size=5))
def test_command_parsing_round_trip(words: list[str]) -> None:
    # A client that quotes every word and escapes quotes and backslashes gets them back.
    line = " ".join('"' + w.replace("\\", "\\\\").replace('"', '\\"') + '"' for w in words)
    assert agi.parse_command(line) == words


@pytest.mark.parametrize(
    ("number", "files"),
    [
        (0, ["digits/0"]),
        (7, ["digits/7"]),
        (15, ["digits/15"]),
        (20, ["digits/20"]),
        (42, ["digits/40", "digits/2"]),
        (100, ["digits/1", "digits/hundred"]),
        (115, ["digits/1", "digits/hundred", "digits/15"]),
        (1234, ["digits/1", "digits/thousand", "digits/2", "digits/hundred", "digits/30",
                "digits/4"]),
        (2000005, ["digits/2", "digits/million", "digits/5"]),
        (-5, ["digits/minus", "digits/5"]),
    ],
)  # fmt: skip
def test_number_files(number: int, files: list[str]) -> None:
    assert agi.number_files(number) == files


async def test_say_digits_and_number(serve: Callable[[Script], Awaitable[AgiServer]]) -> None:
    async def script(peer: AgiPeer) -> None:
        assert await peer.send('SAY DIGITS 12 ""') == "200 result=0"
        assert await peer.send("SAY NUMBER 42 5") == "200 result=53"  # '5' interrupts
        assert (await peer.send("SAY NUMBER abc 5", 3)).startswith("520-")
        assert await peer.send('SAY DIGITS 99 ""') == "200 result=-1"  # no such sound

    srv = await serve(script)
    chan = FakeChannel(dtmf=["5"], sounds={"digits/1", "digits/2", "digits/40"})
    # A failed playback on a live channel ends the session, as in Asterisk.
    assert await run_agi(chan, srv.url()) == "FAILURE"
    srv.check()
    played = [entry[1] for entry in chan.log if entry[0] == "stream_file"]
    assert played == ["digits/1", "digits/2", "digits/40", "digits/9"]


async def test_server_closing_mid_session(serve: Callable[[Script], Awaitable[AgiServer]]) -> None:
    async def script(peer: AgiPeer) -> None:
        peer.writer.write(b'ANSWER\nSTREAM FILE welcome ""\n')
        await peer.writer.drain()
        # Leave without reading the answers.

    srv = await serve(script)
    chan = FakeChannel()
    assert await run_agi(chan, srv.url()) == "SUCCESS"
    srv.check()
    assert chan.variables["AGISTATUS"] == "SUCCESS"


async def test_overlong_command_line_fails_the_session(
    serve: Callable[[Script], Awaitable[AgiServer]],
) -> None:
    async def script(peer: AgiPeer) -> None:
        peer.writer.write(b"VERBOSE " + b"x" * 200_000 + b"\n")
        await peer.writer.drain()
        assert await asyncio.wait_for(peer.reader.read(), 5) == b"HANGUP\n"

    srv = await serve(script)
    assert await run_agi(FakeChannel(), srv.url()) == "FAILURE"
    srv.check()
