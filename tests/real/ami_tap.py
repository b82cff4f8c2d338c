"""A second AMI session for the opt-in suites that keeps every event it is sent, to check
what Asterisk did beside what the ACD sees (the account's own event filters apply)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.acd.conftest import wait_for


@dataclass
class AmiTap:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    events: list[dict[str, str]] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, host: str, port: int, user: str, secret: str) -> AmiTap:
        reader, writer = await asyncio.open_connection(host, port)
        await reader.readline()  # banner
        writer.write(f"Action: Login\r\nUsername: {user}\r\nSecret: {secret}\r\n\r\n".encode())
        tap = cls(reader, writer)
        tap.task = asyncio.create_task(tap._read())
        login = await tap.wait(lambda m: "Response" in m, "login answer")
        if login["Response"] != "Success":
            await tap.close()
            raise ConnectionError(f"AMI login as {user!r} refused: {login.get('Message')}")
        return tap

    async def _read(self) -> None:
        message: dict[str, str] = {}
        while line := await self.reader.readline():
            text = line.decode(errors="replace").rstrip("\r\n")
            if text:
                key, _, value = text.partition(":")
                message.setdefault(key, value.strip())
            elif message:
                self.events.append(message)
                message = {}

    async def wait(
        self, match: Callable[[dict[str, str]], bool], what: str, seconds: float = 15
    ) -> dict[str, str]:
        def found() -> dict[str, str] | None:
            return next((m for m in self.events if match(m)), None)

        return await wait_for(found, seconds=seconds, what=what)

    def of(self, name: str, **headers: str) -> list[dict[str, str]]:
        return [
            m
            for m in self.events
            if m.get("Event") == name and all(m.get(k) == v for k, v in headers.items())
        ]

    async def close(self) -> None:
        self.writer.close()
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
