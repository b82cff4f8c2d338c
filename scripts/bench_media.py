"""Cost of live call scoring through the media fork: AudioSocket server + MediaMonitor.

Real audio (espeak-ng speech over sox pink noise at 20 dB SNR). A separate client process
opens two AudioSocket streams per call (customer, agent) and sends one 20 ms frame per
stream every 20 ms, as Asterisk does (so a run takes the audio's length in wall time).
Printed: the server process's CPU per frame and side, end to end (socket reads, deframing,
scoring, events), against a baseline measured in the same run: the same frames pushed
straight into the monitor (scoring only).

    .venv/bin/python scripts/bench_media.py                # 100 calls x 20 s of audio
    .venv/bin/python scripts/bench_media.py --calls 40 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cc_core.acd.media import SIDES, MediaMonitor, fork_uuid
from cc_core.config.acd_file import QualityAlerts
from pbx.asterisk.audiosocket import AudioSocketServer, encode_audio, encode_uuid
from tests.quality.audio import mix_at_snr, noise, read_wav, speak

FRAME = 320


class _Record:
    def __init__(self, i: int) -> None:
        self.interaction_id, self.queue, self.agent_id = f"ix{i:05d}", "sales", "ann"


class _Calls(list[_Record]):
    def get(self, interaction_id: str) -> _Record | None:
        return next((r for r in self if r.interaction_id == interaction_id), None)


class _Journal:
    def __init__(self) -> None:
        self.facts = 0

    def fact(self, *args: Any, **kwargs: Any) -> None:
        self.facts += 1

    async def publish(self, *args: Any) -> None:
        return None


class _Acd:
    """The parts of AcdService the monitor uses; the store is not what is measured here."""

    def __init__(self, calls: int) -> None:
        self.calls = _Calls(_Record(i) for i in range(calls))
        self.journal = _Journal()

    def now(self) -> float:
        return time.time()

    def submit(self, job: Any) -> None:
        return None


def render(seconds: int) -> bytes:
    folder = Path(tempfile.mkdtemp())
    speech, rate = read_wav(speak(folder / "speech.wav"))
    hiss, _ = read_wav(noise(folder / "pink.wav", "pinknoise", len(speech) / rate + 1))
    mix, _ = mix_at_snr(speech, hiss, rate, 20.0)
    return np.resize(mix, seconds * rate).astype("<i2").tobytes()


def client(port: int, calls: int, pcm: bytes) -> None:
    async def run() -> None:
        writers = []
        for i in range(calls):
            for side in SIDES:
                _, w = await asyncio.open_connection("127.0.0.1", port)
                w.write(encode_uuid(fork_uuid(f"ix{i:05d}", side)))
                writers.append(w)
        frames = [encode_audio(pcm[k : k + FRAME]) for k in range(0, len(pcm), FRAME)]
        loop = asyncio.get_running_loop()
        start = loop.time()
        for n, frame in enumerate(frames):
            # Paced like Asterisk: one message per stream every 20 ms (a late turn catches up).
            await asyncio.sleep(max(0.0, start + n * 0.02 - loop.time()))
            for w in writers:
                w.write(frame)
            await asyncio.gather(*(w.drain() for w in writers))
        for w in writers:
            w.close()

    asyncio.run(run())


async def end_to_end(calls: int, pcm: bytes) -> tuple[float, int]:
    monitor = MediaMonitor(_Acd(calls), QualityAlerts())  # type: ignore[arg-type]
    server = AudioSocketServer("127.0.0.1", 0, monitor.open_stream)
    await server.start()
    proc = multiprocessing.get_context("spawn").Process(
        target=client, args=(server.port, calls, pcm)
    )
    cpu0 = time.process_time()
    proc.start()
    await asyncio.to_thread(proc.join)
    while monitor.calls:  # noqa: ASYNC110 - the last streams' close is a moment behind
        await asyncio.sleep(0.05)
    cpu = time.process_time() - cpu0
    await server.close()
    return cpu, monitor.events


def scoring_only(calls: int, pcm: bytes) -> float:
    monitor = MediaMonitor(_Acd(calls), QualityAlerts())  # type: ignore[arg-type]
    sinks = [
        monitor.open_stream(fork_uuid(f"ix{i:05d}", side), None)
        for i in range(calls)
        for side in SIDES
    ]
    cpu0 = time.process_time()
    for k in range(0, len(pcm), FRAME):
        frame = pcm[k : k + FRAME]
        for sink in sinks:
            assert sink is not None
            sink.audio(frame, 8000)
    return time.process_time() - cpu0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=20, help="audio per call (wall time)")
    args = parser.parse_args()
    pcm = render(args.seconds)
    frames = args.calls * len(SIDES) * (len(pcm) // FRAME)
    base = scoring_only(args.calls, pcm)
    cpu, events = asyncio.run(end_to_end(args.calls, pcm))
    per_base, per_e2e = base / frames * 1e6, cpu / frames * 1e6
    print(f"audio     {args.calls} calls x 2 sides x {args.seconds} s = {frames:,} frames")
    print(f"baseline  scoring only: {per_base:.1f} us CPU per frame and side")
    print(
        f"fork      AudioSocket server + scoring: {per_e2e:.1f} us per frame and side "
        f"({per_e2e / per_base:.2f}x the baseline), {events} quality events"
    )
    print(
        f"capacity  ~{20_000 / per_e2e / 2:,.0f} forked calls per core in real time "
        f"(2 sides x 50 frames/s)"
    )


if __name__ == "__main__":
    main()
