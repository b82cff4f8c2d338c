"""Fixtures for the live-state suite: every contract test runs on memory and on a real Redis.

The Redis server comes from the shared `redis_url` fixture, which fails when it is unreachable.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import pytest
from redis.asyncio import Redis
from redis.asyncio.connection import parse_url

from cc_core.store.live.memory import MemoryLiveState
from cc_core.store.live.port import LiveState
from cc_core.store.live.redis import RedisLiveState


class FakeClock:
    """Epoch-like seconds that move only when a test says so."""

    def __init__(self, start: float = 1_763_700_000.25) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def new_namespace() -> str:
    return f"test-live-{uuid.uuid4().hex[:12]}"


@dataclass
class Harness:
    """A live state under test plus the means to play a second node and to let time pass."""

    backend: str
    live: LiveState
    clock: FakeClock
    open_node: Callable[[], Awaitable[LiveState]]

    async def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        if self.backend == "redis":
            # Redis times leases with its own clock, so real time has to pass.
            await asyncio.sleep(seconds)


async def _redis_key_count(url: str, namespace: str) -> int:
    r = Redis.from_url(url)
    try:
        return len([k async for k in r.scan_iter(match=f"{namespace}:*")])
    finally:
        await r.aclose()


@pytest.fixture(params=["memory", "redis"])
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    clock = FakeClock()
    ns = new_namespace()
    extra: list[LiveState] = []
    if request.param == "memory":
        live: LiveState = MemoryLiveState(ns, clock=clock, monotonic=clock)

        async def open_node() -> LiveState:
            # One process holds one memory store: a second "node" is the same object.
            return live
    else:
        url = request.getfixturevalue("redis_url")
        live = RedisLiveState(url, ns, clock=clock)

        async def open_node() -> LiveState:
            node = RedisLiveState(url, ns, clock=clock)
            extra.append(node)
            return node

    h = Harness(request.param, live, clock, open_node)
    try:
        yield h
    finally:
        await live.clear()
        for node in extra:
            await node.aclose()
        await live.aclose()
        if request.param == "redis":
            assert await _redis_key_count(url, ns) == 0


@pytest.fixture
async def redis_live(redis_url: str) -> AsyncIterator[RedisLiveState]:
    live = RedisLiveState(redis_url, new_namespace())
    try:
        yield live
    finally:
        await live.clear()
        await live.aclose()


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target so a test can cut the line at will."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self._target)
        self._writers |= {writer, up_writer}
        for coro in (self._pump(reader, up_writer), self._pump(up_reader, writer)):
            task = asyncio.create_task(coro)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def cut(self) -> None:
        """Stop listening and reset every forwarded connection."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for w in self._writers:
            w.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._writers.clear()


@pytest.fixture
async def redis_proxy(redis_url: str) -> AsyncIterator[TcpProxy]:
    kw = parse_url(redis_url)
    proxy = TcpProxy(str(kw.get("host", "127.0.0.1")), int(kw.get("port", 6379)))
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.cut()


def free_port() -> int:
    """A loopback port that nothing listens on (bound, read, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def via_port(url: str, port: int) -> str:
    """The same Redis URL (credentials, db) pointed at 127.0.0.1:<port>."""
    parts = urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@127.0.0.1:{port}" if userinfo else f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=netloc))
