"""A TCP server that replays a recorded FreeSWITCH event-socket session to a real client.

It sends the captured frames in their captured order. A captured reply (``command/reply`` or
``api/response``) waits until the client has sent the matching command, matched by command key
(``auth``, ``event``, ``exit``, ``api:uuid_kill``, ``api:show channels``...) and occurrence.
ESL has no request ids: replies pair with commands by order, so the client's commands are
answered strictly in the order they arrive.

The adapter runs API commands as ``bgapi`` jobs where the recording used ``api``: such a reply
goes out as FreeSWITCH answers a job (``+OK Job-UUID`` then a BACKGROUND_JOB event whose body is
the recorded answer). A recorded ``bgapi``'s Job-UUID is replaced by the client's in every later
frame. Commands the recording has no reply for (the adapter's resync) get the answer FreeSWITCH
would give, from the channels the replay has announced so far; ``skip`` declares how many
commands of a key come first that way, ``omit`` the recorded commands the client never sends
(their replies are left out).
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from tests.paths import FREESWITCH_CAPTURES

_UUID_RE = re.compile(r"Unique-ID: ([0-9a-f-]{36})\n")


@dataclass(frozen=True)
class Frame:
    raw: bytes
    headers: dict[str, str]
    body: bytes

    @property
    def ctype(self) -> str:
        return self.headers.get("Content-Type", "")

    @property
    def is_reply(self) -> bool:
        return self.ctype in ("command/reply", "api/response")

    @property
    def is_event(self) -> bool:
        return self.ctype in ("text/event-plain", "text/event-json")


def split_frames(data: bytes) -> list[Frame]:
    """Every frame of a recording; fails on leftover bytes (the framing must be exact)."""
    frames: list[Frame] = []
    i = 0
    while i < len(data):
        j = data.index(b"\n\n", i)
        head = data[i:j].decode()
        headers = dict(line.split(": ", 1) for line in head.split("\n") if ": " in line)
        length = int(headers.get("Content-Length", "0"))
        end = j + 2 + length
        assert end <= len(data), f"frame at byte {i} runs past the end"
        frames.append(Frame(data[i:end], headers, data[j + 2 : end]))
        i = end
    return frames


def split_commands(data: bytes) -> list[str]:
    return [block for block in data.decode().split("\n\n") if block.strip()]


def command_key(command: str) -> str:
    first = command.split("\n", 1)[0].split()
    if not first:
        return ""
    verb = first[0]
    if verb in ("api", "bgapi") and len(first) > 1:
        name = first[1]
        if name == "show" and len(first) > 2:
            return f"api:show {first[2]}"
        return f"api:{name}"
    return verb


def job_uuid_of(command: str) -> str:
    match = re.search(r"(?m)^Job-UUID: (\S+)$", command)
    return match.group(1) if match else ""


def _reply(text: str) -> bytes:
    return f"Content-Type: command/reply\nReply-Text: {text}\n\n".encode()


def _api_response(body: str) -> bytes:
    data = body.encode()
    return f"Content-Type: api/response\nContent-Length: {len(data)}\n\n".encode() + data


def background_job(job_uuid: str, command: str, result: bytes) -> bytes:
    """A BACKGROUND_JOB event as FreeSWITCH frames it (plain, with the result as its body)."""
    name, _, arg = command.partition(" ")
    inner = (
        "Event-Name: BACKGROUND_JOB\n"
        "Core-UUID: 00000000-0000-0000-0000-000000000000\n"
        f"Job-UUID: {job_uuid}\n"
        f"Job-Command: {name}\n"
        f"Job-Command-Arg: {arg.replace(' ', '%20')}\n"
        f"Content-Length: {len(result)}\n\n"
    ).encode() + result
    return f"Content-Length: {len(inner)}\nContent-Type: text/event-plain\n\n".encode() + inner


@dataclass
class EslReplay:
    recv: bytes
    sent: bytes
    skip: dict[str, int] = field(default_factory=dict)
    omit: frozenset[str] = frozenset()
    received: list[str] = field(default_factory=list)
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    connections: int = 0

    @classmethod
    def of(cls, name: str, **kwargs: object) -> EslReplay:
        folder: Path = FREESWITCH_CAPTURES
        recv = (folder / f"fs-1.10.12_{name}.recv.raw").read_bytes()
        sent = (folder / f"fs-1.10.12_{name}.sent.raw").read_bytes()
        return cls(recv, sent, **kwargs)  # type: ignore[arg-type]

    def __post_init__(self) -> None:
        self.frames = split_frames(self.recv)
        commands = split_commands(self.sent)
        replies = [i for i, f in enumerate(self.frames) if f.is_reply]
        assert len(replies) == len(commands), (len(replies), len(commands))
        # Frame index of each reply -> (key, occurrence, recorded command).
        self._tie: dict[int, tuple[str, int, str]] = {}
        seen: dict[str, int] = defaultdict(int)
        for index, command in zip(replies, commands, strict=True):
            key = command_key(command)
            self._tie[index] = (key, seen[key], command)
            seen[key] += 1
        self._scripted = {k: n for k, n in seen.items() if k not in self.omit}
        self.event_frames = sum(1 for f in self.frames if f.is_event)
        self._slots: dict[tuple[str, int], asyncio.Future[str]] = {}
        self._answered: dict[tuple[str, int], asyncio.Event] = {}
        self._rewrites: dict[bytes, bytes] = {}
        self.live: set[str] = set()
        self.synthesized_jobs = 0

    def _slot(self, key: tuple[str, int]) -> asyncio.Future[str]:
        if key not in self._slots:
            self._slots[key] = asyncio.get_running_loop().create_future()
            self._answered[key] = asyncio.Event()
        return self._slots[key]

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self.connections > 1:
            writer.close()
            return
        feeder = asyncio.create_task(self._feed(writer))
        counts: dict[str, int] = defaultdict(int)
        try:
            while True:
                try:
                    block = await reader.readuntil(b"\n\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    break
                command = block.decode().strip("\n")
                self.received.append(command)
                key = command_key(command)
                index = counts[key] - self.skip.get(key, 0)
                counts[key] += 1
                if 0 <= index < self._scripted.get(key, 0):
                    slot = (key, index)
                    self._slot(slot).set_result(command)
                    await self._answered[slot].wait()
                else:
                    writer.write(self.generic_answer(command))
                    await writer.drain()
                if key == "exit":
                    # The rest of the recording (the disconnect notice) goes out, then we close.
                    await asyncio.wait({feeder}, timeout=2.0)
                    break
        finally:
            feeder.cancel()
            writer.close()

    async def _feed(self, writer: asyncio.StreamWriter) -> None:
        for index, frame in enumerate(self.frames):
            tie = self._tie.get(index)
            data = frame.raw
            if tie is not None:
                key, occurrence, recorded = tie
                if key in self.omit:
                    continue
                command = await self._slot((key, occurrence))
                data = self._answer(frame, recorded, command)
                writer.write(data)
                await writer.drain()
                self._answered[(key, occurrence)].set()
                continue
            for old, new in self._rewrites.items():
                data = data.replace(old, new)
            if frame.is_event:
                self._track(frame.body.decode())
            writer.write(data)
            await writer.drain()
        self.finished.set()

    def _answer(self, frame: Frame, recorded: str, command: str) -> bytes:
        client_job = job_uuid_of(command)
        recorded_job = job_uuid_of(recorded)
        if recorded_job and client_job:
            self._rewrites[recorded_job.encode()] = client_job.encode()
            return frame.raw.replace(recorded_job.encode(), client_job.encode())
        if client_job and not recorded_job:
            # Recorded as `api`, asked as `bgapi`: answer as FreeSWITCH answers a job.
            self.synthesized_jobs += 1
            api_command = command.split("\n", 1)[0].split(" ", 1)[1]
            return _reply(f"+OK Job-UUID: {client_job}") + background_job(
                client_job, api_command, frame.body
            )
        return frame.raw

    def _track(self, body: str) -> None:
        match = _UUID_RE.search(body)
        if match is None:
            return
        if body.startswith("Event-Name: CHANNEL_CREATE"):
            self.live.add(match.group(1))
        elif body.startswith("Event-Name: CHANNEL_HANGUP_COMPLETE"):
            self.live.discard(match.group(1))

    def generic_answer(self, command: str) -> bytes:
        """What FreeSWITCH says to a command the recording has no reply for."""
        key = command_key(command)
        if key == "auth":
            return _reply("+OK accepted")
        if key == "event":
            return _reply("+OK event listener enabled plain")
        if key == "exit":
            return _reply("+OK bye")
        line = command.split("\n", 1)[0]
        verb, _, api_command = line.partition(" ")
        words = api_command.split()
        if key in ("api:show channels", "api:show bridged_calls"):
            result = '{"row_count": 0}\n'
        elif key == "api:uuid_exists":
            result = "true" if words[1] in self.live else "false"
        elif key in ("api:uuid_getvar", "api:uuid_kill", "api:uuid_transfer", "api:uuid_setvar"):
            if words[1] not in self.live:
                result = "-ERR No such channel!\n"
            else:
                result = "_undef_" if key == "api:uuid_getvar" else "+OK\n"
        else:
            result = "+OK\n"
        if verb == "bgapi":
            job = job_uuid_of(command) or str(uuid.uuid4())
            self.synthesized_jobs += 1
            return _reply(f"+OK Job-UUID: {job}") + background_job(
                job, api_command, result.encode()
            )
        return _api_response(result)

    def commands(self, key: str) -> list[str]:
        return [c for c in self.received if command_key(c) == key]


async def start_replay(replay: EslReplay) -> tuple[asyncio.Server, int]:
    server = await asyncio.start_server(replay.serve, "127.0.0.1", 0, limit=1 << 20)
    port = server.sockets[0].getsockname()[1]
    return server, port
