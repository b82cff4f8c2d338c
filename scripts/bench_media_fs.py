"""What following FreeSWITCH's media-fork recordings costs the ACD: N growing stereo WAVs,
each grown by one poll interval of 8 kHz audio before every poll, read and split by
`pbx.freeswitch.media_fork.RecordingFollower` into a sink that only counts bytes. Prints the
CPU per 20 ms frame (both sides) and per poll, beside the scoring the same audio costs
(`cc_core.quality.CallScorer`, measured in the same run), so the reader's share is visible.

    .venv/bin/python scripts/bench_media_fs.py [--calls 100] [--seconds 10] [--poll 0.1]
"""

from __future__ import annotations

import argparse
import struct
import tempfile
import time
from pathlib import Path

import numpy as np

from cc_core.quality import AudioFormat, CallScorer, Encoding
from pbx.freeswitch.media_fork import RecordingFollower

RATE = 8000


class Counter:
    def __init__(self) -> None:
        self.bytes = 0

    def audio(self, customer: bytes, agent: bytes, rate: int) -> None:
        self.bytes += len(customer) + len(agent)

    def closed(self, reason: str) -> None:
        pass


class Sink:
    def __init__(self) -> None:
        self.calls: dict[str, Counter] = {}

    def open_call(self, interaction_id: str, rate: int) -> Counter:
        return self.calls.setdefault(interaction_id, Counter())

    def call_alive(self, interaction_id: str) -> bool:
        return True


def header() -> bytes:
    fmt = struct.pack("<HHIIHH", 1, 2, RATE, RATE * 4, 4, 16)
    return b"RIFF\0\0\0\0WAVEfmt " + struct.pack("<I", 16) + fmt + b"data\0\0\0\0"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--poll", type=float, default=0.1)
    args = ap.parse_args()
    rng = np.random.default_rng(1)
    step = int(RATE * args.poll)
    chunk = rng.integers(-3000, 3000, 2 * step, dtype=np.int16).astype("<i2").tobytes()
    polls = int(args.seconds / args.poll)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = []
        for i in range(args.calls):
            f = (folder / f"call{i:05d}.wav").open("wb")
            f.write(header())
            f.flush()
            files.append(f)
        sink = Sink()
        reader = RecordingFollower(folder, sink, idle_seconds=3600, clock=time.monotonic)
        reader.poll()
        cpu = 0.0
        for _ in range(polls):
            for f in files:
                f.write(chunk)
                f.flush()
            t0 = time.process_time()
            reader.poll()
            cpu += time.process_time() - t0
        for f in files:
            f.close()
    frames = args.calls * polls * step / (RATE * 0.02)
    read = sum(c.bytes for c in sink.calls.values())
    assert read == args.calls * polls * len(chunk), "audio lost"
    fmt = AudioFormat(RATE, Encoding.PCM16, 20)
    scorer = CallScorer(fmt, fmt)
    mono = chunk[: len(chunk) // 2]
    t0 = time.process_time()
    for _ in range(polls):
        scorer.push_customer(mono)
        scorer.push_agent(mono)
    score_us = (time.process_time() - t0) / (polls * step / (RATE * 0.02)) * 1e6
    print(f"{args.calls} calls x {args.seconds:.0f} s, polls every {args.poll * 1000:.0f} ms")
    print(
        f"reader: {cpu / frames * 1e6:.2f} us per 20 ms frame (both sides), "
        f"{cpu / polls * 1e3:.2f} ms per poll"
    )
    print(f"scoring the same frame (CallScorer, both sides): {score_us:.2f} us")
    print(f"reader / scoring: {cpu / frames * 1e6 / score_us:.2f}")


if __name__ == "__main__":
    main()
