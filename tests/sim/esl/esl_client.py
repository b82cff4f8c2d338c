"""A small event-socket client for tests: send commands, await replies and events."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from pbx.sim.esl import codec

Headers = dict[str, str]


class EslClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.replies: asyncio.Queue[tuple[Headers, str]] = asyncio.Queue()
        self.events: list[tuple[Headers, str]] = []
        self.notices: list[Headers] = []
        self._changed = asyncio.Event()
        self._buf = b""
        self._task = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, port: int, password: str | None = "ClueCon") -> EslClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        c = cls(reader, writer)
        greeting, _ = await c.reply()
        assert greeting["Content-Type"] == "auth/request"
        if password is not None:
            r, _ = await c.command(f"auth {password}")
            assert r["Reply-Text"] == "+OK accepted", r
        return c

    async def _read(self) -> None:
        while True:
            data = await self.reader.read(65536)
            if not data:
                break
            self._buf += data
            frames, self._buf = codec.parse_frames(self._buf)
            for hdrs, body in frames:
                h = dict(hdrs)
                ct = h.get("Content-Type", "")
                if ct == "text/event-plain":
                    ev, ebody = codec.parse_event_plain(body)
                    self.events.append((dict(ev), ebody.decode()))
                elif ct == "text/disconnect-notice":
                    self.notices.append(h)
                else:
                    self.replies.put_nowait((h, body.decode()))
            self._changed.set()
        self._changed.set()

    async def reply(self, seconds: float = 5.0) -> tuple[Headers, str]:
        return await asyncio.wait_for(self.replies.get(), seconds)

    async def command(self, line: str, *headers: tuple[str, str]) -> tuple[Headers, str]:
        text = line + "\n" + "".join(f"{k}: {v}\n" for k, v in headers) + "\n"
        self.writer.write(text.encode())
        await self.writer.drain()
        return await self.reply()

    async def api(self, line: str) -> str:
        h, body = await self.command(f"api {line}")
        assert h["Content-Type"] == "api/response", h
        return body

    async def event(
        self, pred: Callable[[Headers], bool], seconds: float = 5.0, start: int = 0
    ) -> Headers:
        """The first event (from index `start`) matching `pred`, waiting for it if needed."""
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        i = start
        while True:
            while i < len(self.events):
                if pred(self.events[i][0]):
                    return self.events[i][0]
                i += 1
            left = end - loop.time()
            if left <= 0 or self._task.done():
                names = [
                    (e[0].get("Event-Name"), e[0].get("Application", ""), e[0].get("Channel-Name"))
                    for e in self.events[start:]
                ]
                raise AssertionError(f"no matching event; got {names}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except TimeoutError:
                pass

    async def close(self) -> None:
        self.writer.close()
        self._task.cancel()


def is_(name: str, values: Headers | None = None) -> Callable[[Headers], bool]:
    def pred(h: Headers) -> bool:
        return h.get("Event-Name") == name and all(h.get(k) == v for k, v in (values or {}).items())

    return pred
