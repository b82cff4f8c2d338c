"""Replaying the FreeSWITCH captures against the simulator and comparing what comes back.

Orders (commands, reply frames, events per channel, header names) are read from the captures;
nothing is typed in by hand. Values that differ between two runs of a real FreeSWITCH (UUIDs,
times, sequence numbers, host names, session counters) are ignored.
"""

from __future__ import annotations

import asyncio
import difflib
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from pbx.sim.esl import codec
from pbx.sim.esl.events import SIMULATED_EVENTS, SIMULATED_SUBCLASSES
from tests.paths import FREESWITCH_CAPTURES

Headers = list[tuple[str, str]]
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
EVENT_TYPES = ("text/event-plain", "text/event-json")
# Values compared between capture and simulator, when both events carry them.
COMPARED_VALUES = (
    "Event-Name",
    "Event-Subclass",
    "Channel-State",
    "Channel-Call-State",
    "Original-Channel-Call-State",
    "Answer-State",
    "Call-Direction",
    "Channel-Name",
    "Hangup-Cause",
    "Application",
    "Application-Response",
    "DTMF-Digit",
    "DTMF-Duration",
    "DTMF-Source",
    "Other-Type",
    "Caller-Destination-Number",
    "Caller-Context",
    "Job-Command",
    "API-Command",
    "Event-Calling-File",
    "Event-Calling-Function",
    "Event-Calling-Line-Number",
)


def capture_path(flow: str, suffix: str) -> Path:
    return next(FREESWITCH_CAPTURES.glob(f"fs-1.10.12_{flow}_*{suffix}"))


def commands(path: Path) -> list[codec.Command]:
    """The client's commands, verbatim, in the order sent."""
    return codec.CommandDecoder().feed(path.read_bytes())


def commands_raw(path: Path) -> list[bytes]:
    """The raw bytes of each command (blank-line separated, bodies included)."""
    data = path.read_bytes()
    out, dec, start = [], codec.CommandDecoder(), 0
    for i in range(1, len(data) + 1):
        if dec.feed(data[i - 1 : i]):
            out.append(data[start:i])
            start = i
    return out


@dataclass
class Frame:
    headers: Headers
    body: bytes

    @property
    def content_type(self) -> str:
        return dict(self.headers).get("Content-Type", "")

    @property
    def is_event(self) -> bool:
        return self.content_type in EVENT_TYPES

    def event(self) -> tuple[Headers, str]:
        if self.content_type == "text/event-json":
            import json

            obj = json.loads(self.body)
            body = obj.pop("_body", "")
            return [(k, str(v)) for k, v in obj.items()], body
        hdrs, body = codec.parse_event_plain(self.body)
        return hdrs, body.decode()


def frames(data: bytes) -> list[Frame]:
    parsed, rest = codec.parse_frames(data)
    out = [Frame(h, b) for h, b in parsed]
    # The outbound CHANNEL_DATA reply to `connect` is a bare event body (no outer frame);
    # parse_frames sees it as one frame of headers, which is what we compare.
    assert not rest.strip(), f"unparsed bytes left: {rest[:80]!r}"
    return out


def gated(frame: Frame) -> bool:
    """Events the simulator raises, and so may be waited for (API events race replies)."""
    if not frame.is_event:
        return False
    return simulated(frame.event()[0]) and dict(frame.event()[0])["Event-Name"] != "API"


def simulated(hdrs: Headers) -> bool:
    """An event of a kind the simulator raises (others are left out of comparisons)."""
    d = dict(hdrs)
    if d.get("Event-Name") == "CUSTOM":
        return d.get("Event-Subclass", "") in SIMULATED_SUBCLASSES
    return d.get("Event-Name", "") in SIMULATED_EVENTS


def is_reply(frame: Frame) -> bool:
    """A frame answering a command (disconnect notices answer none)."""
    return not frame.is_event and frame.content_type != "text/disconnect-notice"


@dataclass
class Transcript:
    frames: list[Frame] = field(default_factory=list)


def stream_key(hdrs: Headers, labels: Labels) -> str:
    d = dict(hdrs)
    name = d.get("Event-Name", "")
    if "Unique-ID" in d:
        return labels.label(d["Unique-ID"], d.get("Channel-Name", ""))
    if name == "CUSTOM":
        return "CUSTOM " + d.get("Event-Subclass", "")
    return name


