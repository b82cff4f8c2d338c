#!/usr/bin/env python3
"""Benchmark of the simulated PBX: call setup rate and concurrent calls on one core, with the
full AMI event stream read by a client in a separate process.

Each call enters `from-pstn` like a PJSIP trunk call to 200 (Answer, Set, Goto hold,
MusicOnHold) and hangs up after --hold seconds, so the load peaks at about rate x hold
concurrent calls. Printed: achieved calls/s, peak concurrent calls, event-loop lag, AMI events
the client received per second and a Ping round trip at peak; and, as a baseline measured in
the same run, events/s of a bare loop that only builds and encodes AMI events.

    .venv/bin/python scripts/bench_sim.py               # 250 calls/s for 10 s, 10 s hold
    .venv/bin/python scripts/bench_sim.py --rate 400 --seconds 8 --hold 6
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import socket
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pbx.sim.ami import events as ev  # noqa: E402
from pbx.sim.channel import Snapshot, State  # noqa: E402
from pbx.sim.inbound import inbound_call  # noqa: E402
from pbx.sim.runtime import SimConfig, Simulator, tune_gc  # noqa: E402

DIALPLAN = ROOT / "configs" / "sim" / "extensions.conf"


def ami_reader(port: int, ready: mp.Event, peak: mp.Event, out: mp.Queue) -> None:  # type: ignore[type-arg]
    """Separate process: log in, read every event until the end marker, time one Ping sent
    when the load peaks."""
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"Action: Login\r\nUsername: acd\r\nSecret: acdsecret\r\n\r\n")
    buf = b""
    # Start counting after this session's own login events.
    while b"Event: SuccessfulAuth" not in buf or not buf.endswith(b"\r\n\r\n"):
        buf += s.recv(65536)
    ready.set()
    events = 0
    total = 0
    s.settimeout(0.05)
    tail = b"\r\n"  # the blank line that ended the login events
    ping_sent = None
    ping_rtt = None
    while True:
        if peak.is_set() and ping_sent is None:
            ping_sent = time.perf_counter()
            s.sendall(b"Action: Ping\r\nActionID: bench\r\n\r\n")
        try:
            chunk = s.recv(1 << 20)
        except TimeoutError:
            continue
        if not chunk:
            break
        total += len(chunk)
        data = tail + chunk
        # Occurrences lying wholly inside the carried-over tail were counted last time.
        events += data.count(b"\r\nEvent: ") - tail.count(b"\r\nEvent: ")
        tail = data[-16:]
        if ping_sent is not None and ping_rtt is None and b"ActionID: bench" in data:
            ping_rtt = time.perf_counter() - ping_sent
        if b"UserEvent: BenchEnd" in data:
            break
    out.put((events, total, ping_rtt))


def bare_codec_baseline(n: int = 100_000) -> float:
    """Events/s of building and encoding AMI events with no engine, sessions or sockets."""
    snap = Snapshot(
        "PJSIP/caller-00000001",
        State.UP,
        "5551234",
        "Caller",
        "",
        "",
        "en",
        "",
        "from-pstn",
        "200",
        3,
        "1795286202.16",
        "1795286202.16",
        "Set",
        "__ACD_DNIS=200",
        "",
    )
    t0 = time.perf_counter()
    for i in range(n):
        ev.varset(snap, "X", str(i)).wire()
    return n / (time.perf_counter() - t0)


async def loop_run(fn: object) -> object:
    return await asyncio.get_running_loop().run_in_executor(None, fn)  # type: ignore[arg-type]


async def run(rate: float, seconds: float, hold: float) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    sim = Simulator(SimConfig(dialplan_path=DIALPLAN, max_output_bytes=256 * 1024 * 1024))
    await sim.start()
    ctx = mp.get_context("spawn")
    ready, done, out = ctx.Event(), ctx.Event(), ctx.Queue()
    proc = ctx.Process(target=ami_reader, args=(sim.ami_port, ready, done, out), daemon=True)
    proc.start()
    await loop_run(ready.wait)
    emitted = 0

    def count(_: object) -> None:
        nonlocal emitted
        emitted += 1

    sim.pbx.listen(count)
    lags: list[float] = []
    peak = 0
    placed = 0
    stop = False

    async def ticker() -> None:
        # Lag of a 10 ms timer: how late the loop runs work it was asked to run.
        while not stop:
            t = loop.time()
            await asyncio.sleep(0.01)
            lags.append(loop.time() - t - 0.01)

    tick = asyncio.create_task(ticker())
    t0 = loop.time()
    cpu0 = time.process_time()
    while True:
        now = loop.time() - t0
        if now >= seconds:
            break
        due = int(now * rate) - placed
        for _ in range(due):
            chan = inbound_call(sim.pbx, "200", context="from-pstn", caller_num=f"555{placed:07d}")
            loop.call_later(hold, sim.pbx.queue_hangup, chan, 16)
            placed += 1
        peak = max(peak, len(sim.pbx.channels))
        await asyncio.sleep(0.005)
    setup_elapsed = loop.time() - t0
    # Hold at peak briefly and measure a Ping round trip through the busy server.
    done.set()
    while sim.pbx.channels:
        peak = max(peak, len(sim.pbx.channels))
        await asyncio.sleep(0.05)
    elapsed = loop.time() - t0
    cpu = time.process_time() - cpu0
    stop = True
    await tick
    sim.pbx.emit(ev.user_event("BenchEnd", []))
    events, nbytes, ping_rtt = await loop.run_in_executor(None, out.get)
    proc.join(5)
    await sim.stop()
    lags.sort()
    return {
        "calls": placed,
        "calls_per_s": placed / setup_elapsed,
        "peak_concurrent": peak,
        "emitted": emitted,
        "received": events,
        "events_per_s": events / elapsed,
        "mbytes": nbytes / 1e6,
        "lag_p50_ms": statistics.median(lags) * 1000,
        "lag_p99_ms": lags[int(len(lags) * 0.99)] * 1000,
        "lag_max_ms": lags[-1] * 1000,
        "ping_ms": (ping_rtt or float("nan")) * 1000,
        "cpu_share": cpu / elapsed,
        "cpu_s": cpu,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rate", type=float, default=250.0, help="new calls per second")
    p.add_argument("--seconds", type=float, default=10.0, help="how long calls keep arriving")
    p.add_argument("--hold", type=float, default=10.0, help="seconds each call stays up")
    args = p.parse_args()
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # the simulator: one core
    tune_gc()
    baseline = bare_codec_baseline()
    r = asyncio.run(run(args.rate, args.seconds, args.hold))
    print(f"baseline  bare codec loop (build+encode only): {baseline:,.0f} events/s")
    print(
        f"calls     {r['calls']:.0f} placed at {r['calls_per_s']:.1f} calls/s "
        f"(target >= 200, asked {args.rate:.0f})"
    )
    print(f"peak      {r['peak_concurrent']:.0f} concurrent calls (target >= 2000)")
    print(
        f"events    emitted {r['emitted']:.0f}, AMI client received {r['received']:.0f} "
        f"({r['events_per_s']:,.0f} events/s, {r['mbytes']:.1f} MB)"
    )
    per_event = r["cpu_s"] / max(r["emitted"], 1) * 1e6
    print(
        f"cost      {per_event:.1f} us CPU per event (calls, dialplan, delivery) vs "
        f"{1e6 / baseline:.1f} us per event in the bare codec loop"
    )
    print(
        f"loop lag  p50 {r['lag_p50_ms']:.1f} ms, p99 {r['lag_p99_ms']:.1f} ms, "
        f"max {r['lag_max_ms']:.1f} ms; Ping at end of arrivals {r['ping_ms']:.1f} ms"
    )
    print(f"cpu       simulator process used {r['cpu_share']:.0%} of one core")
    ok = r["calls_per_s"] >= 200 and r["peak_concurrent"] >= 2000 and r["received"] == r["emitted"]
    print("result   ", "PASS" if ok else "BELOW TARGET")


if __name__ == "__main__":
    main()
