"""Plays FreeSWITCH's side of a recorded outbound-socket session against our server.

It connects like FreeSWITCH's ``socket`` application, then sends the recorded frames in order;
a recorded reply waits for the server's matching command (by key: ``connect``, ``getvar``,
``sendmsg:playback``, ``sendmsg:hangup``, ``exit``... and occurrence). A recorded Event-UUID is
replaced by the server's own in every later frame. Commands the recording has no reply for get
``+OK``; ``omit`` names recorded commands the server is not expected to send.
"""

from __future__ import annotations

import asyncio
import re
from collections import defaultdict
from dataclasses import dataclass, field

from tests.paths import FREESWITCH_CAPTURES

from .replay import Frame, split_commands, split_frames


def outbound_key(command: str) -> str:
    lines = command.split("\n")
    verb = lines[0].split(" ", 1)[0]
    if verb == "sendmsg":
        headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
        if headers.get("call-command") == "execute":
            return f"sendmsg:{headers.get('execute-app-name', '')}"
        return f"sendmsg:{headers.get('call-command', '')}"
    if verb == "api":
        return f"api:{lines[0].split()[1]}"
    return verb


def event_uuid_of(command: str) -> str:
    match = re.search(r"(?m)^Event-UUID: (\S+)$", command)
    return match.group(1) if match else ""


@dataclass
class OutboundReplay:
    recv: bytes
    sent: bytes
    omit: frozenset[str] = frozenset()
    received: list[str] = field(default_factory=list)
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    closed_by_server: bool = False

    @classmethod
    def of(cls, name: str, **kwargs: object) -> OutboundReplay:
        recv = (FREESWITCH_CAPTURES / f"fs-1.10.12_{name}.stub-received-from-fs.raw").read_bytes()
        sent = (FREESWITCH_CAPTURES / f"fs-1.10.12_{name}.stub-sent-to-fs.raw").read_bytes()
        return cls(recv, sent, **kwargs)  # type: ignore[arg-type]

    def __post_init__(self) -> None:
        self.frames: list[Frame] = split_frames(self.recv)
        commands = split_commands(self.sent)
        replies = [i for i, f in enumerate(self.frames) if f.is_reply]
        assert len(replies) == len(commands), (len(replies), len(commands))
        self._tie: dict[int, tuple[str, int, str]] = {}
        seen: dict[str, int] = defaultdict(int)
        for index, command in zip(replies, commands, strict=True):
            key = outbound_key(command)
            self._tie[index] = (key, seen[key], command)
            seen[key] += 1
        self._scripted = {k: n for k, n in seen.items() if k not in self.omit}
        self._slots: dict[tuple[str, int], asyncio.Future[str]] = {}
        self._answered: dict[tuple[str, int], asyncio.Event] = {}
        self._rewrites: dict[bytes, bytes] = {}

    def _slot(self, key: tuple[str, int]) -> asyncio.Future[str]:
        if key not in self._slots:
            self._slots[key] = asyncio.get_running_loop().create_future()
            self._answered[key] = asyncio.Event()
        return self._slots[key]

    async def run(self, port: int) -> None:
        """Connect to the server under test and play the recording to its end."""
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        feeder = asyncio.create_task(self._feed(writer))
        counts: dict[str, int] = defaultdict(int)
        try:
            while True:
                try:
                    block = await reader.readuntil(b"\n\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    self.closed_by_server = True
                    break
                command = block.decode().strip("\n")
                self.received.append(command)
                key = outbound_key(command)
                index = counts[key]
                counts[key] += 1
                if index < self._scripted.get(key, 0):
                    slot = (key, index)
                    self._slot(slot).set_result(command)
                    await self._answered[slot].wait()
                else:
                    writer.write(b"Content-Type: command/reply\nReply-Text: +OK\n\n")
                if key == "exit":
                    await asyncio.wait({feeder}, timeout=2.0)
                    break
        finally:
            feeder.cancel()
            writer.close()

    async def _feed(self, writer: asyncio.StreamWriter) -> None:
        for index, frame in enumerate(self.frames):
            data = frame.raw
            tie = self._tie.get(index)
            if tie is not None:
                key, occurrence, recorded = tie
                if key in self.omit:
                    continue
                command = await self._slot((key, occurrence))
                old, new = event_uuid_of(recorded), event_uuid_of(command)
                if old and new:
                    self._rewrites[old.encode()] = new.encode()
                writer.write(data)
                await writer.drain()
                self._answered[(key, occurrence)].set()
                continue
            for old_bytes, new_bytes in self._rewrites.items():
                data = data.replace(old_bytes, new_bytes)
            writer.write(data)
            await writer.drain()
        self.finished.set()

    def commands(self, key: str) -> list[str]:
        return [c for c in self.received if outbound_key(c) == key]