def progress(frames_: list[Frame]) -> tuple[list[dict[str, int]], dict[str, int]]:
    """Per reply frame: how many gated events each stream had before it; and the totals."""
    labels = Labels()
    out: list[dict[str, int]] = []
    counts: dict[str, int] = defaultdict(int)
    for f in frames_:
        if gated(f):
            counts[stream_key(f.event()[0], labels)] += 1
        elif is_reply(f):
            out.append(dict(counts))
    return out, dict(counts)


class Client:
    """Reads every frame from a connection in the background."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.frames: list[Frame] = []
        self.changed = asyncio.Event()
        self.eof = asyncio.Event()
        self._buf = b""
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while True:
            data = await self.reader.read(65536)
            if not data:
                break
            self._buf += data
            parsed, self._buf = codec.parse_frames(self._buf)
            self.frames += [Frame(h, b) for h, b in parsed]
            self.changed.set()
        self.eof.set()
        self.changed.set()

    def count(self, pred: object) -> int:
        return sum(1 for f in self.frames if pred(f))  # type: ignore[operator]

    def caught_up(self, want: dict[str, int]) -> bool:
        _, have = progress(self.frames)
        return all(have.get(k, 0) >= n for k, n in want.items())

    async def until_streams(self, want: dict[str, int], seconds: float = 5.0) -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while not self.caught_up(want) and not self.eof.is_set():
            self.changed.clear()
            left = end - loop.time()
            if left <= 0:
                return
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except TimeoutError:
                return

    async def until(self, pred: object, n: int, seconds: float = 5.0) -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while self.count(pred) < n and not self.eof.is_set():
            self.changed.clear()
            left = end - loop.time()
            if left <= 0:
                return
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except TimeoutError:
                return

    async def close(self) -> None:
        self.writer.close()
        self._task.cancel()


async def drive(
    client: Client,
    sent: list[bytes],
    recv: list[Frame],
    rewrite: object = None,
    first_reply_is_greeting: bool = True,
) -> None:
    """Send each captured command once the simulator has caught up with the capture."""
    gate, _ = progress(recv)
    offset = 1 if first_reply_is_greeting else 0
    if first_reply_is_greeting:
        await client.until(is_reply, 1)
    for i, raw in enumerate(sent):
        await client.until_streams(gate[i + offset] if i + offset < len(gate) else {})
        if rewrite is not None:
            raw = rewrite(raw)  # type: ignore[operator]
        client.writer.write(raw)
        await client.writer.drain()
        await client.until(is_reply, i + 1 + offset)
    await asyncio.wait_for(client.eof.wait(), 10)


# -- comparing --------------------------------------------------------------------------


class Labels:
    """Stable names for UUIDs: per channel name, in order of first appearance."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.per_channel: dict[str, int] = defaultdict(int)

    def label(self, uuid: str, channel: str) -> str:
        if uuid not in self.names:
            self.per_channel[channel] += 1
            self.names[uuid] = f"{channel}#{self.per_channel[channel]}"
        return self.names[uuid]

    def normalize(self, text: str) -> str:
        return UUID.sub(lambda m: self.names.get(m.group(0), "<uuid>"), text)


def event_streams(recv: list[Frame]) -> tuple[dict[str, list[Headers]], Labels]:
    labels = Labels()
    streams: dict[str, list[Headers]] = defaultdict(list)
    for f in recv:
        if not f.is_event:
            continue
        hdrs, _ = f.event()
        if not simulated(hdrs):
            continue
        streams[stream_key(hdrs, labels)].append(hdrs)
    return streams, labels


def shape(hdrs: Headers) -> list[str]:
    return [k for k, _ in hdrs if not k.startswith("variable_")]


