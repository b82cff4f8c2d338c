"""The shipped Asterisk files running in the simulated PBX, driven over real TCP.

* the simulator loads ``dialplan/asterisk/extensions.conf`` (which includes
  ``extensions_cc.conf`` the way an admin's extensions.conf does), with its AMI account taken
  from ``manager_cc.conf`` and its phones and trunk from ``pjsip_agents.conf``;
* the ACD's side is played by the project's FastAGI server with a stub IVR (free port) and a
  panoramisk AMI client that records every event it receives.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from panoramisk import Manager

from pbx.asterisk.fastagi import AgiSession, FastAgiServer
from pbx.sim.channel import Channel
from pbx.sim.endpoints import Behaviour, Endpoint
from pbx.sim.inbound import inbound_call
from pbx.sim.runtime import SimConfig, Simulator
from tests.dialplan.asterisk_conf import of_type, read_conf

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "dialplan" / "asterisk"
EXTENSIONS = SHIPPED / "extensions.conf"
EXTENSIONS_CC = SHIPPED / "extensions_cc.conf"
MANAGER = SHIPPED / "manager_cc.conf"
PJSIP = SHIPPED / "pjsip_agents.conf"
MUSICONHOLD = SHIPPED / "musiconhold_cc.conf"

# 100 simulated seconds pass in one real second: a 30 s announcement interval takes 0.3 s.
TIME_SCALE = 0.01

Event = dict[str, Any]
Predicate = Callable[[Event], bool]


def manager_account() -> tuple[str, str]:
    """(user, secret) of the one account manager_cc.conf defines."""
    (user,) = read_conf(MANAGER)
    return user.name, user.get("secret") or ""


def phone_contexts() -> dict[str, str]:
    """pjsip endpoint name -> dialplan context, for every endpoint in pjsip_agents.conf."""
    return {
        name: s.get("context") or "" for name, s in of_type(read_conf(PJSIP), "endpoint").items()
    }


def trunk_name() -> str:
    (name,) = [n for n, ctx in phone_contexts().items() if ctx == "cc-inbound"]
    return name


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class IvrVisit:
    script: str
    args: list[str]
    channel: str


class StubIvr:
    """The ACD's FastAGI side: records each visit and, for new calls, tags the channel with
    CC_INTERACTION_ID and CC_QUEUE as the real IVR does at the end of its script."""

    def __init__(self, *, tag: bool = True, queue: str = "billing") -> None:
        self.server = FastAgiServer("127.0.0.1", 0)
        self.tag = tag
        self.queue = queue
        self.visits: list[IvrVisit] = []
        self.visited = asyncio.Event()
        self._ids = itertools.count(1)
        self.server.route("ivr/", self._handle)

    async def _handle(self, session: AgiSession) -> None:
        self.visits.append(IvrVisit(session.script, session.args, session.channel))
        if self.tag and session.script != "ivr/csat":
            await session.set_variable("CC_INTERACTION_ID", f"i-{next(self._ids)}")
            await session.set_variable("CC_QUEUE", self.queue)
        self.visited.set()

    @property
    def url(self) -> str:
        return f"agi://127.0.0.1:{self.server.port}"


class AmiClient:
    """panoramisk logged in with the shipped account; keeps every event it receives."""

    def __init__(self, port: int) -> None:
        user, secret = manager_account()
        self.manager = Manager(
            loop=asyncio.get_running_loop(),
            host="127.0.0.1",
            port=port,
            username=user,
            secret=secret,
            ping_delay=0,
            reconnect_timeout=1,
        )
        self.events: list[Event] = []
        self._changed = asyncio.Event()
        self.manager.register_event("*", self._add)

    def _add(self, _manager: Manager, message: Any) -> None:
        self.events.append(dict(message))
        self._changed.set()

    async def action(self, headers: Mapping[str, str]) -> Any:
        answer = await asyncio.wait_for(self.manager.send_action(dict(headers)), 5)
        return answer

    async def setvar(self, channel: str, name: str, value: str) -> None:
        answer = await self.action(
            {"Action": "Setvar", "Channel": channel, "Variable": name, "Value": value}
        )
        assert answer["Response"] == "Success", dict(answer)

    async def getvar(self, channel: str, name: str) -> str:
        answer = await self.action({"Action": "Getvar", "Channel": channel, "Variable": name})
        assert answer["Response"] == "Success", dict(answer)
        return str(answer.get("Value") or "")

    async def redirect(self, channel: str, context: str, exten: str = "s") -> None:
        answer = await self.action(
            {
                "Action": "Redirect",
                "Channel": channel,
                "Context": context,
                "Exten": exten,
                "Priority": "1",
            }
        )
        assert answer["Response"] == "Success", dict(answer)

    async def wait_for(self, predicate: Predicate, *, since: int = 0, within: float = 5.0) -> Event:
        """The first event from index ``since`` on that satisfies ``predicate``."""
        seen = since

        async def scan() -> Event:
            nonlocal seen
            while True:
                while seen < len(self.events):
                    event = self.events[seen]
                    seen += 1
                    if predicate(event):
                        return event
                self._changed.clear()
                await self._changed.wait()

        try:
            return await asyncio.wait_for(scan(), within)
        except TimeoutError:
            tail = [(e.get("Event"), e.get("Channel"), e.get("AppData")) for e in self.events[-15:]]
            raise AssertionError(f"no matching AMI event within {within} s; last: {tail}") from None

    def mark(self) -> int:
        return len(self.events)

    def of(self, channel: str, since: int = 0) -> list[Event]:
        return [e for e in self.events[since:] if e.get("Channel") == channel]


def event(name: str, channel: str | None = None, **headers: str) -> Predicate:
    def match(e: Event) -> bool:
        if e.get("Event") != name or (channel is not None and e.get("Channel") != channel):
            return False
        return all(e.get(k) == v for k, v in headers.items())

    return match


def applications(events: list[Event]) -> list[tuple[str, str, str]]:
    """(context, application, data) of each Newexten: the dialplan steps a channel ran."""
    return [
        (e.get("Context", ""), e.get("Application", ""), e.get("AppData", ""))
        for e in events
        if e.get("Event") == "Newexten"
    ]


@dataclass
class Centre:
    sim: Simulator
    ami: AmiClient
    ivr: StubIvr | None
    trunk: str = field(default_factory=trunk_name)

    def call_in(self, number: str, caller_num: str = "4930555123") -> Channel:
        return inbound_call(
            self.sim.pbx,
            number,
            context="cc-inbound",
            trunk=self.trunk,
            caller_num=caller_num,
            caller_name="Customer",
        )

    def phone(self, name: str, **behaviour: Any) -> Endpoint:
        """A registered phone for a pjsip_agents.conf endpoint, in that endpoint's context."""
        contexts = phone_contexts()
        assert name in contexts, f"{name} is not an endpoint in {PJSIP.name}"
        endpoint = Endpoint(
            name,
            context=contexts[name],
            behaviour=Behaviour(**{"ring_delay": 0.1, "answer_delay": 1.0, **behaviour}),
        )
        self.sim.endpoints.add(endpoint)
        self.sim.endpoints.register(name)
        return endpoint

    async def held(self, channel: str, since: int = 0) -> Event:
        """Waits until the call plays music in cc-hold; returns the MusicOnHoldStart."""
        await self.ami.wait_for(event("Newexten", channel, Context="cc-hold"), since=since)
        return await self.ami.wait_for(event("MusicOnHoldStart", channel), since=since)

    async def connect(self, channel: str, endpoint: str, **variables: str) -> None:
        """What the ACD does to connect: Setvar the connect variables, Redirect."""
        await self.ami.setvar(channel, "CC_AGENT_ENDPOINT", endpoint)
        for name, value in variables.items():
            await self.ami.setvar(channel, name, value)
        await self.ami.redirect(channel, "cc-connect")


