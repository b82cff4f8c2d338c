"""Writes a pcap of RTP packets (G.711 mu-law, 20 ms each) from a 16-bit 8 kHz WAV, for
sipp's ``play_pcap_audio``: sipp re-addresses the packets and sends them at their captured
pace, the way it plays its bundled RFC 2833 digit pcaps."""

from __future__ import annotations

import struct
import wave
from pathlib import Path

import numpy as np

from cc_core.quality.g711 import encode_ulaw

SAMPLES = 160  # 20 ms at 8 kHz


def _checksum(header: bytes) -> int:
    total = sum(struct.unpack(f"!{len(header) // 2}H", header))
    total = (total >> 16) + (total & 0xFFFF)
    return ~(total + (total >> 16)) & 0xFFFF


def write_rtp_pcap(wav_path: Path, pcap_path: Path, *, ssrc: int = 0x5EED, port: int = 6000) -> int:
    """Returns the number of packets written."""
    with wave.open(str(wav_path), "rb") as w:
        if (w.getnchannels(), w.getsampwidth(), w.getframerate()) != (1, 2, 8000):
            raise ValueError(f"{wav_path}: expected 16-bit mono 8 kHz")
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    payload = encode_ulaw(pcm).tobytes()
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))  # Ethernet
    count = 0
    for i in range(0, len(payload) - SAMPLES + 1, SAMPLES):
        rtp = (
            struct.pack("!BBHII", 0x80, 0x80 if i == 0 else 0, count & 0xFFFF, i & 0xFFFFFFFF, ssrc)
            + payload[i : i + SAMPLES]
        )
        udp = struct.pack("!HHHH", port, port, 8 + len(rtp), 0) + rtp
        ip = struct.pack(
            "!BBHHHBBH4s4s",
            0x45,
            0,
            20 + len(udp),
            count & 0xFFFF,
            0,
            64,
            17,
            0,
            bytes([127, 0, 0, 1]),
            bytes([127, 0, 0, 1]),
        )
        ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
        frame = b"\x00" * 12 + b"\x08\x00" + ip + udp
        usec = count * 20_000
        out += struct.pack("<IIII", usec // 1_000_000, usec % 1_000_000, len(frame), len(frame))
        out += frame
        count += 1
    pcap_path.write_bytes(bytes(out))
    return count
