"""Active and standby nodes: two `cc-acd run` processes with ha on, one simulated Asterisk,
one PostgreSQL store and one Redis. The lease decides which node serves; a killed, stopped
or cut-off active node is replaced by the standby, which adopts every waiting call."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import re
import secrets
import signal
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest

from cc_core.config import ConfigError, load_configs
from cc_core.store.database import Store
from cc_core.store.live import open_live_state
from pbx.asterisk.channels import endpoint_of
from pbx.sim.ami.events import Event
from pbx.sim.channel import Channel
from pbx.sim.inbound import inbound_call
from pbx.sim.runtime import Simulator
from tests.acd.conftest import INBOUND, SALES_NUMBER, fresh_store, make_sim, wait_for, write_configs
from tests.acd.test_cli import CC_ACD, free_port, use_ports


class RedisProxy:
    """A TCP relay to Redis that the test can freeze: bytes stop flowing both ways and new
    connections are accepted but never answered, as on a network partition."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 6379
        self.db = parts.path or "/0"
        self.flowing = asyncio.Event()
        self.flowing.set()
        self.server: asyncio.Server | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        self.writers: list[asyncio.StreamWriter] = []

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"redis://127.0.0.1:{port}{self.db}"

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        await self.flowing.wait()
        up_reader, up_writer = await asyncio.open_connection(self.host, self.port)
        self.writers.append(up_writer)
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(src, dst))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await src.read(65536):
                await self.flowing.wait()
                dst.write(data)
                await dst.drain()
        dst.close()

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
        for task in list(self.tasks):
            task.cancel()
        for writer in self.writers:
            writer.close()


