"""Bad client input gets the answers a real Asterisk 22 gave (errors/ captures)."""

from __future__ import annotations

import asyncio

import pytest

from pbx.sim.runtime import Simulator
from tests.sim.captures import ERRORS, Client, blocks, normalize

CASES = ["e2", "e3", "e4", "e5", "e6", "e7", "e8"]


def _load(name: str) -> tuple[bytes, bytes]:
    sent = next(ERRORS.glob(f"*_{name}_*.sent"))
    return sent.read_bytes(), sent.with_suffix(".raw").read_bytes()


@pytest.mark.parametrize("name", CASES)
async def test_error_capture_is_reproduced(sim: Simulator, name: str) -> None:
    sent, raw = _load(name)
    expected = blocks(raw)
    client = await Client.connect(sim.ami_port)
    await client.send(sent)  # all at once: pipelined input must be handled in order
    await client.wait_for(lambda got: len(got) >= len(expected))
    await asyncio.sleep(0.05)
    got = client.blocks()
    assert [normalize(b) for b in got] == [normalize(b) for b in expected]
    assert client.data.startswith(b"Asterisk Call Manager/11.0.0\r\n")
    await client.close()


async def test_bad_secret_is_answered_then_closed(sim: Simulator) -> None:
    sent, raw = _load("e1")
    client = await Client.connect(sim.ami_port)
    await client.send(sent)
    await client.wait_eof()
    assert bytes(client.data) == raw


async def test_session_survives_and_others_unaffected(sim: Simulator) -> None:
    """A half-sent frame then a disconnect, and garbage, hurt nobody else."""
    good = await Client.connect(sim.ami_port)
    await good.send(b"Action: Login\r\nUsername: acd\r\nSecret: acdsecret\r\nEvents: off\r\n\r\n")
    bad = await Client.connect(sim.ami_port)
    await bad.send(b"Action: Login\r\nUsername: acd\r\nSecr")
    await bad.close()
    junk = await Client.connect(sim.ami_port)
    await junk.send(b"\x00\xff\xfe garbage\r\n" * 50 + b"\r\n")
    await junk.wait_for(lambda got: len(got) >= 1)
    assert dict(junk.blocks()[0])["Message"] == "Missing action in request"
    await good.send(b"Action: Ping\r\nActionID: after\r\n\r\n")
    await good.wait_for(lambda got: any(dict(b).get("ActionID") == "after" for b in got))
    await good.close()
    await junk.close()


async def test_client_that_never_reads_is_dropped(sim: Simulator) -> None:
    sim.ami.config.max_output_bytes = 64 * 1024
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.ami_port)
    writer.write(b"Action: Login\r\nUsername: acd\r\nSecret: acdsecret\r\n\r\n")
    await writer.drain()
    await asyncio.wait_for(reader.readuntil(b"Authentication accepted\r\n\r\n"), 5)
    assert any(s.authenticated for s in sim.ami.sessions)
    # Flood events at a client that reads nothing; the server must cut it off, not grow.
    from pbx.sim.ami import events as ev

    for i in range(200_000):
        sim.pbx.emit(ev.user_event("Flood", [("N", str(i)), ("Pad", "x" * 200)]))
        if not sim.ami.sessions:
            break
    assert not sim.ami.sessions
    other = await Client.connect(sim.ami_port)
    await other.send(b"Action: Login\r\nUsername: acd\r\nSecret: acdsecret\r\n\r\n")
    await other.wait_for(lambda got: len(got) >= 1)
    writer.close()
    await other.close()
