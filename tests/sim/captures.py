"""Reading the recorded Asterisk captures and comparing simulator output with them.

Header orders are taken from the captures themselves, never typed in by hand.
"""

from __future__ import annotations

import asyncio
import re
from collections import defaultdict
from pathlib import Path

from tests.paths import ASTERISK_CAPTURES as CAPTURES

ERRORS = CAPTURES / "errors"

Block = list[tuple[str, str]]

# Values that differ between any two runs of a real Asterisk too.
VOLATILE = {
    "Timestamp",
    "EventTV",
    "SessionTV",
    "SessionID",
    "LocalAddress",
    "RemoteAddress",
    "Uptime",
    "LastReload",
    "Duration",
    "CommandId",
    "BridgeUniqueid",
}
_SEQ = re.compile(r"((?:Local|PJSIP)/[^\s;,]+?)-[0-9a-f]{8}")
_UID = re.compile(r"\b\d{9,11}\.\d+\b")


def capture(name: str, folder: Path = CAPTURES) -> tuple[list[bytes], bytes]:
    """The actions sent (one bytes message each, verbatim) and the raw server stream."""
    sent_path = next(folder.glob(f"*_{name}_*.sent"))
    raw = sent_path.with_suffix(".raw").read_bytes()
    return split_sent(sent_path.read_bytes()), raw


def split_sent(data: bytes) -> list[bytes]:
    """Split a client stream at blank lines (CRLF or LF framing), keeping bytes verbatim."""
    out = []
    for m in re.finditer(rb"(?:.+?)(?:\r?\n\r?\n)", data, re.S):
        out.append(m.group(0))
    return out


def blocks(data: bytes) -> list[Block]:
    text = data.decode("utf-8", "replace").replace("\r\n", "\n")
    result = []
    for chunk in text.split("\n\n"):
        lines = [ln for ln in chunk.split("\n") if ln]
        if lines and lines[0].startswith("Asterisk Call Manager/"):
            lines = lines[1:]
        if lines:
            result.append([_split(ln) for ln in lines])
    return result


def _split(line: str) -> tuple[str, str]:
    name, _, value = line.partition(":")
    return name, value[1:] if value.startswith(" ") else value


def kind(block: Block) -> str:
    return f"{block[0][0]}: {block[0][1]}"


def header_orders() -> dict[str, set[tuple[str, ...]]]:
    """Every header order each event type takes in any capture."""
    orders: dict[str, set[tuple[str, ...]]] = defaultdict(set)
    for raw in CAPTURES.glob("*.raw"):
        for b in blocks(raw.read_bytes()):
            if b[0][0] == "Event":
                orders[b[0][1]].add(tuple(k for k, _ in b[1:]))
    return orders


def normalize_value(key: str, value: str) -> str:
    if key in VOLATILE or key.endswith("Uniqueid") or key.endswith("Linkedid"):
        return "<var>"
    value = _SEQ.sub(r"\1-<seq>", value)
    return _UID.sub("<uid>", value)


def normalize(block: Block) -> tuple[tuple[str, str], ...]:
    return tuple((k, normalize_value(k, v)) for k, v in block)


def stream_of(block: Block) -> str:
    d = dict(block)
    if block[0][0] == "Response" or ("ActionID" in d and d.get("Event") != "OriginateResponse"):
        return "responses"
    for key in ("Channel", "LocalOneChannel", "DestChannel", "Device", "SpyerChannel"):
        if key in d:
            return key + "=" + _SEQ.sub(r"\1-<seq>", d[key])
    if "BridgeUniqueid" in d:
        return "bridge"
    return "system"


def streams(bs: list[Block]) -> dict[str, list[tuple[tuple[str, str], ...]]]:
    out: dict[str, list[tuple[tuple[str, str], ...]]] = defaultdict(list)
    for b in bs:
        out[stream_of(b)].append(normalize(b))
    return dict(out)