def compare_events(
    captured: list[Frame], simulated: list[Frame], max_heartbeats: int | None = None
) -> list[str]:
    """Differences between the captured and simulated event streams (empty: same)."""
    cap, cap_labels = event_streams(captured)
    sim, sim_labels = event_streams(simulated)
    problems: list[str] = []
    # Heartbeats come from a timer: only as many as the capture had are compared.
    if "HEARTBEAT" in sim:
        sim["HEARTBEAT"] = sim["HEARTBEAT"][: len(cap.get("HEARTBEAT", []))]
        if not sim["HEARTBEAT"]:
            del sim["HEARTBEAT"]
    if set(cap) != set(sim):
        problems.append(f"streams differ: capture {sorted(cap)} simulator {sorted(sim)}")
    for key in sorted(set(cap) & set(sim)):
        names_c = [dict(h)["Event-Name"] for h in cap[key]]
        names_s = [dict(h)["Event-Name"] for h in sim[key]]
        if names_c != names_s:
            problems.append(f"{key}: events\n  capture   {names_c}\n  simulator {names_s}")
            continue
        for i, (hc, hs) in enumerate(zip(cap[key], sim[key], strict=True)):
            where = f"{key} #{i} {names_c[i]}"
            if shape(hc) != shape(hs):
                diff = [d for d in difflib.ndiff(shape(hc), shape(hs)) if d[:1] in "-+"]
                problems.append(f"{where}: headers (- capture, + simulator) {diff}")
            dc, ds = dict(hc), dict(hs)
            for k in COMPARED_VALUES:
                if k in dc and k in ds:
                    vc, vs = cap_labels.normalize(dc[k]), sim_labels.normalize(ds[k])
                    if vc != vs:
                        problems.append(f"{where}: {k} capture {vc!r} simulator {vs!r}")
            # Channel variables: the simulator sets fewer than FreeSWITCH; each one it sets must
            # be one FreeSWITCH had on that event. Their order is not compared.
            vars_c = [k for k, _ in hc if k.startswith("variable_")]
            vars_s = [k for k, _ in hs if k.startswith("variable_")]
            missing = [v for v in vars_s if v not in vars_c]
            if missing:
                problems.append(f"{where}: variables FreeSWITCH did not have: {missing}")
    return problems


def replies(recv: list[Frame]) -> list[Frame]:
    """Every non-event frame: replies and disconnect notices, in order."""
    return [f for f in recv if not f.is_event]


# Reply bodies that naturally differ (uptime, counters, lagging SQL views): compared by shape.
FIRST_LINE_ONLY = ("show channels", "show bridged_calls", "show calls")
HEADER_NAMES_ONLY = ("uuid_dump",)
NOT_COMPARED = ("status", "sofia status")


def compare_replies(
    sent: list[codec.Command],
    cap: list[Frame],
    sim: list[Frame],
    cap_labels: Labels,
    sim_labels: Labels,
    greeting: bool = True,
) -> list[str]:
    """Differences between reply frames; `sent` names the command each answers."""
    problems = []
    if len(cap) != len(sim):
        problems.append(f"{len(cap)} reply frames captured, {len(sim)} from the simulator")
    commands = ["<greeting>"] if greeting else []
    commands += [c.line for c in sent]
    for i, (fc, fs) in enumerate(zip(cap, sim, strict=False)):
        line = commands[i] if i < len(commands) else "<after exit>"
        if fc.headers and fc.headers[0][0] == "Event-Name":
            # The outbound `connect` reply is a channel-data event: compared like events.
            if shape(fc.headers) != shape(fs.headers):
                diff = [
                    d for d in difflib.ndiff(shape(fc.headers), shape(fs.headers)) if d[:1] in "-+"
                ]
                problems.append(f"reply to {line!r}: headers (- capture, + simulator) {diff}")
            continue
        if [k for k, _ in fc.headers] != [k for k, _ in fs.headers]:
            problems.append(f"reply to {line!r}: headers {fc.headers} vs {fs.headers}")
            continue
        for (k, vc), (_, vs) in zip(fc.headers, fs.headers, strict=True):
            if k == "Content-Length":
                continue
            if cap_labels.normalize(vc) != sim_labels.normalize(vs):
                problems.append(f"reply to {line!r}: {k} {vc!r} vs {vs!r}")
        api = line.removeprefix("api ").removeprefix("bgapi ")
        bc, bs = fc.body.decode(), fs.body.decode()
        if api.startswith(NOT_COMPARED):
            continue
        if api.startswith(FIRST_LINE_ONLY):
            # These views lag the events in FreeSWITCH (core SQL queue): rows differ, the
            # columns do not. An empty table has no column line to compare.
            bc, bs = bc.split("\n")[0], bs.split("\n")[0]
            if bc.startswith("{"):
                bc, bs = bc[:13], bs[:13]
            if not bc or not bs or bc.startswith('{"row_count"') or bs.startswith('{"row_count"'):
                continue
        if api.startswith(HEADER_NAMES_ONLY):
            bc = str(shape(codec.parse_event_plain(fc.body)[0]))
            bs = str(shape(codec.parse_event_plain(fs.body)[0]))
        if line != "<greeting>" and cap_labels.normalize(bc) != sim_labels.normalize(bs):
            problems.append(f"reply to {line!r}: body {bc[:200]!r} vs {bs[:200]!r}")
    return problems
