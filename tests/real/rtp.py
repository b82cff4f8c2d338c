"""A phone's audio in the opt-in suites, played and heard by the test itself.

sipp does the signalling; its SDP names a UDP port this module owns (``RtpPeer``), which
streams a tone of its own frequency as 20 ms u-law packets and keeps every payload it
receives. Who hears whom is then a question of frequencies: a frame "has" a tone when that
frequency carries a good share of the frame's energy.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import struct
from typing import cast

import numpy as np

from tests.real.sipp import free_udp_port

FRAME = 160  # samples per 20 ms packet at 8 kHz; bins of 50 Hz, so tones are multiples of 50


def _ulaw_encode(sample: int) -> int:
    bias, clip = 0x84, 32635
    sign = 0x80 if sample < 0 else 0
    magnitude = min(abs(sample), clip) + bias
    exponent = max(0, min(7, magnitude.bit_length() - 8))
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def _ulaw_decode_table() -> np.ndarray:
    table = np.zeros(256, dtype=np.float64)
    for byte in range(256):
        u = ~byte & 0xFF
        sign, exponent, mantissa = u & 0x80, (u >> 4) & 0x07, u & 0x0F
        magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
        table[byte] = -magnitude if sign else magnitude
    return table


_DECODE = _ulaw_decode_table()


def tone_share(payload: bytes, hz: float) -> float:
    """Share of a frame's energy at ``hz`` (0..1); 0 for a silent or short frame."""
    if len(payload) < FRAME:
        return 0.0
    samples = _DECODE[np.frombuffer(payload[:FRAME], dtype=np.uint8)]
    spectrum = np.abs(np.fft.rfft(samples)) ** 2
    total = float(spectrum[1:].sum())
    if total < 1e3:  # u-law "silence" decodes to a few units: no tone in it
        return 0.0
    k = round(hz * FRAME / 8000)
    return float(spectrum[k]) / total


class RtpPeer(asyncio.DatagramProtocol):
    """One phone's media: sends its tone to ``aim()``'s address, keeps what it receives."""

    def __init__(self, name: str, tone_hz: int | None) -> None:
        self.name = name
        self.tone_hz = tone_hz
        self.host = ""
        self.port = 0
        self.received: list[bytes] = []
        self.sent = 0
        self.remote: tuple[str, int] | None = None
        self._transport: asyncio.DatagramTransport | None = None
        self._sender: asyncio.Task[None] | None = None
        self._ssrc = random.getrandbits(32)

    async def start(self, host: str) -> RtpPeer:
        loop = asyncio.get_running_loop()
        self.port = free_udp_port(host, even=True)
        self.host = host
        await loop.create_datagram_endpoint(lambda: self, local_addr=(host, self.port))
        return self

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # The selector loop's datagram transport does not derive from DatagramTransport.
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        # RTP header: 12 bytes plus 4 per CSRC; payload type 0 (PCMU) is all this suite uses.
        if len(data) < 12 or data[1] & 0x7F != 0:
            return
        self.received.append(data[12 + 4 * (data[0] & 0x0F) :])

    def aim(self, host: str, port: int) -> None:
        """Send the tone to ``host:port`` (the PBX's SDP for this call) from now on."""
        self.remote = (host, port)
        if self._sender is None and self.tone_hz is not None:
            self._sender = asyncio.create_task(self._send())

    async def _send(self) -> None:
        assert self.tone_hz is not None
        step = 2 * math.pi * self.tone_hz / 8000
        period = 8000 // math.gcd(8000, self.tone_hz)  # samples until the phase repeats
        cycle = bytes(_ulaw_encode(int(6000 * math.sin(step * n))) for n in range(period))
        loop = asyncio.get_running_loop()
        start = loop.time()
        seq = random.getrandbits(16)
        while True:
            offset = (self.sent * FRAME) % period
            payload = (cycle * (FRAME // period + 2))[offset : offset + FRAME]
            header = struct.pack(
                "!BBHII", 0x80, 0, (seq + self.sent) & 0xFFFF, self.sent * FRAME, self._ssrc
            )
            if self._transport is not None and self.remote is not None:
                self._transport.sendto(header + payload, self.remote)
            self.sent += 1
            # Paced against the start, so a late wake-up does not slow the stream down.
            await asyncio.sleep(max(0.0, start + self.sent * 0.02 - loop.time()))

    def mark(self) -> int:
        """Where the frames received from now on start (for ``frames_with``)."""
        return len(self.received)

    def frames_with(self, hz: int, since: int = 0, share: float = 0.2) -> int:
        """How many frames received since ``since`` carry ``hz``."""
        return sum(1 for p in self.received[since:] if tone_share(p, hz) >= share)

    async def stop(self) -> None:
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
        if self._transport is not None:
            self._transport.close()
