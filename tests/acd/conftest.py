"""End-to-end fixtures: the simulated PBX (real AMI and FastAGI over TCP, in-process), temp
configs, and the ACD node (store, live state, PBX port, FastAGI, API) on free ports."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from cc_core.acd.agent_quality import agent_token
from cc_core.acd.wiring import Node
from cc_core.config import load_configs
from cc_core.store.database import Store
from pbx.sim.ami.manager_conf import load_accounts
from pbx.sim.channel import Channel
from pbx.sim.endpoints import Behaviour, Endpoint
from pbx.sim.inbound import inbound_call
from pbx.sim.runtime import SimConfig, Simulator

# The shipped dialplan, as an admin installs it (extensions.conf includes extensions_cc.conf).
DIALPLAN = Path(__file__).resolve().parents[2] / "dialplan" / "asterisk" / "extensions.conf"
# The shipped AMI account's read classes and eventfilter lines, given to the simulator's
# `acd` user: the ACD sees the events a real Asterisk would send it.
(SHIPPED_AMI,) = load_accounts(DIALPLAN.with_name("manager_cc.conf")).values()
INBOUND = "cc-inbound"
SALES_NUMBER = "5550100"
SUPPORT_NUMBER = "5550200"

AGENTS_YAML = """\
skills:
  - {id: sales}
  - {id: support}
languages:
  - {id: en}
agents:
  - {id: ann, name: Ann, endpoint: PJSIP/agent1001, skills: {sales: 5}, languages: [en],
     queues: {sales: 1}}
  - {id: ben, name: Ben, endpoint: PJSIP/agent1002, skills: {sales: 3, support: 3},
     languages: [en], queues: {sales: 1, support: 1}}
"""

QUEUES_YAML = """\
queues:
  - id: sales
    name: Sales
    channels: [voice]
    language: en
    require: {sales: 1}
    strategy: longest_idle
    wrap_up_seconds: {wrap}
    ring_timeout_seconds: {ring}
    no_answer_limit: 3
{sales_extra}
  - id: support
    name: Support
    channels: [voice]
    language: en
    require: {support: 1}
    wrap_up_seconds: {wrap}
    ring_timeout_seconds: {ring}
numbers:
  - {did: "{sales}", queue: sales}
  - {did: "{support}", queue: support}
"""

ACD_YAML = """\
node_id: {node}
timezone: UTC
api: {host: 127.0.0.1, port: 8080}
fastagi: {host: 127.0.0.1, port: 4573}
store: {url: "{store}"}
live_state: {backend: {backend}, redis_url: "{redis}"}
pbx:
  - name: sim
    type: asterisk
    ami: {host: 127.0.0.1, port: {ami}, username: acd, secret: acdsecret}
    ring_timeout: {ring}
