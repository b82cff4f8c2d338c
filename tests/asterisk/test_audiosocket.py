"""The AudioSocket server over a real TCP socket: well-formed streams reach their sink, and a
malformed message closes that one connection (with the reason), never the server."""

from __future__ import annotations

import asyncio
import logging
import struct
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from pbx.asterisk.audiosocket import (
    AudioSocketClient,
    AudioSocketServer,
    Kind,
    Peer,
    ProtocolError,
    encode,
    encode_audio,
    encode_uuid,
)

KNOWN = uuid.UUID("6f1c1e0e-3b7a-4c61-9c55-0d3f1c2b7a10")
FRAME = bytes(range(256)) + bytes(64)  # 320 bytes: 20 ms of 8 kHz slin


@dataclass
class Sink:
    chunks: list[tuple[bytes, int]] = field(default_factory=list)
    reason: str | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def audio(self, pcm: bytes, rate: int) -> None:
        self.chunks.append((pcm, rate))

    def closed(self, reason: str) -> None:
        self.reason = reason
        self.done.set()


@dataclass
class Harness:
    server: AudioSocketServer
    sinks: dict[uuid.UUID, Sink]

    async def sink(self, stream_id: uuid.UUID) -> Sink:
        """The stream's sink once it has ended (the server works at its own pace)."""
        for _ in range(500):
            if stream_id in self.sinks:
                break
            await asyncio.sleep(0.01)
        found = self.sinks[stream_id]
        await asyncio.wait_for(found.done.wait(), 5)
        return found

    async def raw(self, data: bytes) -> bytes:
        """Send bytes, half-close, and return what the server sent back before closing."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.server.port)
        writer.write(data)
        await writer.drain()
        back = await asyncio.wait_for(reader.read(), 5)  # EOF: the server closed
        writer.close()
        return back


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    sinks: dict[uuid.UUID, Sink] = {}

    def open_stream(stream_id: uuid.UUID, peer: Peer) -> Sink | None:
        if stream_id != KNOWN and stream_id.hex[:4] != "aaaa":
            return None
        sink = sinks[stream_id] = Sink()
        return sink

    server = AudioSocketServer("127.0.0.1", 0, open_stream, idle_timeout=5)
    await server.start()
    try:
        yield Harness(server, sinks)
    finally:
        await server.close()


def test_encoding_is_header_kind_and_big_endian_length() -> None:
    assert encode(Kind.HANGUP) == b"\x00\x00\x00"
    assert encode_uuid(KNOWN) == b"\x01\x00\x10" + KNOWN.bytes
    assert encode_audio(FRAME)[:3] == b"\x10\x01\x40"  # 320 = 0x0140
    assert encode_audio(FRAME, 16000)[0] == 0x11
    with pytest.raises(ProtocolError, match="at most 65535"):
        encode(Kind.AUDIO, bytes(70000))


async def test_a_stream_reaches_its_sink_in_order_and_ends_on_hangup(harness: Harness) -> None:
    client = await AudioSocketClient.connect("127.0.0.1", harness.server.port, KNOWN)
    frames = [bytes([i]) * 320 for i in range(50)]
    for frame in frames:
        await client.send_audio(frame)
    await client.send_raw(encode(Kind.DTMF, b"5"))  # ignored, not an error
    await client.close(hangup=True)
    sink = await harness.sink(KNOWN)
    assert sink.reason == "hangup"
    assert b"".join(c for c, _ in sink.chunks) == b"".join(frames)
    assert {rate for _, rate in sink.chunks} == {8000}


async def test_frames_split_across_tcp_writes_are_reassembled(harness: Harness) -> None:
    data = encode_uuid(KNOWN) + encode_audio(FRAME) + encode_audio(FRAME, 16000)
    _, writer = await asyncio.open_connection("127.0.0.1", harness.server.port)
    for i in range(len(data)):  # one byte at a time
        writer.write(data[i : i + 1])
        await writer.drain()
    writer.close()
    sink = await harness.sink(KNOWN)
    assert sink.chunks == [(FRAME, 8000), (FRAME, 16000)] and sink.reason == "closed"


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (encode_audio(FRAME), "before the UUID"),
        (encode(Kind.UUID, KNOWN.bytes[:15]), "UUID payload of 15 bytes"),
        (encode_uuid(KNOWN) + encode_uuid(KNOWN), "a second UUID"),
        (encode_uuid(KNOWN) + encode(Kind.AUDIO, b"\x01\x02\x03"), "whole 16-bit samples"),
        (encode_uuid(KNOWN) + encode(0x42, b"x"), "unknown kind 0x42"),
        (encode_uuid(KNOWN) + encode(0x12, FRAME), "rate above 16 kHz"),
        (encode_uuid(KNOWN) + encode(Kind.DTMF, b"12"), "DTMF payload of 2 bytes"),
        (encode_uuid(KNOWN) + struct.pack(">BH", 0x10, 320) + FRAME[:100], "100 of 320"),
        (encode_uuid(KNOWN) + b"\x10\x01", "inside a header"),
    ],
)
async def test_malformed_messages_close_that_connection_with_the_reason(
    harness: Harness, data: bytes, why: str, caplog: pytest.LogCaptureFixture
) -> None:
    # A healthy stream runs alongside and must not notice.
    healthy_id = uuid.UUID("aaaa0000-0000-4000-8000-000000000001")
    healthy = await AudioSocketClient.connect("127.0.0.1", harness.server.port, healthy_id)
    await healthy.send_audio(FRAME)
    with caplog.at_level(logging.WARNING, logger="pbx.asterisk.audiosocket"):
        reader, writer = await asyncio.open_connection("127.0.0.1", harness.server.port)
        writer.write(data)
        await writer.drain()
        if not why.startswith(("100 of", "inside")):
            assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by the server
        else:
            writer.write_eof()
            assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()
    assert any(why in r.getMessage() for r in caplog.records), caplog.text
    sink = harness.sinks.get(KNOWN)
    if sink is not None:  # the UUID came first: its sink hears why the stream ended
        await asyncio.wait_for(sink.done.wait(), 5)
        assert sink.reason is not None and sink.reason.startswith("malformed")
    await healthy.send_audio(FRAME)
    await healthy.close()
    other = await harness.sink(healthy_id)
    assert other.reason == "hangup" and len(other.chunks) == 2
    assert harness.server.refused == 1


async def test_unknown_stream_and_peer_error_are_closed(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="pbx.asterisk.audiosocket"):
        stranger = uuid.UUID("12345678-1234-4234-8234-123456789abc")
        assert await harness.raw(encode_uuid(stranger) + encode_audio(FRAME)) == b""
    assert "no call knows this UUID" in caplog.text and stranger not in harness.sinks
    await harness.raw(encode_uuid(KNOWN) + encode_audio(FRAME) + encode(Kind.ERROR, b"\x02"))
    sink = await harness.sink(KNOWN)
    assert sink.reason == "error 02" and len(sink.chunks) == 1


async def test_a_failing_sink_costs_only_its_stream(harness: Harness) -> None:
    class Broken(Sink):
        def audio(self, pcm: bytes, rate: int) -> None:
            raise ValueError("audio at 16000 Hz; expected 8000 Hz")

    broken = Broken()
    server = AudioSocketServer("127.0.0.1", 0, lambda sid, peer: broken)
    await server.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(encode_uuid(KNOWN) + encode_audio(FRAME))
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()
        await asyncio.wait_for(broken.done.wait(), 5)
        assert broken.reason is not None and "expected 8000 Hz" in broken.reason
        # The server still accepts.
        client = await AudioSocketClient.connect("127.0.0.1", server.port, KNOWN)
        await client.close()
        assert server.accepted == 2
    finally:
        await server.close()
