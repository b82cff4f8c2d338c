"""A TCP server that replays a recorded Asterisk AMI session to a real client.

It sends the captured bytes in their captured order. A captured answer (and the list events
that carry the same ActionID) waits until the client has sent the matching action, matched by
action name and occurrence, and goes out with the client's ActionID in place of the recorded
one. Client actions the capture has no answer for (the adapter's own resync, its Getvars) get a
minimal generic answer; ``skip`` declares how many actions of a name come first that way.
"""

from __future__ import annotations

import asyncio
import re
from collections import defaultdict
from dataclasses import dataclass, field

from tests.paths import ASTERISK_CAPTURES as CAPTURES

_BLANK = re.compile(rb"\r?\n\r?\n")


def headers_of(block: bytes) -> list[tuple[str, str]]:
    out = []
    for line in re.split(rb"\r?\n", block):
        key, sep, value = line.decode("utf-8", "replace").partition(": ")
        if sep:
            out.append((key, value))
    return out


def first(headers: list[tuple[str, str]], name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name.lower():
            return value
    return None


@dataclass
class ClientAction:
    headers: list[tuple[str, str]]

    @property
    def name(self) -> str:
        return (first(self.headers, "Action") or "").lower()

    def get(self, name: str) -> str | None:
        return first(self.headers, name)

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]


def _msg(*lines: str) -> bytes:
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def generic_answer(action: ClientAction) -> bytes:
    """What the replay says to an action the capture did not record an answer for."""
    aid = action.get("ActionID") or ""
    if action.name == "coreshowchannels":
        return (
            f"Response: Success\r\nActionID: {aid}\r\nEventList: start\r\n"
            f"Message: Channels will follow\r\n\r\n"
            f"Event: CoreShowChannelsComplete\r\nActionID: {aid}\r\nEventList: Complete\r\n"
            f"ListItems: 0\r\n\r\n"
        ).encode()
    if action.name == "getvar":
        return (
            f"Response: Success\r\nActionID: {aid}\r\nVariable: {action.get('Variable')}\r\n"
            f"Value: \r\n\r\n"
        ).encode()
    if action.name == "ping":
        return (
            f"Response: Success\r\nActionID: {aid}\r\nPing: Pong\r\nTimestamp: 1.0\r\n\r\n".encode()
        )
    if action.name == "logoff":
        return _msg("Response: Goodbye", f"ActionID: {aid}", "Message: Thanks for all the fish.")
    if action.name == "login":
        return _msg("Response: Success", f"ActionID: {aid}", "Message: Authentication accepted")
    return f"Response: Success\r\nActionID: {aid}\r\nMessage: accepted\r\n\r\n".encode()


@dataclass
class Replay:
    raw: bytes
    sent: bytes
    skip: dict[str, int] = field(default_factory=dict)
    received: list[ClientAction] = field(default_factory=list)
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    connections: int = 0

    @classmethod
    def of(cls, name: str, **kwargs: object) -> Replay:
        folder = CAPTURES / "errors" if name.startswith("e") else CAPTURES
        raw = (folder / f"asterisk-22.10.1_{name}.raw").read_bytes()
        sent = (folder / f"asterisk-22.10.1_{name}.sent").read_bytes()
        return cls(raw, sent, **kwargs)  # type: ignore[arg-type]

    def __post_init__(self) -> None:
        # Recorded ActionID -> (action name, occurrence of that name) in the capture.
        self._tie: dict[str, tuple[str, int]] = {}
        seen: dict[str, int] = defaultdict(int)
        for block in _BLANK.split(self.sent):
            headers = headers_of(block)
            name = (first(headers, "Action") or "").lower()
            aid = first(headers, "ActionID")
            if name and aid:
                self._tie[aid] = (name, seen[name])
                seen[name] += 1
        self._scripted_count = dict(seen)
        banner, _, rest = self.raw.partition(b"\r\n")
        self.banner = banner + b"\r\n"
        self.blocks = [b for b in rest.split(b"\r\n\r\n") if b]
        self._arrived: dict[tuple[str, int], asyncio.Future[str]] = {}

    def _slot(self, key: tuple[str, int]) -> asyncio.Future[str]:
        if key not in self._arrived:
            self._arrived[key] = asyncio.get_running_loop().create_future()
        return self._arrived[key]

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self.connections > 1:
            writer.close()
            return
        writer.write(self.banner)
        feeder = asyncio.create_task(self._feed(writer))
        counts: dict[str, int] = defaultdict(int)
        try:
            while True:
                try:
                    block = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    break
                action = ClientAction(headers_of(block))
                self.received.append(action)
                index = counts[action.name] - self.skip.get(action.name, 0)
                counts[action.name] += 1
                if 0 <= index < self._scripted_count.get(action.name, 0):
                    self._slot((action.name, index)).set_result(action.get("ActionID") or "")
                else:
                    writer.write(generic_answer(action))
        finally:
            feeder.cancel()
            writer.close()

    async def _feed(self, writer: asyncio.StreamWriter) -> None:
        for block in self.blocks:
            aid = first(headers_of(block), "ActionID")
            if aid is not None and aid in self._tie:
                client_id = await self._slot(self._tie[aid])
                block = re.sub(
                    rb"(?m)^ActionID: .*?(?=\r?$)", b"ActionID: " + client_id.encode(), block
                )
            writer.write(block + b"\r\n\r\n")
            await writer.drain()
        self.finished.set()

    def actions(self, name: str) -> list[ClientAction]:
        return [a for a in self.received if a.name == name.lower()]


async def start_replay(replay: Replay) -> tuple[asyncio.Server, int]:
    server = await asyncio.start_server(replay.serve, "127.0.0.1", 0, limit=1 << 20)
    port = server.sockets[0].getsockname()[1]
    return server, port
