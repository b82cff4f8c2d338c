"""Simulated SIP phones (agent endpoints): registration and how they answer calls."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pbx.sim.ami import events as ev
from pbx.sim.channel import Channel, State
from pbx.sim.pbx import Interrupted

if TYPE_CHECKING:
    from pbx.sim.pbx import Pbx


@dataclass(slots=True)
class Behaviour:
    """How the person at the phone acts. Times are simulated seconds."""

    ring_delay: float = 0.1  # until the phone reports ringing
    answer_delay: float = 2.0  # ringing until pick-up
    no_answer_probability: float = 0.0
    # Mean talk time; the phone hangs up after an exponential draw. None: never hangs up.
    talk_time_mean: float | None = None
    talk_time_min: float = 1.0


@dataclass(eq=False)
class Endpoint:
    name: str
    context: str = "agents"
    port: int = 5061
    behaviour: Behaviour = field(default_factory=Behaviour)
    registered: bool = False
    # The headers the dialplan added (PJSIP_HEADER) to each INVITE this phone received.
    invites: list[dict[str, str]] = field(default_factory=list)
    rng: random.Random = field(default_factory=random.Random)
    expires: float = 0.0
    call_id: str = ""
    # A trunk (`PJSIP/<number>@<trunk>`) reaches simulated customers: each number answers as
    # its entry here says, or as `behaviour` when it has none. `dialled` lists numbers called.
    customers: dict[str, Behaviour] = field(default_factory=dict)
    dialled: list[str] = field(default_factory=list)
    # pjsip.conf `callerid` of the endpoint: what a channel to it carries as its own caller id
    # (empty: none, and Dial() fills in the dialplan extension instead).
    callerid_num: str = ""
    callerid_name: str = ""

    def customer(self, number: str) -> Endpoint:
        """The far end of a call to ``number`` through this endpoint as a trunk."""
        self.dialled.append(number)
        behaviour = self.customers.get(number, self.behaviour)
        return Endpoint(
            number, self.context, self.port, behaviour, registered=True, rng=self.rng
        )

    @property
    def uri(self) -> str:
        return f"sip:{self.name}@127.0.0.1:{self.port}"

    @property
    def via_addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def user_agent(self) -> str:
        return "ccplane-sim-phone"

    @property
    def contact_hash(self) -> str:
        return hashlib.md5(self.uri.encode(), usedforsecurity=False).hexdigest()

    async def ring(self, pbx: Pbx, chan: Channel) -> None:
        """The far end of an outgoing call to this phone."""
        self.invites.append(dict(chan.sip_headers))
        b = self.behaviour
        try:
            await pbx.wait(chan, b.ring_delay)
            pbx.set_state(chan, State.RINGING)
            if self.rng.random() < b.no_answer_probability:
                return  # rings until the caller gives up
            await pbx.wait(chan, b.answer_delay)
            pbx.answer(chan)
            if b.talk_time_mean is None:
                return
            talk = max(b.talk_time_min, self.rng.expovariate(1.0 / b.talk_time_mean))
            while not await pbx.wait(chan, talk):
                pass  # woken by bridge changes; keep talking until the time is up
            pbx.far_end_hangup(chan)
        except Interrupted:
            return


class Endpoints:
    def __init__(self) -> None:
        self._by_name: dict[str, Endpoint] = {}
        self._pbx: Pbx | None = None

    def attach(self, pbx: Pbx) -> None:
        self._pbx = pbx

    def get(self, name: str) -> Endpoint | None:
        return self._by_name.get(name)

    def all(self) -> list[Endpoint]:
        return list(self._by_name.values())

    def add(self, endpoint: Endpoint) -> Endpoint:
        self._by_name[endpoint.name] = endpoint
        return endpoint

    def register(self, name: str, expires: float = 3600.0) -> Endpoint:
        endpoint = self._by_name.get(name) or self.add(Endpoint(name))
        endpoint.registered = True
        endpoint.call_id = hashlib.md5(
            f"{name}{id(endpoint)}".encode(), usedforsecurity=False
        ).hexdigest()
        if self._pbx is not None:
            endpoint.expires = self._pbx.clock() + expires
            # qualify_frequency = 0 in the reference pjsip.conf: Asterisk reports NonQualified.
            self._pbx.emit(ev.contact_status(endpoint.uri, "NonQualified", name, name))
            self._pbx.emit(ev.device_state(f"PJSIP/{name}", "NOT_INUSE"))
        return endpoint

    def unregister(self, name: str) -> None:
        endpoint = self._by_name.get(name)
        if endpoint is None or not endpoint.registered:
            return
        endpoint.registered = False
        if self._pbx is not None:
            self._pbx.emit(ev.contact_status(endpoint.uri, "Removed", name, name))
            self._pbx.emit(ev.device_state(f"PJSIP/{name}", "UNAVAILABLE"))
