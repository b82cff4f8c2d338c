"""AudioSocket: the protocol of Asterisk's ``AudioSocket`` application and channel
(res_audiosocket), server and client on asyncio.

Every message is a 3-byte header (kind: 1 byte; payload length: 2 bytes, big-endian) and the
payload. Asterisk opens the TCP connection, sends the stream's UUID first (16 bytes, binary),
then 20 ms frames of audio; either side ends with a hang-up message or by closing.

| kind | payload |
| --- | --- |
| 0x00 hang-up | none |
| 0x01 UUID | 16 bytes, binary |
| 0x03 DTMF | 1 ASCII digit (newer Asterisk) |
| 0x10 audio | signed linear 16-bit little-endian, 8 kHz mono |
| 0x11 audio | the same at 16 kHz (newer Asterisk) |
| 0xff error | optional error code (Asterisk: 0x01 hang-up, 0x02 frame forwarding, 0x04 memory) |

The server here only listens (the media fork needs no audio back). A malformed message closes
that one connection with a log line naming what was wrong; other connections go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import struct
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)

HEADER = struct.Struct(">BH")
MAX_PAYLOAD = 0xFFFF
FRAME_MS = 20
READ_SIZE = 65536
RATES = {0x10: 8000, 0x11: 16000}


class Kind(enum.IntEnum):
    HANGUP = 0x00
    UUID = 0x01
    DTMF = 0x03
    AUDIO = 0x10
    AUDIO_SLIN16 = 0x11
    ERROR = 0xFF


# Kinds newer Asterisk versions send for higher sample rates (0x12-0x18): well-formed, but
# the scorer takes 8 and 16 kHz only, so such a stream is refused with a clear reason.
_HIGH_RATE_KINDS = range(0x12, 0x19)


class ProtocolError(ValueError):
    """A message that breaks the protocol; the text says what was expected."""


def encode(kind: int, payload: bytes = b"") -> bytes:
    if len(payload) > MAX_PAYLOAD:
        raise ProtocolError(f"payload: {len(payload)} bytes, expected at most {MAX_PAYLOAD}")
    return HEADER.pack(kind, len(payload)) + payload


def encode_uuid(stream_id: uuid.UUID) -> bytes:
    return encode(Kind.UUID, stream_id.bytes)


def encode_audio(pcm: bytes, rate: int = 8000) -> bytes:
    kind = Kind.AUDIO if rate == 8000 else Kind.AUDIO_SLIN16
    return encode(kind, pcm)


def check(kind: int, payload: bytes, *, first: bool) -> None:
    """Raise ProtocolError unless ``kind``/``payload`` is a well-formed message here."""
    if first and kind != Kind.UUID:
        raise ProtocolError(f"kind 0x{kind:02x} before the UUID; expected a UUID message (0x01)")
    if kind == Kind.UUID:
        if not first:
            raise ProtocolError("a second UUID message; expected one per connection")
        if len(payload) != 16:
            raise ProtocolError(f"UUID payload of {len(payload)} bytes; expected 16")
    elif kind in RATES:
        if len(payload) % 2:
            raise ProtocolError(
                f"audio payload of {len(payload)} bytes; expected whole 16-bit samples"
            )
    elif kind == Kind.DTMF:
        if len(payload) != 1:
            raise ProtocolError(f"DTMF payload of {len(payload)} bytes; expected 1 digit")
    elif kind in _HIGH_RATE_KINDS:
        raise ProtocolError(
            f"audio kind 0x{kind:02x} (a rate above 16 kHz); expected 0x10 (8 kHz) or "
            "0x11 (16 kHz): set the channel's codec to slin or slin16"
        )
    elif kind not in (Kind.HANGUP, Kind.ERROR):
        raise ProtocolError(
            f"unknown kind 0x{kind:02x}; expected 0x00, 0x01, 0x03, 0x10, 0x11 or 0xff"
        )


@dataclass(frozen=True, slots=True)
class Peer:
    host: str
    port: int


class StreamSink(Protocol):
    """Where one connection's audio goes."""

    def audio(self, pcm: bytes, rate: int) -> None: ...

    def closed(self, reason: str) -> None: ...


# Called with the stream's UUID once it arrived; None refuses the stream (closed at once).
OpenStream = Callable[[uuid.UUID, Peer], StreamSink | None]