logging: {level: INFO}
"""


def write_configs(
    directory: Path,
    *,
    ami_port: int,
    store_url: str,
    backend: str = "memory",
    redis_url: str = "redis://127.0.0.1:6379/0",
    wrap: int = 1,
    ring: int = 2,
    sales_extra: str = "",
    agents_yaml: str = AGENTS_YAML,
    agent_secret: str | None = None,
    acd_extra: str = "",
) -> Path:
    """The test centre's configs; ``agent_secret`` turns on the API's tokens, ``acd_extra``
    is added to acd.yaml as it is."""
    directory.mkdir(parents=True, exist_ok=True)
    node = f"t{secrets.token_hex(4)}"

    def fill(text: str, **values: object) -> str:
        for key, value in values.items():
            text = text.replace("{" + key + "}", str(value))
        return text

    (directory / "agents.yaml").write_text(agents_yaml)
    (directory / "queues.yaml").write_text(
        fill(QUEUES_YAML, wrap=wrap, ring=ring, sales=SALES_NUMBER, support=SUPPORT_NUMBER,
             sales_extra=sales_extra)
    )
    acd_yaml = fill(ACD_YAML, node=node, store=store_url, backend=backend, redis=redis_url,
                    ami=ami_port, ring=ring)
    if agent_secret is not None:
        acd_yaml = acd_yaml.replace("port: 8080}", f"port: 8080, agent_secret: {agent_secret}}}")
    (directory / "acd.yaml").write_text(acd_yaml + acd_extra)
    return directory


@dataclass
class Phone:
    """How a simulated agent phone behaves; change it between calls."""

    endpoint: Endpoint

    def answers(self, after: float = 0.2, talk: float | None = None) -> None:
        b = self.endpoint.behaviour
        b.answer_delay, b.no_answer_probability = after, 0.0
        b.talk_time_mean, b.talk_time_min = talk, talk or 0.0

    def never_answers(self) -> None:
        self.endpoint.behaviour.no_answer_probability = 1.0


def make_sim(fastagi_port: int) -> Simulator:
    sim = Simulator(
        SimConfig(
            dialplan_path=DIALPLAN,
            # The media fork is tested on its own (test_media_fork.py); here it would only add
            # Local channels and events to every call.
            globals_override={
                "CC_FASTAGI": f"agi://127.0.0.1:{fastagi_port}",
                "CC_AUDIOSOCKET": "",
            },
            auth_fail_delay=0.05,
        )
    )
    accounts = sim.ami.config.accounts
    accounts["acd"] = replace(SHIPPED_AMI, username="acd", secret=accounts["acd"].secret)
    for i, name in enumerate(("agent1001", "agent1002")):
        sim.endpoints.add(
            Endpoint(name, port=5100 + i, behaviour=Behaviour(ring_delay=0.05, answer_delay=0.2))
        )
    return sim


@dataclass
class Centre:
    """A running simulated PBX and ACD with an HTTP client on the ACD's API."""

    sim: Simulator
    node: Node
    http: aiohttp.ClientSession
    configs: Path
    phones: dict[str, Phone] = field(default_factory=dict)
    callers: int = 0

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.node.api_bound}"

    def agent_token(self, agent_id: str) -> str | None:
        """The agent's own token when acd.yaml has api.agent_secret, else None."""
        secret = self.node.config.acd.api.agent_secret
        return None if secret is None else agent_token(secret, agent_id)

    async def request(
        self, method: str, path: str, body: Any = None, *, token: str | None = None
    ) -> tuple[int, Any]:
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        async with self.http.request(method, self.api + path, json=body,
                                     headers=headers) as resp:
            return resp.status, await resp.json()

    async def login(self, agent_id: str, state: str = "ready") -> dict[str, Any]:
        status, body = await self.request("POST", f"/api/agents/{agent_id}/login",
                                          {"state": state}, token=self.agent_token(agent_id))
        assert status == 200, body
        return body

    def call(self, number: str = SALES_NUMBER) -> Channel:
        self.callers += 1
        return inbound_call(
            self.sim.pbx, number, context=INBOUND, caller_num=f"20155501{self.callers:02d}"
        )

    def hang_up(self, chan: Channel) -> None:
        self.sim.pbx.queue_hangup(chan, 16)

    async def settled(self) -> None:
        """Everything the ACD recorded so far is in the store."""
        assert self.node.service is not None
        await self.node.service.journal.drain()

    async def interactions(self) -> list[Any]:
        assert self.node.store is not None
        await self.settled()
        async with self.node.store.transaction(readonly=True) as repos:
            return list(await repos.interactions.list_open())

    async def events_of(self, interaction_id: str) -> list[str]:
        assert self.node.store is not None
        await self.settled()
        async with self.node.store.transaction(readonly=True) as repos:
            return [e.event for e in await repos.events.for_interaction(interaction_id)]


async def wait_for(
    check: Callable[[], Awaitable[Any]] | Callable[[], Any], seconds: float = 10.0,
    what: str = "condition",
) -> Any:
    """Poll ``check`` until it returns something truthy (tests only; the ACD never polls)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {seconds}s waiting for {what}")
        await asyncio.sleep(0.05)


def point_at(sim: Simulator, node: Node) -> None:
    """Send the dialplan's FastAGI requests to this ACD node."""
    assert node.fastagi is not None
    sim.pbx.globals["CC_FASTAGI"] = f"agi://127.0.0.1:{node.fastagi.port}"


async def start_node(configs: Path) -> Node:
    node = Node(load_configs(configs), api_port=0, fastagi_port=0, media_port=0)
    await node.start(wait_for_pbx=True)
    return node


@pytest.fixture
def store_url(sqlite_url: str) -> str:
    return sqlite_url


@pytest.fixture
async def centre(tmp_path: Path, store_url: str) -> AsyncIterator[Centre]:
    async with running_centre(tmp_path, store_url) as c:
        yield c


@contextlib.asynccontextmanager
async def running_centre(
    tmp_path: Path, store_url: str, *, endpoints: tuple[Endpoint, ...] = (), **config: Any
) -> AsyncIterator[Centre]:
    """The simulated PBX and a node as `cc-acd run` builds it (its own API); ``endpoints``
    are phones beyond the two agents' (e.g. supervisors'), ``config`` goes to
    :func:`write_configs`."""
    # The sim needs the ACD's FastAGI port and the ACD the sim's AMI port: start the sim
    # first on a free port, then the ACD, then point the dialplan's FASTAGI at it.
    sim = make_sim(1)
    for endpoint in endpoints:
        sim.endpoints.add(endpoint)
    await sim.start()
    # Registered before the ACD connects: the ACD does not see it, agents log in by REST.
    for name in ("agent1001", "agent1002", *(e.name for e in endpoints)):
        sim.endpoints.register(name)
    configs = write_configs(tmp_path / "configs", ami_port=sim.ami_port, store_url=store_url,
                            **config)
    node = await start_node(configs)
    assert node.fastagi is not None
    point_at(sim, node)
    phones = {}
    for name in ("agent1001", "agent1002"):
        endpoint = sim.endpoints.get(name)
        assert endpoint is not None
        phones[name] = Phone(endpoint)
    http = aiohttp.ClientSession()
    try:
        yield Centre(sim, node, http, configs, phones)
    finally:
        await http.close()
        await node.stop()
        await sim.stop()


async def fresh_store(url: str) -> None:
    store = Store.from_url(url)
    await store.migrate()
    await store.dispose()
