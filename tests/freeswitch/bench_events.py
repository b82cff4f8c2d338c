"""Events per second through the FreeSWITCH adapter, against a baseline in the same run.

    .venv/bin/python -m tests.freeswitch.bench_events [N]

A local event socket sends N real channel events (flow 10's, about 3.9 kB and 100 headers each)
in one burst; the figure is N over the time until the adapter's asyncio side has received and
mapped them all (TCP, greenswitch in its gevent thread, parsing, hand-off, mapping). The
baseline parses the same events in-process, with no socket and no thread.
"""

from __future__ import annotations

import asyncio
import sys
import time

from pbx.freeswitch import FreeSwitchPort
from pbx.freeswitch.protocol import EslEvent, parse_event
from tests.paths import FREESWITCH_CAPTURES

from .conftest import settings_for
from .replay import split_frames

FLOW = "fs-1.10.12_10_sipp-register-1001-and-bridge-user-1001.recv.raw"


def _job_answer(job: str) -> bytes:
    body = b'{"row_count": 0}\n'
    inner = (
        f"Event-Name: BACKGROUND_JOB\nJob-UUID: {job}\nContent-Length: {len(body)}\n\n".encode()
        + body
    )
    return (
        f"Content-Type: command/reply\nReply-Text: +OK Job-UUID: {job}\n\n".encode()
        + f"Content-Length: {len(inner)}\nContent-Type: text/event-plain\n\n".encode()
        + inner
    )


def make_server(blob: bytes):  # type: ignore[no-untyped-def]
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Content-Type: auth/request\n\n")
        await reader.readuntil(b"\n\n")
        writer.write(b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n")
        await reader.readuntil(b"\n\n")
        writer.write(b"Content-Type: command/reply\nReply-Text: +OK event listener enabled\n\n")
        while True:
            try:
                line = (await reader.readuntil(b"\n\n")).decode()
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            if line.startswith("bgapi blast"):
                writer.write(_job_answer(line.split("Job-UUID: ")[1].strip()) + blob)
            elif line.startswith("bgapi"):
                writer.write(_job_answer(line.split("Job-UUID: ")[1].strip()))
            elif line.startswith("exit"):
                writer.write(b"Content-Type: command/reply\nReply-Text: +OK bye\n\n")
                return

    return serve


async def main(n: int) -> None:
    frames = [f for f in split_frames((FREESWITCH_CAPTURES / FLOW).read_bytes()) if f.is_event]
    blob = b"".join(frames[i % len(frames)].raw for i in range(n))
    server = await asyncio.start_server(make_server(blob), "127.0.0.1", 0)
    adapter = FreeSwitchPort(settings_for(server.sockets[0].getsockname()[1]))
    await adapter.start()
    delivered = asyncio.Event()
    seen = 0
    mapped = adapter._link._on_event

    def counting(event: EslEvent) -> None:
        nonlocal seen
        mapped(event)
        seen += event.name != "BACKGROUND_JOB"
        if seen >= n:
            delivered.set()

    adapter._link._on_event = counting
    started = time.perf_counter()
    await adapter.api("blast")
    await asyncio.wait_for(delivered.wait(), 600)
    through = time.perf_counter() - started
    await adapter.close()
    server.close()

    started = time.perf_counter()
    for i in range(n):
        frame = frames[i % len(frames)]
        parse_event(frame.ctype, frame.body.decode())
    parse_only = time.perf_counter() - started
    print(f"events: {n} ({len(blob) / 1e6:.1f} MB)")
    print(f"adapter end to end: {n / through:10,.0f} events/s")
    print(f"baseline parse only: {n / parse_only:10,.0f} events/s")
    print(f"ratio: {parse_only / through:.2f} of parse-only speed")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000))