def diff_streams(
    expected: list[Block], actual: list[Block], *, prefix_only: bool = False
) -> list[str]:
    """Per-channel (and per-device, responses...) sequences must match one for one; only the
    interleaving of independent channels may differ, as it does between real runs."""
    problems = []
    exp, act = streams(expected), streams(actual)
    for key in sorted(set(exp) | set(act)):
        e, a = exp.get(key, []), act.get(key, [])
        if prefix_only:
            a = a[: len(e)]
        for i in range(max(len(e), len(a))):
            eb = e[i] if i < len(e) else None
            ab = a[i] if i < len(a) else None
            if eb != ab:
                problems.append(f"{key} #{i}:\n  expected {_fmt(eb)}\n  actual   {_fmt(ab)}")
                break
    return problems


def _fmt(b: tuple[tuple[str, str], ...] | None) -> str:
    return "<nothing>" if b is None else "; ".join(f"{k}={v}" for k, v in b)


class Client:
    """A plain AMI client over TCP recording everything the server sends."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.data = bytearray()
        self.eof = False
        self._task = asyncio.get_running_loop().create_task(self._pump())
        self._changed = asyncio.Event()

    @classmethod
    async def connect(cls, port: int) -> Client:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def _pump(self) -> None:
        while True:
            chunk = await self.reader.read(65536)
            if not chunk:
                self.eof = True
                self._changed.set()
                return
            self.data += chunk
            self._changed.set()

    def blocks(self) -> list[Block]:
        complete = bytes(self.data)
        cut = complete.rfind(b"\r\n\r\n")
        return blocks(complete[: cut + 4]) if cut >= 0 else []

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def wait_for(self, predicate, limit: float = 10.0) -> None:  # type: ignore[no-untyped-def]
        async with asyncio.timeout(limit):
            while not predicate(self.blocks()):
                if self.eof:
                    raise AssertionError("server closed the connection")
                self._changed.clear()
                await self._changed.wait()

    async def wait_eof(self, limit: float = 5.0) -> None:
        async with asyncio.timeout(limit):
            while not self.eof:
                self._changed.clear()
                await self._changed.wait()

    async def close(self) -> None:
        self._task.cancel()
        self.writer.close()


def covers(prefix: list[Block]):  # type: ignore[no-untyped-def]
    """Predicate: the output holds at least the capture's blocks of each kind per stream."""
    need: dict[tuple[str, str], int] = defaultdict(int)
    for b in prefix:
        need[(stream_of(b), kind(b))] += 1

    def check(actual: list[Block]) -> bool:
        have: dict[tuple[str, str], int] = defaultdict(int)
        for b in actual:
            have[(stream_of(b), kind(b))] += 1
        return all(have[k] >= n for k, n in need.items())

    return check


def _rename(message: bytes, seen: list[Block]) -> bytes:
    """Point an action at the simulator's channel where the capture names Asterisk's: the
    sequence numbers differ, the rest of the name is the same."""
    names = {}
    for b in seen:
        d = dict(b)
        if d.get("Event") == "Newchannel":
            names[_SEQ.sub(r"\1-<seq>", d["Channel"])] = d["Channel"]

    def swap(m: re.Match[str]) -> str:
        full = m.group(0)
        return names.get(_SEQ.sub(r"\1-<seq>", full), full)

    text = message.decode()
    return re.sub(r"(?:Local|PJSIP)/[^\s;,]+?-[0-9a-f]{8}(?:;[12])?", swap, text).encode()


async def replay(
    client: Client,
    sent: list[bytes],
    expected: list[Block],
    limit: float = 20.0,
    *,
    skip: int = 0,
) -> None:
    """Send each action once the simulator has produced what Asterisk had produced before it."""
    responses = [i for i, b in enumerate(expected) if b[0][0] == "Response"]
    try:
        for n, message in enumerate(sent):
            if n < skip:
                continue
            if n < len(responses):
                before = expected[: responses[n]]
                await client.wait_for(covers(before), limit)
            await client.send(_rename(message, client.blocks()))
        await client.wait_for(covers(expected), limit)
    except (TimeoutError, AssertionError):
        problems = diff_streams(expected, client.blocks())
        raise AssertionError("timed out; differences:\n" + "\n".join(problems)) from None
