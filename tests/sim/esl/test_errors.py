"""Malformed client input gets FreeSWITCH's -ERR replies and never takes the server down."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from pathlib import Path

import pytest

from pbx.sim.esl import codec
from pbx.sim.esl.dialplan import XmlDialplanError, load
from pbx.sim.esl.runtime import FsSimulator
from pbx.sim.esl.server import InboundSession
from tests.sim.esl.conftest import make_sim
from tests.sim.esl.esl_client import EslClient


async def _still_serves(fs: FsSimulator) -> None:
    c = await EslClient.connect(fs.port)
    assert (await c.api("version")).startswith("FreeSWITCH Version 1.10.12")
    await c.close()


async def test_commands_before_auth_are_refused(fs: FsSimulator) -> None:
    c = await EslClient.connect(fs.port, password=None)
    for line in ("api status", "event plain ALL", "\x01\x02garbage\xff"):
        r, _ = await c.command(line)
        assert r == {"Content-Type": "command/reply", "Reply-Text": "-ERR invalid"}
    r, _ = await c.command("auth ClueCon")
    assert r["Reply-Text"] == "+OK accepted"
    await c.close()


async def test_wrong_password_closes_with_notice(fs: FsSimulator) -> None:
    c = await EslClient.connect(fs.port, password=None)
    r, _ = await c.command("auth nope")
    assert r["Reply-Text"] == "-ERR invalid"
    await asyncio.wait_for(c._task, 5)
    assert c.notices and c.notices[0]["Content-Type"] == "text/disconnect-notice"
    await _still_serves(fs)


async def test_unknown_and_malformed_commands(fs: FsSimulator) -> None:
    c = await EslClient.connect(fs.port)
    assert (await c.command("frobnicate now"))[0]["Reply-Text"] == "-ERR command not found"
    assert await c.api("no_such_command") == "-ERR no_such_command Command not found!\n"
    assert (await c.command("filter"))[0]["Reply-Text"] == "-ERR invalid syntax"
    assert (await c.command("filter Unique-ID"))[0]["Reply-Text"] == "-ERR invalid syntax"
    r, _ = await c.command("sendmsg 00000000-0000-0000-0000-000000000000")
    assert r["Reply-Text"] == "-ERR invalid session id [00000000-0000-0000-0000-000000000000]"
    assert await c.api("uuid_kill") == "-USAGE: <uuid> [cause]\n"
    assert await c.api("uuid_kill not-a-channel") == "-ERR No such channel!\n"
    assert await c.api("originate") == (
        "-ERR originate <call url> <exten>|&<application_name>(<app_args>)\n"
    )
    assert await c.api("originate {unterminated loopback/9999") == (
        "-ERR unterminated '{' in dial string\n"
    )
    assert await c.api("originate nosuch/thing &park()") == "-ERR CHAN_NOT_IMPLEMENTED\n"
    assert await c.api("originate user/4242 &park()") == "-ERR SUBSCRIBER_ABSENT\n"
    # The connection is still usable after all of that.
    assert (await c.api("version")).startswith("FreeSWITCH")
    await c.close()


async def test_huge_line_is_refused_and_server_survives(fs: FsSimulator) -> None:
    c = await EslClient.connect(fs.port)
    c.writer.write(b"api " + b"x" * (codec.MAX_COMMAND + 10))
    await c.writer.drain()
    r, _ = await c.reply()
    assert r["Reply-Text"] == "-ERR command too long"
    await asyncio.wait_for(c._task, 5)  # the server hung up on it
    await _still_serves(fs)


async def test_bad_content_length_is_refused(fs: FsSimulator) -> None:
    c = await EslClient.connect(fs.port)
    c.writer.write(b"sendmsg\nContent-Length: -5\n\n")
    r, _ = await c.reply()
    assert r["Reply-Text"] == "-ERR command too long"
    await _still_serves(fs)


async def test_half_frame_then_disconnect(fs: FsSimulator) -> None:
    _, w = await asyncio.open_connection("127.0.0.1", fs.port)
    w.write(b"auth ClueCon\n\napi stat")
    await w.drain()
    w.close()
    await _still_serves(fs)


async def test_frame_split_across_writes_is_reassembled(fs: FsSimulator) -> None:
    c = await EslClient.connect(fs.port)
    for part in (b"ap", b"i vers", b"ion\n", b"\n"):
        c.writer.write(part)
        await c.writer.drain()
        await asyncio.sleep(0.01)
    r, body = await c.reply()
    assert r["Content-Type"] == "api/response" and body.startswith("FreeSWITCH Version")
    await c.close()


def test_decoder_handles_crlf_and_bodies() -> None:
    dec = codec.CommandDecoder()
    cmds = dec.feed(b"api status\r\n\r\nsendmsg x\ncall-command: execute\nContent-Length: 3\n\nabc")
    assert [c.line for c in cmds] == ["api status", "sendmsg x"]
    assert cmds[1].get("call-command") == "execute" and cmds[1].body == "abc"
    assert not dec.pending


def test_url_encoding_matches_freeswitch() -> None:
    # Values copied from the captures' headers.
    assert (
        codec.url_encode("Sat, 21 Nov 2026 19:17:44 GMT")
        == "Sat,%2021%20Nov%202026%2019%3A17%3A44%20GMT"
    )
    assert codec.url_encode("tone_stream://%(300,200,440);loops=3") == (
        "tone_stream%3A//%25(300,200,440)%3Bloops%3D3"
    )
    assert codec.url_encode("fd00::2") == "fd00%3A%3A2"


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ("<include>\n<context name='x'>\n<extension>\n</context>", 4, "not well-formed"),
        ("<include>\n<extension name='e'/>\n</include>", 2, "outside a <context>"),
        (
            "<include><context name='x'>\n<extension name='e'>\n"
            "<condition field='destination_number' expression='^(1'>\n",
            3,
            "not a valid regex",
        ),
        (
            "<include><context name='x'><extension name='e'>\n<condition field='d' expression='1'>"
            "\n<action data='x'/>\n</condition></extension></context></include>",
            3,
            "'application'",
        ),
        (
            # Seen on FreeSWITCH 1.10.12: its line-based pre-processor ran an include written
            # in a comment (the file included itself and FreeSWITCH did not start).
            "<!--\n  Include it with:\n  <x-pre-process cmd='include' data='bad.xml'/>\n-->"
            "\n<include/>",
            3,
            "inside <!-- -->",
        ),
    ],
)
def test_dialplan_errors_name_file_and_line(
    tmp_path: Path, text: str, line: int, needle: str
) -> None:
    f = tmp_path / "bad.xml"
    f.write_text(text)
    with pytest.raises(XmlDialplanError) as err:
        load(f)
    assert err.value.line == line, str(err.value)
    assert str(err.value).startswith(f"{f}:{line}: ") and needle in str(err.value)


async def test_a_client_that_never_reads_loses_events_not_the_server(fs: FsSimulator) -> None:
    fs.server.max_pending = 64 * 1024
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fill up quickly
    sock.connect(("127.0.0.1", fs.port))
    sock.setblocking(False)
    _, stuck = await asyncio.open_connection(sock=sock)
    stuck.write(b"auth ClueCon\n\nevent plain ALL\n\n")  # and never reads again
    await stuck.drain()
    c = await EslClient.connect(fs.port)
    # Each call raises ~40 events of ~2 KB: well beyond what the kernel buffers hold.
    for i in range(150):
        uuid = f"cccccccc-0000-0000-0000-{i:012d}"
        assert (
            await c.api(f"originate {{origination_uuid={uuid}}}loopback/9999 &park()")
        ).startswith("+OK")
    await c.api("version")
    session = next(s for s in fs.server.sessions if s.all_events)
    assert session.dropped > 0
    assert (await c.api("show channels as json")).startswith('{"row_count":300')
    stuck.close()
    await c.close()


async def test_stop_does_not_wait_for_a_client_that_never_reads() -> None:
    fs = make_sim()
    await fs.start()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fill up quickly
    sock.connect(("127.0.0.1", fs.port))
    sock.setblocking(False)
    reader, stuck = await asyncio.open_connection(sock=sock)
    try:
        stuck.write(b"auth ClueCon\n\nevent plain ALL\n\n")  # and never reads again
        await stuck.drain()

        async def subscribed() -> InboundSession:
            while True:
                for s in fs.server.sessions:
                    if s.all_events:
                        return s
                await asyncio.sleep(0.01)

        session = await asyncio.wait_for(subscribed(), 10)
        session.close_drain_timeout = 0.2
        # Far more than the kernel's buffers hold (a few MB to send, 4 KB to receive): most
        # of it stays queued in the simulator.
        session.send(b"x" * (16 * 1024 * 1024))
        assert session.writer.transport.get_write_buffer_size() > 0
        # Closing used to drain with no limit: the stop never returned.
        await asyncio.wait_for(fs.stop(), 30)
        # The connection is released, not left open to flush the rest.
        await asyncio.wait_for(session.writer.wait_closed(), 30)
        received = 0
        with contextlib.suppress(ConnectionError):
            while chunk := await asyncio.wait_for(reader.read(1 << 20), 30):
                received += len(chunk)
        assert received < 16 * 1024 * 1024
    finally:
        # On failure, the simulator's session unwinds once its client is gone.
        stuck.close()


async def test_stop_closes_the_sessions_together() -> None:
    """Each close may wait out its drain timeout; the stop runs them side by side, so N
    stuck clients cost one timeout, not N. Each close here waits until both have begun:
    closed one after the other, the first would never see the second begin."""
    fs = make_sim()
    await fs.start()
    clients = [await EslClient.connect(fs.port) for _ in range(2)]
    for c in clients:
        await c.api("version")
    sessions = list(fs.server.sessions)
    assert len(sessions) == 2
    begun: list[InboundSession] = []
    both = asyncio.Event()
    failures: list[BaseException] = []
    for session in sessions:
        close = session.close

        async def together(session: InboundSession = session, close=close) -> None:
            begun.append(session)
            if len(begun) == len(sessions):
                both.set()
            try:
                await asyncio.wait_for(both.wait(), 5)
            except TimeoutError as exc:
                failures.append(exc)
            await close()

        session.close = together  # type: ignore[method-assign]
    await asyncio.wait_for(fs.stop(), 30)
    for c in clients:
        with contextlib.suppress(Exception):
            await c.close()
    assert failures == [] and both.is_set()


@pytest.mark.parametrize(
    ("spec", "targets"),
    [
        ("127.0.0.1:8084", [("127.0.0.1", 8084)]),
        ("10.0.0.1:8084|10.0.0.2:9000", [("10.0.0.1", 8084), ("10.0.0.2", 9000)]),
        ("acd-a|acd-b:8085", [("acd-a", 8084), ("acd-b", 8085)]),  # no port: 8084
        ("|127.0.0.1:1||", [("127.0.0.1", 1)]),  # empty items skipped ("Missing Host!")
        ("h:8084/path", [("h", 8084)]),  # atoi: the digits before the path
        ("h:x", [("h", 0)]),
        ("", []),
    ],
)
def test_socket_hosts_are_read_as_mod_event_socket_reads_them(
    spec: str, targets: list[tuple[str, int]]
) -> None:
    from pbx.sim.esl.apps import socket_targets

    assert socket_targets(spec) == targets
