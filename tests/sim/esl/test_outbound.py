"""Flow 06: a call answered by the dialplan is handed to an outbound event-socket server.

The test plays both recorded clients at once: the inbound controller (originate, then DTMF
when play_and_get_digits starts) and the outbound server stub (connect, linger, myevents,
getvar, sendmsg execute ... exit), each against what FreeSWITCH sent it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from pbx.sim.esl.runtime import FsSimulator
from tests.sim.esl import replay
from tests.sim.esl.conftest import CAPTURE_DIALPLAN, make_sim

CAPTURED_SOCKET = "127.0.0.1:8084"


async def test_outbound_socket_matches_capture(tmp_path: Path) -> None:
    stub_sent = replay.commands_raw(replay.capture_path("06", "stub-sent-to-fs.raw"))
    stub_recv = replay.frames(replay.capture_path("06", "stub-received-from-fs.raw").read_bytes())
    ctl_sent_path = replay.capture_path("06", "controller-inbound.sent.raw")
    ctl_recv = replay.frames(replay.capture_path("06", "controller-inbound.recv.raw").read_bytes())
    captured_b = dict(stub_recv[0].headers)["Unique-ID"]

    done: asyncio.Future[list[replay.Frame]] = asyncio.get_running_loop().create_future()

    async def stub(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client = replay.Client(reader, writer)
        seen_b: list[str] = []

        def rewrite(raw: bytes) -> bytes:
            # The stub names the channel by the UUID FreeSWITCH gave it; use the simulator's.
            if not seen_b and client.frames:
                seen_b.append(dict(client.frames[0].headers).get("Unique-ID", ""))
            return raw.replace(captured_b.encode(), seen_b[0].encode()) if seen_b else raw

        try:
            await replay.drive(client, stub_sent, stub_recv, rewrite, first_reply_is_greeting=False)
            done.set_result(client.frames)
        except Exception as e:  # surfaced through `done`
            done.set_exception(e)
        finally:
            await client.close()

    server = await asyncio.start_server(stub, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    plan = tmp_path / "default.xml"
    plan.write_text(CAPTURE_DIALPLAN.read_text().replace(CAPTURED_SOCKET, f"127.0.0.1:{port}"))
    # Real-time enough that the digit timeout (3 s) is far above any scheduling stall.
    fs: FsSimulator = make_sim(dialplan_paths=[plan], time_scale=0.3)
    await fs.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", fs.port)
        ctl = replay.Client(reader, writer)
        await replay.drive(ctl, replay.commands_raw(ctl_sent_path), ctl_recv)
        stub_got = await asyncio.wait_for(done, 10)
        await ctl.close()
    finally:
        server.close()
        await fs.stop()

    problems = replay.compare_events(stub_recv, stub_got)
    problems += replay.compare_events(ctl_recv, ctl.frames)
    for sent, cap, got in ((replay.commands_raw(ctl_sent_path), ctl_recv, ctl.frames),):
        _, cl = replay.event_streams(cap)
        _, sl = replay.event_streams(got)
        cmds = replay.commands(ctl_sent_path)
        problems += replay.compare_replies(cmds, replay.replies(cap), replay.replies(got), cl, sl)
        assert sent
    _, cl = replay.event_streams(stub_recv)
    _, sl = replay.event_streams(stub_got)
    stub_cmds = replay.codec.CommandDecoder().feed(b"".join(stub_sent))
    # The stub's first frame answers `connect`; there is no greeting on an outbound socket.
    problems += replay.compare_replies(
        [replay.codec.Command("<none>"), *stub_cmds][1:],
        replay.replies(stub_recv),
        replay.replies(stub_got),
        cl,
        sl,
        greeting=False,
    )
    assert not problems, "\n".join(problems)