class AudioSocketServer:
    """Accepts AudioSocket connections and hands each stream's audio to a sink."""

    def __init__(
        self,
        host: str,
        port: int,
        open_stream: OpenStream,
        *,
        idle_timeout: float | None = 60.0,
    ) -> None:
        self.host = host
        self._port = port
        self._open = open_stream
        self._idle = idle_timeout
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.Task[None]] = set()
        self.accepted = 0
        self.refused = 0  # malformed, unknown UUID, or a failing sink

    @property
    def port(self) -> int:
        if self._server is not None and self._server.sockets:
            return int(self._server.sockets[0].getsockname()[1])
        return self._port

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, self._port)
        log.info("audiosocket listening on %s:%d", self.host, self.port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None
        for task in list(self._conns):
            task.cancel()
        await asyncio.gather(*self._conns, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._conns.add(task)
        address = writer.get_extra_info("peername") or ("?", 0)
        peer = Peer(str(address[0]), int(address[1]))
        self.accepted += 1
        try:
            await self._serve(reader, peer)
        except asyncio.CancelledError:
            # The server is closing. Ending normally: asyncio's stream server logs a
            # cancelled connection task as an error.
            pass
        finally:
            if task is not None:
                self._conns.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _chunks(self, reader: asyncio.StreamReader) -> AsyncIterator[bytes]:
        """Whatever TCP delivered, until the peer closes. One read (and one idle timer) per
        chunk, not two per message: Asterisk sends a message every 20 ms per stream."""
        while True:
            if self._idle is None:
                data = await reader.read(READ_SIZE)
            else:
                async with asyncio.timeout(self._idle):
                    data = await reader.read(READ_SIZE)
            if not data:
                return
            yield data

    async def _serve(self, reader: asyncio.StreamReader, peer: Peer) -> None:
        stream = _Stream(self, peer)
        deframer = Deframer()
        try:
            async for data in self._chunks(reader):
                for kind, payload in deframer.feed(data):
                    if not stream.message(kind, payload):
                        return
            deframer.end()
            stream.reason = "closed"
        except ProtocolError as exc:
            self.refused += 1
            stream.reason = f"malformed: {exc}"
            log.warning(
                "audiosocket stream %s from %s:%d: malformed message, closed: %s",
                stream.stream_id,
                peer.host,
                peer.port,
                exc,
            )
        except TimeoutError:
            stream.reason = "idle"
            log.warning(
                "audiosocket stream %s: nothing for %s s, closed", stream.stream_id, self._idle
            )
        except (ConnectionError, OSError) as exc:
            stream.reason = f"connection: {exc}"
        except Exception as exc:  # a failing sink costs this stream only
            self.refused += 1
            stream.reason = f"sink failed: {exc}"
            log.exception("audiosocket stream %s: sink failed", stream.stream_id)
        finally:
            stream.close()


class _Stream:
    """One connection's state: its UUID, its sink, why it ended."""

    def __init__(self, server: AudioSocketServer, peer: Peer) -> None:
        self.server = server
        self.peer = peer
        self.stream_id: uuid.UUID | None = None
        self.sink: StreamSink | None = None
        self.reason = "closed"

    def message(self, kind: int, payload: bytes) -> bool:
        """Handle one message; False ends the connection (reason set)."""
        if kind in RATES and self.sink is not None:  # the common case first
            if len(payload) % 2:
                check(kind, payload, first=False)
            if payload:
                self.sink.audio(payload, RATES[kind])
            return True
        check(kind, payload, first=self.stream_id is None)
        if kind == Kind.UUID:
            self.stream_id = uuid.UUID(bytes=payload)
            self.sink = self.server._open(self.stream_id, self.peer)
            if self.sink is None:
                self.server.refused += 1
                self.reason = "unknown stream"
                log.warning(
                    "audiosocket stream %s from %s:%d: no call knows this UUID; closed",
                    self.stream_id,
                    self.peer.host,
                    self.peer.port,
                )
                return False
        elif kind == Kind.HANGUP:
            self.reason = "hangup"
            return False
        elif kind == Kind.ERROR:
            code = payload.hex() or "none"
            log.warning("audiosocket stream %s: peer sent error %s", self.stream_id, code)
            self.reason = f"error {code}"
            return False
        # DTMF: nothing to score.
        return True

    def close(self) -> None:
        if self.sink is not None:
            try:
                self.sink.closed(self.reason)
            except Exception:
                log.exception("audiosocket stream %s: sink close failed", self.stream_id)


class Deframer:
    """Bytes in any cuts -> whole messages (kind, payload), in order."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        buf = self._buf
        buf += data
        out: list[tuple[int, bytes]] = []
        at, size = 0, len(buf)
        while size - at >= 3:
            kind, length = HEADER.unpack_from(buf, at)
            if size - at - 3 < length:
                break
            out.append((kind, bytes(buf[at + 3 : at + 3 + length])))
            at += 3 + length
        del buf[:at]
        return out

    def end(self) -> None:
        """The peer closed: a partial message left over is a protocol error."""
        if not self._buf:
            return
        if len(self._buf) < 3:
            raise ProtocolError(f"connection closed inside a header ({len(self._buf)} of 3 bytes)")
        kind, length = HEADER.unpack_from(self._buf, 0)
        raise ProtocolError(
            f"connection closed inside a kind 0x{kind:02x} payload "
            f"({len(self._buf) - 3} of {length} bytes)"
        )


class AudioSocketClient:
    """The PBX side: connect, send the UUID, stream audio, hang up (used by the simulator)."""

    def __init__(self, writer: asyncio.StreamWriter, reader: asyncio.StreamReader) -> None:
        self._writer = writer
        self._reader = reader

    @classmethod
    async def connect(cls, host: str, port: int, stream_id: uuid.UUID) -> AudioSocketClient:
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(encode_uuid(stream_id))
        await writer.drain()
        return cls(writer, reader)

    @property
    def closing(self) -> bool:
        return self._writer.is_closing() or self._reader.at_eof()

    async def send_audio(self, pcm: bytes, rate: int = 8000) -> None:
        self._writer.write(encode_audio(pcm, rate))
        await self._writer.drain()

    async def send_raw(self, data: bytes) -> None:
        self._writer.write(data)
        await self._writer.drain()

    async def close(self, *, hangup: bool = True) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            if hangup and not self._writer.is_closing():
                self._writer.write(encode(Kind.HANGUP))
                await self._writer.drain()
        self._writer.close()
        with contextlib.suppress(Exception):
            await self._writer.wait_closed()
