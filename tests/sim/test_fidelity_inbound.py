"""Capture 06 up to the queue: a PJSIP trunk call runs FastAGI (against a stub server on a free
port), waits on hold and is redirected by AMI. Queue() itself is not simulated: the call is
hung up when it reaches it, after the same events as Asterisk up to that point."""

from __future__ import annotations

import ast
import asyncio
from collections.abc import AsyncIterator

import pytest

from pbx.sim.inbound import inbound_call
from pbx.sim.runtime import Simulator
from tests.sim.captures import CAPTURES, Client, blocks, capture, diff_streams, replay
from tests.sim.conftest import make_config

STUB_SCRIPT = [
    ("ANSWER", "200 result=0"),
    ('SET VARIABLE ACD_ROUTE "support"', "200 result=1"),
    ("GET VARIABLE CHANNEL", "200 result=1 ({channel})"),
    ('VERBOSE "FastAGI stub handled inbound" 1', "200 result=1"),
]


class FastAgiStub:
    """Plays the script of capture 06's FastAGI stub and records what it received."""

    def __init__(self) -> None:
        self.env: list[tuple[str, str]] = []
        self.replies: list[str] = []
        self.server: asyncio.Server | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            line = (await reader.readline()).decode().rstrip("\n")
            if not line:
                break
            key, _, value = line.partition(": ")
            self.env.append((key, value))
        for command, _ in STUB_SCRIPT:
            writer.write(command.encode() + b"\n")
            await writer.drain()
            self.replies.append((await reader.readline()).decode().rstrip("\n"))
        writer.close()

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])


@pytest.fixture
async def stub() -> AsyncIterator[FastAgiStub]:
    s = FastAgiStub()
    s.server = await asyncio.start_server(s.handle, "127.0.0.1", 0)
    yield s
    s.server.close()


def _expected() -> list[list[tuple[str, str]]]:
    """Capture 06 up to the caller's Answer in the queue extension, plus the Logoff."""
    _, raw = capture("06")
    bs = blocks(raw)
    cut = next(
        i
        for i, b in enumerate(bs)
        if dict(b).get("Event") == "Newexten"
        and dict(b).get("Exten") == "support"
        and dict(b).get("Application") == "Answer"
    )
    return [*bs[: cut + 1], bs[-1]]


async def test_inbound_fastagi_hold_redirect(stub: FastAgiStub) -> None:
    sim = Simulator(
        make_config(time_scale=0.01, globals_override={"FASTAGI": f"agi://127.0.0.1:{stub.port}"})
    )
    await sim.start()
    try:
        sent, _ = capture("06")
        # The dialplan's AGI URL comes from FASTAGI, overridden to the stub's free port.
        expected = [
            [(k, v.replace("127.0.0.1:4573", f"127.0.0.1:{stub.port}")) for k, v in b]
            for b in _expected()
        ]
        client = await Client.connect(sim.ami_port)
        await replay(client, sent[:1], expected[:3])  # login, FullyBooted, SuccessfulAuth
        chan = inbound_call(
            sim.pbx, "100", context="from-pstn", caller_num="caller", caller_name="Caller"
        )
        await replay(client, sent, expected, skip=1)
        problems = diff_streams(expected, client.blocks(), prefix_only=True)
        assert not problems, "\n".join(problems)
        # Queue() is not simulated: the call ends there.
        await asyncio.wait_for(chan.gone.wait(), 5)
        # The stub saw the same agi_* environment keys in the same order as the real one.
        log = next(CAPTURES.glob("*_06_fastagi_stub.log")).read_text()
        real_env = ast.literal_eval(log.split("AGI session env: ", 1)[1].splitlines()[0])
        assert [k for k, _ in stub.env] == list(real_env)
        assert dict(stub.env)["agi_channel"] == chan.name
        assert stub.replies == [r.format(channel=chan.name) for _, r in STUB_SCRIPT]
        await client.close()
    finally:
        await sim.stop()