@dataclass
class AcdProcess:
    """One `cc-acd run` and what it printed on stdout (start line, role changes)."""

    name: str
    api: int
    fastagi: int
    proc: asyncio.subprocess.Process
    lines: list[str] = field(default_factory=list)
    reader: asyncio.Task[None] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.api}"

    async def read(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            self.lines.append(line.decode().rstrip())

    def tokens(self) -> list[int]:
        return [
            int(m.group(1))
            for line in self.lines
            if (m := re.match(r"cc-acd: active \(lease token (\d+)\)", line))
        ]


class Pair:
    """The simulated PBX, two ACD nodes (a and b) and a watcher on the agents' phones."""

    def __init__(
        self,
        tmp: Path,
        sim: Simulator,
        store_url: str,
        redis: str,
        http: aiohttp.ClientSession,
        ttl: float,
    ) -> None:
        self.tmp, self.sim, self.store_url, self.redis, self.http = tmp, sim, store_url, redis, http
        self.cluster = f"t{secrets.token_hex(4)}"
        self.ttl = ttl
        self.nodes: dict[str, AcdProcess] = {}
        self.ports = {name: (free_port(), free_port()) for name in ("a", "b")}
        self.callers: list[Channel] = []
        # Bridges each caller entered and the most channels any agent phone had at once, from
        # the PBX's own events.
        self.bridged: collections.Counter[str] = collections.Counter()
        self.most_per_phone: collections.Counter[str] = collections.Counter()
        sim.pbx.listen(self._on_event)
        sim.pbx.globals["CC_FASTAGI"] = f"agi://127.0.0.1:{self.ports['a'][1]}"
        sim.pbx.globals["CC_FASTAGI_2"] = f"agi://127.0.0.1:{self.ports['b'][1]}"

    def _on_event(self, event: Event) -> None:
        headers = dict(event.headers)
        if event.name == "BridgeEnter":
            uniqueid = headers.get("Uniqueid", "")
            if any(c.uniqueid == uniqueid for c in self.callers):
                self.bridged[uniqueid] += 1
        elif event.name == "Newchannel":
            phone = endpoint_of(headers.get("Channel", ""))
            if phone.startswith("PJSIP/agent"):
                held = sum(
                    1
                    for c in self.sim.pbx.channels.values()
                    if not c.hung_up and endpoint_of(c.name) == phone
                )
                self.most_per_phone[phone] = max(self.most_per_phone[phone], held)

    def configs(self, name: str, redis_url: str) -> Path:
        configs = write_configs(
            self.tmp / name,
            ami_port=self.sim.ami_port,
            store_url=self.store_url,
            backend="redis",
            redis_url=redis_url,
        )
        use_ports(configs, *self.ports[name])
        with (configs / "acd.yaml").open("a") as f:
            f.write(
                "media_fork: {enabled: false}\n"
                f"ha: {{enabled: true, cluster: {self.cluster}, lease: acd-active, "
                f"ttl_seconds: {self.ttl}}}\n"
            )
        return configs

    async def start(self, name: str, redis_url: str | None = None) -> AcdProcess:
        configs = self.configs(name, redis_url or self.redis)
        log = (self.tmp / f"{name}.log").open("ab")
        proc = await asyncio.create_subprocess_exec(
            *CC_ACD,
            "run",
            "--configs",
            str(configs),
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        log.close()
        api, fastagi = self.ports[name]
        node = AcdProcess(name, api, fastagi, proc)
        assert proc.stdout is not None
        first = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        assert re.match(
            rf"cc-acd: API on 127\.0\.0\.1:{api}, standby as \S+ for lease "
            rf"{self.cluster}:acd-active",
            first,
        ), first
        node.reader = asyncio.create_task(node.read())
        self.nodes[name] = node
        return node

    async def get(self, node: AcdProcess, path: str) -> tuple[int, Any]:
        try:
            async with self.http.get(node.base + path) as resp:
                return resp.status, await resp.json()
        except aiohttp.ClientError:
            return 0, None

    async def send(self, node: AcdProcess, method: str, path: str, body: Any = None) -> Any:
        async with self.http.request(method, node.base + path, json=body) as resp:
            data = await resp.json()
            assert resp.status == 200, (path, resp.status, data)
            return data

    async def role(self, node: AcdProcess) -> str | None:
        status, body = await self.get(node, "/api/ha")
        return body["role"] if status == 200 else None

    async def wait_role(self, node: AcdProcess, role: str, seconds: float = 15) -> None:
        async def reached() -> bool:
            return await self.role(node) == role

        await wait_for(reached, seconds=seconds, what=f"node {node.name} {role}")

    async def wait_queued(self, node: AcdProcess, count: int, seconds: float = 15) -> None:
        async def queued() -> bool:
            status, body = await self.get(node, "/api/calls")
            return status == 200 and sum(c["stage"] == "queued" for c in body["calls"]) == count

        await wait_for(queued, seconds=seconds, what=f"{count} calls queued on {node.name}")

    async def wait_stored(self, count: int) -> None:
        """`count` calls waiting in the store too: what a successor adopts from. (The journal
        commits in the background; a call killed before its first commit is not adopted.)"""
        store = Store.from_url(self.store_url)
        try:

            async def stored() -> bool:
                async with store.transaction(readonly=True) as repos:
                    rows = await repos.interactions.list_open()
                return sum(row.state == "queued" for row in rows) == count

            await wait_for(stored, seconds=15, what=f"{count} waiting calls in the store")
        finally:
            await store.dispose()

    def call(self) -> Channel:
        chan = inbound_call(
            self.sim.pbx,
            SALES_NUMBER,
            context=INBOUND,
            caller_num=f"20155502{len(self.callers):02d}",
        )
        self.callers.append(chan)
        return chan

    async def serve_all(self, waiting: list[Channel]) -> None:
        """Every waiting caller reaches an agent, talks and hangs up; two agents at most."""
        left = list(waiting)
        while left:
            await wait_for(
                lambda: any(c.bridge is not None for c in left),
                seconds=20,
                what=f"one of {len(left)} callers served",
            )
            for chan in [c for c in left if c.bridge is not None]:
                self.sim.pbx.queue_hangup(chan, 16)
                left.remove(chan)
            for chan in waiting:
                if chan not in left:
                    await wait_for(lambda c=chan: c.hung_up, what="caller gone")

    async def kill_all(self) -> None:
        for node in self.nodes.values():
            if node.proc.returncode is None:
                node.proc.kill()
                await node.proc.wait()
            if node.reader is not None:
                node.reader.cancel()

    async def stored_token(self) -> int | None:
        """The newest lease token the store has seen (its HA fence)."""
        store = Store.from_url(self.store_url)
        try:
            async with store.transaction(readonly=True) as repos:
                return await repos.fences.current("acd-active")
        finally:
            await store.dispose()

    async def check_store(self, expected_calls: int) -> None:
        """Every caller is one interaction, connected once and closed; none abandoned."""
        store = Store.from_url(self.store_url)
        try:

            async def all_closed() -> bool:
                async with store.transaction(readonly=True) as repos:
                    return not list(await repos.interactions.list_open())

            await wait_for(all_closed, seconds=15, what="every interaction closed")
            events: dict[str, list[str]] = collections.defaultdict(list)
            async with store.transaction(readonly=True) as repos:
                async for e in repos.events.between(
                    datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
                ):
                    if e.interaction_id:
                        events[e.interaction_id].append(e.event)
        finally:
            await store.dispose()
        assert len(events) == expected_calls, events
        for interaction, names in events.items():
            assert names.count("connected") == 1, (interaction, names)
            assert "abandoned" not in names, (interaction, names)


@contextlib.asynccontextmanager
async def running_pair(
    tmp_path: Path, store_url: str, redis_url: str, ttl: float = 2
) -> AsyncIterator[Pair]:
    await fresh_store(store_url)
    sim = make_sim(1)
    await sim.start()
    # Registered before any ACD connects: the agents log in by REST.
    for name in ("agent1001", "agent1002"):
        sim.endpoints.register(name)
        endpoint = sim.endpoints.get(name)
        assert endpoint is not None
        endpoint.behaviour.answer_delay = 0.1
    http = aiohttp.ClientSession()
    pair = Pair(tmp_path, sim, store_url, redis_url, http, ttl)
    try:
        yield pair
    finally:
        await pair.kill_all()
        await http.close()
        await sim.stop()
        live = await open_live_state("redis", redis_url, pair.cluster)
        await live.clear()
        await live.aclose()
    # Logs of both nodes stay in tmp_path (a.log, b.log) for a failed run.


async def first_active(pair: Pair) -> tuple[AcdProcess, AcdProcess]:
    """Node a starts alone and becomes active; b joins as standby behind it."""
    a = await pair.start("a")
    await pair.wait_role(a, "active")

    async def healthy() -> bool:
        return (await pair.get(a, "/health"))[0] == 200

    await wait_for(healthy, what="a connected to the PBX")
    b = await pair.start("b")
    status, ha = await pair.get(b, "/api/ha")
    assert status == 200 and ha["role"] == "standby", ha
    _, ha_a = await pair.get(a, "/api/ha")
    assert ha["holder"] == ha_a["node"] and ha["token"] == pair.nodes["a"].tokens()[0], (ha, ha_a)
    return a, b


async def test_standby_answers_only_ha_and_health(
    tmp_path: Path, pg_database: Callable[[], str], redis_url: str
) -> None:
    async with running_pair(tmp_path, pg_database(), redis_url) as pair:
        a, b = await first_active(pair)
        status, health = await pair.get(b, "/health")
        assert (status, health["status"]) == (200, "standby"), health
        async with pair.http.get(b.base + "/api/agents") as resp:
            body = await resp.json()
            assert resp.status == 503 and body["error"] == "standby", body
            assert body["active"] == (await pair.get(a, "/api/ha"))[1]["node"]
        assert (await pair.get(a, "/api/ha/active"))[0] == 200
        assert (await pair.get(b, "/api/ha/active"))[0] == 503
        # No IVR listener on the standby: the PBX cannot reach it.
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", b.fastagi)
        # Calls reach the active node: the dialplan's first address is a's.
        await pair.send(a, "POST", "/api/agents/ann/login", {})
        chan = pair.call()
        await wait_for(lambda: chan.bridge is not None, seconds=15, what="served by a")
        pair.sim.pbx.queue_hangup(chan, 16)
        await pair.check_store(1)


async def test_sigkill_of_the_active_node_hands_every_waiting_call_to_the_standby(
    tmp_path: Path, pg_database: Callable[[], str], redis_url: str
) -> None:
    async with running_pair(tmp_path, pg_database(), redis_url) as pair:
        a, b = await first_active(pair)
        await pair.send(a, "POST", "/api/agents/ann/login", {})
        first = pair.call()
        await wait_for(lambda: first.bridge is not None, seconds=15, what="served by a")
        pair.sim.pbx.queue_hangup(first, 16)
        await wait_for(lambda: first.hung_up, what="first caller gone")

        async def ann_ready() -> bool:  # wrap-up over
            return (await pair.get(a, "/api/agents/ann"))[1]["state"] == "ready"

        await wait_for(ann_ready, what="ann ready after wrap-up")
        await pair.send(a, "PUT", "/api/agents/ann/state", {"state": "not_ready"})
        waiting = [pair.call() for _ in range(3)]
        await pair.wait_queued(a, 3)
        await pair.wait_stored(3)

        a.proc.kill()  # SIGKILL: no release, the lease has to expire
        await a.proc.wait()
        await pair.wait_role(b, "active")
        assert b.tokens() and b.tokens()[0] > a.tokens()[0], (a.lines, b.lines)
        await pair.wait_queued(b, 3)  # adopted from the PBX and the store
        # b claimed its token in the store as it started: a's writes would be refused now.
        assert await pair.stored_token() == b.tokens()[0]
        # A call arriving now: the dialplan's first address refuses, the second answers.
        waiting.append(pair.call())
        await pair.wait_queued(b, 4)
        # ann's presence came over through Redis (not ready, as a left her).
        _, ann = await pair.get(b, "/api/agents/ann")
        assert ann["state"] == "not_ready", ann
        await pair.send(b, "PUT", "/api/agents/ann/state", {"state": "ready"})
        await pair.send(b, "POST", "/api/agents/ben/login", {})
        await pair.serve_all(waiting)
        await pair.check_store(5)
        assert all(pair.bridged[c.uniqueid] == 1 for c in pair.callers), pair.bridged
        assert max(pair.most_per_phone.values()) == 1, pair.most_per_phone


async def test_graceful_stop_hands_over_without_waiting_for_expiry(
    tmp_path: Path, pg_database: Callable[[], str], redis_url: str
) -> None:
    # A lease of 60 s: a handover before it could expire proves the release.
    async with running_pair(tmp_path, pg_database(), redis_url, ttl=60) as pair:
        a, b = await first_active(pair)
        waiting = [pair.call() for _ in range(2)]
        await pair.wait_queued(a, 2)
        await pair.wait_stored(2)
        a.proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(a.proc.wait(), 30) == 0
        # b's next round is ~20 s away (ttl/3): a's release wakes it at once.
        await pair.wait_role(b, "active", seconds=10)
        await pair.wait_queued(b, 2)
        await pair.send(b, "POST", "/api/agents/ann/login", {})
        await pair.send(b, "POST", "/api/agents/ben/login", {})
        await pair.serve_all(waiting)
        await pair.check_store(2)
        assert max(pair.most_per_phone.values()) == 1, pair.most_per_phone


async def test_a_node_cut_off_from_redis_steps_down(
    tmp_path: Path, pg_database: Callable[[], str], redis_url: str
) -> None:
    async with running_pair(tmp_path, pg_database(), redis_url) as pair:
        proxy = RedisProxy(redis_url)
        try:
            a = await pair.start("a", await proxy.start())
            await pair.wait_role(a, "active")
            b = await pair.start("b")
            await pair.wait_role(b, "standby")
            waiting = [pair.call() for _ in range(2)]
            await pair.wait_queued(a, 2)
            await pair.wait_stored(2)

            proxy.flowing.clear()  # a's Redis stops answering (its renewals hang)
            await wait_for(
                lambda: "cc-acd: standby (the IVR listener is closed)" in a.lines,
                seconds=15,
                what="a stepped down",
            )
            with pytest.raises(OSError):
                await asyncio.open_connection("127.0.0.1", a.fastagi)
            await pair.wait_role(b, "active")
            await pair.wait_queued(b, 2)
            await pair.send(b, "POST", "/api/agents/ann/login", {})
            await pair.send(b, "POST", "/api/agents/ben/login", {})
            await pair.serve_all(waiting)

            proxy.flowing.set()  # a back in touch: it stays standby behind b
            status, ha = await pair.get(a, "/api/ha")
            assert status == 200 and ha["role"] == "standby", ha
            _, ha_b = await pair.get(b, "/api/ha")

            async def sees_b() -> bool:
                return (await pair.get(a, "/api/ha"))[1]["holder"] == ha_b["node"]

            await wait_for(sees_b, what="a sees b holding the lease")
            assert a.tokens() == [a.tokens()[0]], a.lines  # never active again
            await pair.check_store(2)
            assert max(pair.most_per_phone.values()) == 1, pair.most_per_phone
        finally:
            await proxy.close()


def test_ha_needs_the_redis_live_state(tmp_path: Path, sqlite_url: str) -> None:
    configs = write_configs(tmp_path / "configs", ami_port=1, store_url=sqlite_url)
    with (configs / "acd.yaml").open("a") as f:
        f.write("ha:\n  enabled: true\n  ttl_seconds: 2\n")
    with pytest.raises(ConfigError) as caught:
        load_configs(configs)
    text = str(caught.value)
    assert re.search(
        r"acd\.yaml:\d+:\d+: ha: enabled: true needs live_state\.backend: redis", text
    ), text
    (configs / "acd.yaml").write_text(
        (configs / "acd.yaml")
        .read_text()
        .replace("backend: memory", "backend: redis")
        .replace("ttl_seconds: 2", "ttl_seconds: 2\n  margin_seconds: 2")
    )
    with pytest.raises(ConfigError, match=r"ha\.margin_seconds: got 2\.0 \(expected less than"):
        load_configs(configs)


def test_shipped_configs_run_without_ha() -> None:
    config = load_configs(Path(__file__).resolve().parents[2] / "configs")
    assert not config.acd.ha.enabled
    assert config.acd.live_state.backend == "memory"