MakeCentre = Callable[..., Awaitable[Centre]]


@pytest.fixture
async def make_centre() -> AsyncIterator[MakeCentre]:
    """``await make_centre(ivr=..., fastagi=url)``: a running simulator on the shipped files.
    CC_FASTAGI points at ``fastagi`` when given, else at ``ivr`` (a fresh StubIvr if none)."""
    async with AsyncExitStack() as stack:

        async def make(*, ivr: StubIvr | None = None, fastagi: str | None = None) -> Centre:
            if ivr is None and fastagi is None:
                ivr = StubIvr()
            if ivr is not None:
                await ivr.server.start()
                stack.push_async_callback(ivr.server.close)
            url = fastagi or (ivr.url if ivr else "")
            user, secret = manager_account()
            sim = Simulator(
                SimConfig(
                    dialplan_path=EXTENSIONS,
                    ami_port=0,
                    time_scale=TIME_SCALE,
                    accounts={user: secret},
                    # No media fork here: its Local channels would add events to every
                    # check (tests/acd/test_media_fork.py runs it against a real server).
                    globals_override={"CC_FASTAGI": url, "CC_AUDIOSOCKET": ""},
                    auth_fail_delay=0.05,
                )
            )
            await sim.start()
            stack.push_async_callback(sim.stop)
            ami = AmiClient(sim.ami_port)
            await asyncio.wait_for(ami.manager.connect(), 5)
            stack.callback(ami.manager.close)
            # connect() returns before the login is through; events flow once FullyBooted came.
            await ami.wait_for(event("FullyBooted"))
            return Centre(sim, ami, ivr)

        yield make


@pytest.fixture
async def centre(make_centre: MakeCentre) -> Centre:
    return await make_centre()
