#!/usr/bin/env python3
"""Benchmark of the ACD's reaction time: from a decision input to the PBX command on the
socket, under the simulated PBX at a steady call rate.

Two inputs are timed, each up to the moment the AMI ``Redirect`` to ``cc-connect`` (the
command that rings the chosen agent) has been written to the AMI socket:

* **arrival**: the caller leaves the IVR for the holding area, i.e. the FastAGI flow calls
  ``AcdService.enqueue`` (the ACD's ``queued`` step; the dialplan's ``Goto(cc-hold)`` follows
  the AGI's end). The clock starts before the job waits in the ACD's serial queue.
* **agent ready**: an agent's wrap-up ends, either by the engine's wrap-up timer (the clock
  starts at the timer's *due* time, so a late timer counts) or by the agent over REST
  (``POST /api/agents/{id}/wrap-up/end`` from a separate client process; the clock starts
  when the request reaches the ACD's handler, as the arrival's starts when the FastAGI flow
  hands the caller over). The client's whole trip, from just before it sends the request,
  is printed as well (``client``), not judged: it adds the HTTP exchange and however long
  the event loop took to read the request.

Method. Three processes share one clock: ``time.perf_counter`` is CLOCK_MONOTONIC on Linux,
the same for every process on the machine.

* the ACD (this process): a ``Node`` exactly as ``cc-acd run`` builds it (SQLite store,
  in-memory live state, the Asterisk adapter over AMI, FastAGI, REST). The probe wraps, in
  this process only: ``AcdService.enqueue`` (arrival), ``wrapup.wrap_up_ended`` (timer due
  time, converted from the engine's wall clock), ``agents.end_wrap_up`` (to know a REST
  input caused the offer), ``offers.place`` (the engine's ``Offer`` and its trigger), the
  port's ``connect_agent`` (which call the following writes belong to) and the AMI
  transport's ``write`` (the timestamp is taken when ``write`` returns: on loopback the
  bytes are then in the kernel);
* the simulated PBX (child process): ``pbx.sim`` running the shipped dialplan
  (``dialplan/asterisk/extensions.conf``, media fork off: ``CC_AUDIOSOCKET`` empty),
  simulated agent phones that answer and hang up,
  and the callers, placed at ``--rate`` per second;
* the REST client (child process): a plain blocking HTTP client that ends an agent's
  wrap-up shortly after that agent's phone hung up; it timestamps each request.

Calls go to two queues so that both inputs occur under the same load: ``sales`` has more
agents than it needs (every call is offered on arrival), ``support`` fewer (calls wait, and
every offer follows an agent becoming ready). Offers of other kinds (an agent's first login,
a re-queued call) are counted but not timed.

Priority. In a deployment the PBX runs on its own host (or cores) and the REST client is an
agent's desktop; here all three processes share one machine, and the simulated PBX alone
uses about 70 % of a core at 200 calls/s. At equal priority the kernel now and then runs the
PBX on the ACD's core for a scheduler tick (~4 ms on this kernel), which is most of the p99:
the ACD's thread is off the CPU then (``time.thread_time`` around a slow decision advances
by a fraction of the wall time). So the two stand-ins run at ``nice 10`` by default
(``--rig-nice``): they still get every cycle the ACD leaves idle, but the ACD gets its core
back as soon as it has work. ``--rig-nice 0`` gives the shared-machine figures.

Baseline in the same run: the bare AMI round trip (``Ping`` -> ``Response``) through the
same adapter and socket, sent every 20 ms during the load. The comparison line is Asterisk's
``app_queue``, which re-checks waiting callers against free members about once per second.
To show where the time goes, it also prints the ACD's event-loop lag (a 10 ms timer), each
serial job's wait and run time (``AcdService.serial`` wrapped) and the split of each timed
command into input -> engine's offer and offer -> ``Redirect`` written.

    .venv/bin/python scripts/bench_acd.py                 # 200 calls/s for 30 s
    .venv/bin/python scripts/bench_acd.py --quick         # 200 calls/s for 5 s (~20-30 s)
    .venv/bin/python scripts/bench_acd.py --rate 100 --seconds 20
    .venv/bin/python scripts/bench_acd.py --quick --pbx freeswitch
    .venv/bin/python scripts/bench_acd.py --quick --rig-nice 0    # rig at the ACD's priority

With ``--pbx freeswitch`` the simulated PBX is the simulated FreeSWITCH (``pbx.sim.esl``,
real event socket over TCP, the shipped XML dialplan in ``dialplan/freeswitch/``), the ACD's
PBX is ``type: freeswitch`` and the IVR comes in over the outbound socket. The command timed
is the ``bgapi uuid_transfer <uuid> cc_connect`` written on the event socket (the adapter
writes from its gevent thread; the timestamp is taken when ``sendall`` returns there), and the
baseline is a ``bgapi status`` round trip (sent, accepted, its BACKGROUND_JOB back).

Exit status 0 once figures are printed (PASS or FAIL; ``--strict`` makes FAIL exit 1),
2 when the run produced no figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import contextvars
import http.client
import logging
import math
import multiprocessing as mp
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cc_core.acd import agents as acd_agents  # noqa: E402
from cc_core.acd import offers as acd_offers  # noqa: E402
from cc_core.acd import wrapup as acd_wrapup  # noqa: E402
from cc_core.acd.service import AcdService  # noqa: E402
from cc_core.acd.wiring import Node  # noqa: E402
from cc_core.config import load_configs  # noqa: E402
from cc_core.domain import AgentState  # noqa: E402
from cc_core.routing import Offer, Trigger, WrapUpEnded  # noqa: E402
from cc_core.runtime import settle_heap  # noqa: E402
from pbx.sim.ami.manager_conf import load_accounts  # noqa: E402
from pbx.sim.channel import Channel, State  # noqa: E402
from pbx.sim.endpoints import Behaviour, Endpoint  # noqa: E402
from pbx.sim.inbound import inbound_call  # noqa: E402
from pbx.sim.pbx import Pbx  # noqa: E402
from pbx.sim.runtime import SimConfig, Simulator, tune_gc  # noqa: E402

DIALPLAN = ROOT / "dialplan" / "asterisk" / "extensions.conf"
MANAGER_CONF = ROOT / "dialplan" / "asterisk" / "manager_cc.conf"
FS_DIALPLAN = [
    ROOT / "dialplan" / "freeswitch" / "vars_cc.xml",
    ROOT / "dialplan" / "freeswitch" / "dialplan" / "ccplane.xml",
]
FS_CONTEXT = "ccplane"
FS_CONNECT_EXTEN = "cc_connect"
FS_USER_BASE = 10000  # agent i's phone is user/<FS_USER_BASE + i>
INBOUND = "cc-inbound"
SALES_NUMBER = "5550100"
SUPPORT_NUMBER = "5550200"
TARGET_MS = 5.0
APP_QUEUE_MS = 1000.0  # app_queue's periodic re-check of waiting callers

# Phones: ring, answer at once, talk briefly (seconds).
RING_DELAY = 0.02
ANSWER_DELAY = 0.05
TALK_MEAN = 0.5
TALK_MIN = 0.2
SUPPORT_WRAP_UP = 2  # seconds; the REST group ends it early
REST_DELAY = 0.3  # the REST group ends wrap-up this long after the phone hung up
PING_EVERY = 0.02
# The simulated PBX and the REST client stand in for machines of their own (an Asterisk host,
# agents' desktops). On one 2-core machine at the same priority, the PBX's 70 % of a core
# takes the ACD's core from it for a scheduler tick (~4 ms) now and then, which is the whole
# p99 tail; niced, the kernel gives the ACD its core back as soon as it has work.
RIG_NICE = 10


@dataclass(frozen=True)
class Plan:
    """The load and the agents that serve it."""

    rate: float
    seconds: float
    support_share: float
    sales_agents: int
    timer_agents: int  # support agents whose wrap-up ends by the engine's timer
    rest_agents: int  # support agents who end their wrap-up over REST
    seed: int = 1
    # "shipped": the ACD logs in as manager_cc.conf's user, whose eventfilter lines the
    # simulated AMI applies as Asterisk does; "all": an unfiltered account (every event).
    ami_events: str = "shipped"

    @classmethod
    def for_rate(cls, rate: float, seconds: float, support_share: float) -> Plan:
        sales_rate = rate * (1 - support_share)
        support_rate = rate * support_share
        busy = RING_DELAY + ANSWER_DELAY + TALK_MEAN + 0.1
        # Twice what sales needs on average: calls there never wait for an agent.
        sales = math.ceil(sales_rate * busy * 2) + 5
        # Support serves about 80 % of its calls: a queue forms, so every offer there
        # follows an agent becoming ready.
        rest_cycle = busy + REST_DELAY
        timer_cycle = busy + SUPPORT_WRAP_UP
        rest = max(1, int(0.6 * support_rate * rest_cycle))
        timer = max(1, int(0.2 * support_rate * timer_cycle))
        return cls(rate, seconds, support_share, sales, timer, rest)

    def agent_ids(self) -> list[tuple[str, str]]:
        """(agent id = phone name, queue)."""
        return (
            [(f"s{i:04d}", "sales") for i in range(self.sales_agents)]
            + [(f"w{i:03d}", "support") for i in range(self.timer_agents)]
            + [(f"r{i:03d}", "support") for i in range(self.rest_agents)]
        )


# ---------------------------------------------------------------------------------- configs


def ami_account(plan: Plan) -> tuple[str, str]:
    """The AMI user the ACD logs in as: the shipped manager_cc.conf's or an unfiltered one."""
    if plan.ami_events == "all":
        return "acd", "acdsecret"
    account = next(iter(load_accounts(MANAGER_CONF).values()))
    return account.username, account.secret


def write_configs(
    directory: Path,
    plan: Plan,
    pbx_port: int,
    pbx: str = "asterisk",
    live_url: str = "",
    store_url: str = "",
) -> Path:
    lines = [
        "skills:",
        "  - {id: sales}",
        "  - {id: support}",
        "languages:",
        "  - {id: en}",
        "agents:",
    ]
    for i, (agent_id, queue) in enumerate(plan.agent_ids()):
        endpoint = f"user/{FS_USER_BASE + i}" if pbx == "freeswitch" else f"PJSIP/{agent_id}"
        lines.append(
            f"  - {{id: {agent_id}, name: Agent {agent_id}, endpoint: {endpoint}, "
            f"skills: {{{queue}: 3}}, languages: [en], queues: {{{queue}: 1}}}}"
        )
    (directory / "agents.yaml").write_text("\n".join(lines) + "\n")
    (directory / "queues.yaml").write_text(
        "queues:\n"
        "  - {id: sales, name: Sales, channels: [voice], language: en, require: {sales: 1},\n"
        "     strategy: longest_idle, wrap_up_seconds: 0, ring_timeout_seconds: 10}\n"
        "  - {id: support, name: Support, channels: [voice], language: en,\n"
        f"     require: {{support: 1}}, wrap_up_seconds: {SUPPORT_WRAP_UP},\n"
        "     ring_timeout_seconds: 10}\n"
        "numbers:\n"
        f'  - {{did: "{SALES_NUMBER}", queue: sales}}\n'
        f'  - {{did: "{SUPPORT_NUMBER}", queue: support}}\n'
    )
    if pbx == "freeswitch":
        link = (
            "esl_outbound: {host: 127.0.0.1, port: 8084}\n"
            "pbx:\n"
            "  - name: sim\n"
            "    type: freeswitch\n"
            f"    esl: {{host: 127.0.0.1, port: {pbx_port}, password: ClueCon}}\n"
        )
    else:
        user, secret = ami_account(plan)
        link = (
            "fastagi: {host: 127.0.0.1, port: 4573}\n"
            "pbx:\n"
            "  - name: sim\n"
            "    type: asterisk\n"
            f"    ami: {{host: 127.0.0.1, port: {pbx_port}, username: {user}, secret: {secret}}}\n"
        )
    if live_url:
        live = f'live_state: {{backend: redis, redis_url: "{live_url}"}}\n'
    else:
        live = "live_state: {backend: memory}\n"
    (directory / "acd.yaml").write_text(
        # A node id of its own: with Redis, nothing is restored from an earlier run.
        f"node_id: bench-{os.getpid()}-{int(time.time())}\n"
        "timezone: UTC\n"
        "api: {host: 127.0.0.1, port: 8080}\n"
        f'store: {{url: "{store_url or "sqlite+aiosqlite:///" + str(directory / "acd.sqlite")}"}}\n'
        f"{live}{link}"
        "    ring_timeout: 10\n"
        "logging: {level: WARNING}\n"
    )
    return directory


# ------------------------------------------------------------------ simulated PBX (child)


@dataclass(eq=False)
class WrapUpPhone(Endpoint):
    """An agent phone whose agent ends wrap-up over REST once the call is over."""

    after_call: Callable[[str], None] | None = None

    async def ring(self, pbx: Pbx, chan: Channel) -> None:
        await super().ring(pbx, chan)
        # Answered and hung up by the agent's side: the call is over, wrap-up has begun.
        if self.after_call is not None and chan.hangup_queued and chan.state is State.UP:
            self.after_call(self.name)


def sim_main(conn: Connection, plan: Plan, rest_q: mp.Queue, pbx: str, nice: int) -> None:  # type: ignore[type-arg]
    logging.basicConfig(level=logging.WARNING)
    os.nice(nice)
    tune_gc()
    asyncio.run(_fs_sim(conn, plan, rest_q) if pbx == "freeswitch" else _sim(conn, plan, rest_q))


async def _recv(conn: Connection) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, conn.recv)


async def _sim(conn: Connection, plan: Plan, rest_q: mp.Queue) -> None:  # type: ignore[type-arg]
    loop = asyncio.get_running_loop()
    sim = Simulator(
        SimConfig(
            dialplan_path=DIALPLAN,
            # The media fork (cc-fork: Local channels, ChanSpy, AudioSocket and a waiter per
            # call) is measured by scripts/bench_media.py; here it would only add channels and
            # AMI events to every call, as in tests/acd.
            globals_override={"CC_FASTAGI": "agi://127.0.0.1:1", "CC_AUDIOSOCKET": ""},
            max_output_bytes=256 * 1024 * 1024,
            manager_conf=MANAGER_CONF if plan.ami_events == "shipped" else None,
        )
    )

    def end_wrap_up_later(name: str) -> None:
        loop.call_later(REST_DELAY, rest_q.put, name)

    for i, (name, _) in enumerate(plan.agent_ids()):
        behaviour = Behaviour(
            ring_delay=RING_DELAY,
            answer_delay=ANSWER_DELAY,
            talk_time_mean=TALK_MEAN,
            talk_time_min=TALK_MIN,
        )
        rng = random.Random(plan.seed * 100_000 + i)
        if name.startswith("r"):
            sim.endpoints.add(
                WrapUpPhone(
                    name, port=20000 + i, behaviour=behaviour, rng=rng, after_call=end_wrap_up_later
                )
            )
        else:
            sim.endpoints.add(Endpoint(name, port=20000 + i, behaviour=behaviour, rng=rng))
    await sim.start()
    conn.send(("pbx", sim.ami_port))
    _, fastagi_port = await _recv(conn)
    sim.pbx.globals["CC_FASTAGI"] = f"agi://127.0.0.1:{fastagi_port}"
    # Registration logs each agent in as ready (EndpointRegistered).
    for name, _ in plan.agent_ids():
        sim.endpoints.register(name)
    conn.send(("registered",))
    await _recv(conn)  # go

    rng = random.Random(plan.seed)
    placed = 0
    cpu0 = time.process_time()
    t0 = loop.time()
    while (now := loop.time() - t0) < plan.seconds:
        for _ in range(int(now * plan.rate) - placed):
            number = SUPPORT_NUMBER if rng.random() < plan.support_share else SALES_NUMBER
            inbound_call(sim.pbx, number, context=INBOUND, caller_num=f"555{placed:07d}")
            placed += 1
        await asyncio.sleep(0.005)
    elapsed = loop.time() - t0
    sim_cpu = (time.process_time() - cpu0) / elapsed
    conn.send(("placed", placed, elapsed, sim_cpu))
    await _recv(conn)  # the ACD stopped measuring
    # Let calls in progress reach their agents, then clear the PBX.
    await asyncio.sleep(1.0)
    for chan in list(sim.pbx.channels.values()):
        sim.pbx.queue_hangup(chan, 16)
    for _ in range(100):  # up to 5 s
        if not sim.pbx.channels:
            break
        await asyncio.sleep(0.05)
    conn.send(("done",))
    await _recv(conn)  # stop
    await sim.stop()


async def _fs_sim(conn: Connection, plan: Plan, rest_q: mp.Queue) -> None:  # type: ignore[type-arg]
    """The same load over the simulated FreeSWITCH (event socket, shipped XML dialplan)."""
    from pbx.sim.esl import dialplan as xml_dialplan
    from pbx.sim.esl.legs import UserEndpoint
    from pbx.sim.esl.runtime import FsSimConfig, FsSimulator

    loop = asyncio.get_running_loop()
    sim = FsSimulator(FsSimConfig(dialplan_paths=FS_DIALPLAN, port=0, heartbeat=5.0))
    await sim.start()
    phones = []
    for i, (name, _) in enumerate(plan.agent_ids()):
        rng = random.Random(plan.seed * 100_000 + i)
        talk = max(TALK_MIN, rng.expovariate(1 / TALK_MEAN))
        on_call = None
        if name.startswith("r"):

            def on_call(_: object, name: str = name, talk: float = talk) -> None:
                loop.call_later(talk + REST_DELAY, rest_q.put, name)

        user = str(FS_USER_BASE + i)
        phones.append(
            UserEndpoint(
                user,
                "127.0.0.1",
                f"sip:{user}@127.0.0.1:{20000 + i}",
                answer_delay=RING_DELAY + ANSWER_DELAY,
                talk_time=talk,
                on_call=on_call,
            )
        )
    conn.send(("pbx", sim.port))
    _, ivr_port = await _recv(conn)
    dialplan = xml_dialplan.XmlDialplan(overrides={"cc_ivr_socket": f"127.0.0.1:{ivr_port}"})
    for path in FS_DIALPLAN:
        xml_dialplan.load(path, dialplan)
    sim.switch.dialplan = dialplan
    # Registration logs each agent in as ready (sofia::register -> EndpointRegistered).
    for phone in phones:
        sim.register(phone)
    conn.send(("registered",))
    await _recv(conn)  # go

    rng = random.Random(plan.seed)
    placed = 0
    cpu0 = time.process_time()
    t0 = loop.time()
    while (now := loop.time() - t0) < plan.seconds:
        for _ in range(int(now * plan.rate) - placed):
            number = SUPPORT_NUMBER if rng.random() < plan.support_share else SALES_NUMBER
            sim.switch.inbound_call(number, f"555{placed:07d}", context=FS_CONTEXT)
            placed += 1
        await asyncio.sleep(0.005)
    elapsed = loop.time() - t0
    sim_cpu = (time.process_time() - cpu0) / elapsed
    conn.send(("placed", placed, elapsed, sim_cpu))
    await _recv(conn)  # the ACD stopped measuring
    await asyncio.sleep(1.0)
    for chan in list(sim.switch.channels.values()):
        with contextlib.suppress(Exception):
            await sim.switch.hangup(chan, "NORMAL_CLEARING")
    for _ in range(100):  # up to 5 s
        if not sim.switch.channels:
            break
        await asyncio.sleep(0.05)
    conn.send(("done",))
    await _recv(conn)  # stop
    await sim.stop()


# -------------------------------------------------------------------- REST client (child)


def rest_main(api_port: int, requests: mp.Queue, out: mp.Queue, nice: int) -> None:  # type: ignore[type-arg]
    """Ends the named agents' wrap-up, one request at a time on one keep-alive connection."""
    os.nice(nice)
    conn = http.client.HTTPConnection("127.0.0.1", api_port, timeout=30)
    sent: list[tuple[str, float, int]] = []
    while (agent_id := requests.get()) is not None:
        t = time.perf_counter()
        conn.request(
            "POST",
            f"/api/agents/{agent_id}/wrap-up/end",
            body=b"{}",
            headers={"Content-Type": "application/json"},
        )
        response = conn.getresponse()
        response.read()
        sent.append((agent_id, t, response.status))
    conn.close()
    out.put(sent)


# ------------------------------------------------------------------------ the probe (ACD)

# The call whose connect command is being written (set around ``connect_agent``; the
# adapter's send tasks inherit it).
_CONNECTING: contextvars.ContextVar[str | None] = contextvars.ContextVar("connecting", default=None)


@dataclass
class Sample:
    kind: str  # arrival, timer, rest
    agent_id: str
    started: float | None  # perf_counter of the input (REST: filled in from the client)
    acd_seen: float  # perf_counter when the ACD took the input up
    decided: float  # perf_counter when the engine's offer reached ``offers.place``
    written: float


@dataclass
class Probe:
    """Timestamps at the decision inputs and at the AMI socket write, in the ACD process."""

    wall_offset: float = field(default_factory=lambda: time.time() - time.perf_counter())
    enqueued: dict[str, float] = field(default_factory=dict)
    ready: dict[str, tuple[str, float, float]] = field(default_factory=dict)
    in_rest: set[str] = field(default_factory=set)
    pending: dict[str, tuple[str, str, float | None, float, float]] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)
    untimed: dict[str, int] = field(default_factory=dict)
    queued: int = 0  # calls the ACD took into a queue
    job_waits: list[float] = field(default_factory=list)  # in the ACD's serial queue
    job_runs: list[float] = field(default_factory=list)
    measuring: bool = True
    offers: int = 0

    def untimed_offer(self, why: str) -> None:
        self.untimed[why] = self.untimed.get(why, 0) + 1

    def install(self) -> None:
        """Wrap the ACD's entry points (this process only; the ACD's code is unchanged)."""
        probe = self
        enqueue = AcdService.enqueue
        serial = AcdService.serial

        async def timed_serial(acd: AcdService, job: Callable[[], Awaitable[Any]]) -> Any:
            queued = time.perf_counter()

            async def timed_job() -> Any:
                started = time.perf_counter()
                try:
                    return await job()
                finally:
                    if probe.measuring:
                        probe.job_waits.append(started - queued)
                        probe.job_runs.append(time.perf_counter() - started)

            return await serial(acd, timed_job)

        place = acd_offers.place
        wrap_up_ended = acd_wrapup.wrap_up_ended
        end_wrap_up = acd_agents.end_wrap_up

        async def timed_enqueue(acd: AcdService, interaction_id: str) -> bool:
            probe.enqueued[interaction_id] = time.perf_counter()
            probe.queued += 1
            return await enqueue(acd, interaction_id)

        async def timed_wrap_up_ended(acd: AcdService, outcome: WrapUpEnded) -> None:
            if outcome.agent_id not in probe.in_rest:
                # The engine's clock is wall time; its due time is when the input happened.
                due = outcome.at - probe.wall_offset
                probe.ready[outcome.agent_id] = ("timer", due, time.perf_counter())
            await wrap_up_ended(acd, outcome)

        async def timed_end_wrap_up(acd: AcdService, agent_id: str) -> dict[str, object]:
            probe.in_rest.add(agent_id)
            entry = ("rest", math.nan, time.perf_counter())
            probe.ready[agent_id] = entry
            try:
                return await end_wrap_up(acd, agent_id)
            except BaseException:
                # Refused (e.g. not in wrap-up yet): this request made nobody ready.
                if probe.ready.get(agent_id) is entry:
                    del probe.ready[agent_id]
                raise
            finally:
                probe.in_rest.discard(agent_id)

        async def timed_place(acd: AcdService, offer: Offer) -> None:
            record = acd.calls.get(offer.interaction_id)
            if record is not None:
                probe.offered(offer, record.call_id)
            sent = record.connects if record is not None else 0
            try:
                await place(acd, offer)
            finally:
                # The command is written inside `place` (it starts at once); an offer that
                # sent none (not reserved, caller gone) is not timed.
                if (
                    record is not None
                    and record.connects == sent
                    and probe.pending.pop(record.call_id, None) is not None
                ):
                    probe.untimed_offer("no connect command sent")

        AcdService.enqueue = timed_enqueue  # type: ignore[method-assign]
        AcdService.serial = timed_serial  # type: ignore[method-assign]
        acd_offers.place = timed_place
        acd_wrapup.wrap_up_ended = timed_wrap_up_ended
        acd_agents.end_wrap_up = timed_end_wrap_up

    def offered(self, offer: Offer, call_id: str) -> None:
        now = time.perf_counter()
        agent_id = offer.agent_id
        self.offers += 1
        if offer.reason.trigger is Trigger.ARRIVAL:
            self.ready.pop(agent_id, None)
            started = self.enqueued.pop(offer.interaction_id, None)
            if started is None:
                self.untimed_offer("re-queued call")
                return
            self.pending[call_id] = ("arrival", agent_id, started, started, now)
        elif offer.reason.trigger is Trigger.AGENT and agent_id in self.ready:
            kind, started, seen = self.ready.pop(agent_id)
            self.enqueued.pop(offer.interaction_id, None)
            self.pending[call_id] = (kind, agent_id, None if kind == "rest" else started, seen, now)
        else:
            self.enqueued.pop(offer.interaction_id, None)
            self.untimed_offer(f"trigger {offer.reason.trigger.value} (login, step, ...)")

    def attach(self, node: Node, pbx: str) -> None:
        """Wrap the running adapter's connect command and its AMI transport's write (or the
        event socket's ``sendall``)."""
        assert node.service is not None
        port = node.service.port
        if pbx == "freeswitch":
            self._attach_esl(port)
            return
        connect_agent = port.connect_agent

        async def marked_connect(call_id: str, *args: Any, **kwargs: Any) -> None:
            token = _CONNECTING.set(call_id)
            try:
                await connect_agent(call_id, *args, **kwargs)
            finally:
                _CONNECTING.reset(token)

        port.connect_agent = marked_connect  # type: ignore[method-assign]
        try:
            # The adapter keeps one panoramisk manager per AMI connection.
            transport = port._link._manager.protocol.transport  # type: ignore[attr-defined]
        except AttributeError as exc:
            raise SystemExit(
                f"bench_acd: cannot reach the AMI transport to time writes: {exc}"
            ) from exc
        write = transport.write

        def timed_write(data: bytes) -> None:
            write(data)
            written = time.perf_counter()
            call_id = _CONNECTING.get()
            if call_id is not None and b"Action: Redirect" in data and b"cc-connect" in data:
                self.connect_written(call_id, written)

        transport.write = timed_write

    def _attach_esl(self, port: Any) -> None:
        try:
            client = port._link._client  # the connected EslClient (gevent thread)
            sock = client.sock
        except AttributeError as exc:
            raise SystemExit(f"bench_acd: cannot reach the event socket: {exc}") from exc
        loop = asyncio.get_running_loop()
        marker = f" {FS_CONNECT_EXTEN} ".encode()
        probe = self

        class TimedSocket:
            """The client's socket, timing each connect transfer when ``sendall`` returns."""

            def __getattr__(self, name: str) -> Any:
                return getattr(sock, name)

            def sendall(self, data: bytes) -> None:
                sock.sendall(data)
                written = time.perf_counter()
                if data.startswith(b"bgapi uuid_transfer ") and marker in data:
                    call_id = data.split(b" ", 3)[2].decode()
                    loop.call_soon_threadsafe(probe.connect_written, call_id, written)

        client.sock = TimedSocket()

    def connect_written(self, call_id: str, written: float) -> None:
        pending = self.pending.pop(call_id, None)
        if pending is not None:
            kind, agent_id, started, seen, decided = pending
            self.samples.append(Sample(kind, agent_id, started, seen, decided, written))

    def match_rest(self, sent: list[tuple[str, float, int]]) -> None:
        """REST inputs start when the client sent the request: the agent's latest request
        sent before the command was written."""
        by_agent: dict[str, list[float]] = {}
        for agent_id, t, status in sent:
            if status == 200:
                by_agent.setdefault(agent_id, []).append(t)
        for sample in self.samples:
            if sample.kind == "rest":
                before = [t for t in by_agent.get(sample.agent_id, []) if t <= sample.written]
                sample.started = max(before) if before else None


# ------------------------------------------------------------------------------ the run


async def _wait(what: str, seconds: float, check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench_acd: timed out after {seconds:g} s waiting for {what}")
        await asyncio.sleep(0.05)


async def _ticker(stop: asyncio.Event, lags: list[float]) -> None:
    """Lag of a 10 ms timer in the ACD's loop: how late it runs work it was asked to run."""
    while not stop.is_set():
        t = time.perf_counter()
        await asyncio.sleep(0.01)
        lags.append(max(0.0, time.perf_counter() - t - 0.01))


async def _pinger(node: Node, stop: asyncio.Event, rtts: list[float], pbx: str) -> None:
    assert node.service is not None
    port = node.service.port
    if pbx == "freeswitch":

        async def ping() -> object:
            return await port.api("status")  # type: ignore[attr-defined]

    else:
        ping = port.ping  # type: ignore[attr-defined]
    while not stop.is_set():
        t = time.perf_counter()
        await ping()
        rtts.append(time.perf_counter() - t)
        await asyncio.sleep(PING_EVERY)


class _ErrorCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.errors = 0
        self.first: list[str] = []  # the first few, to tell what went wrong

    def emit(self, record: logging.LogRecord) -> None:
        self.errors += 1
        if len(self.first) < 3:
            self.first.append(f"{record.name}: {record.getMessage()}"[:300])


@dataclass
class Result:
    plan: Plan
    placed: int
    elapsed: float
    probe: Probe
    pings: list[float]
    lags: list[float]
    acd_cpu: float  # share of one core the ACD process used during the load
    sim_cpu: float  # the same for the simulated PBX
    rest_sent: list[tuple[str, float, int]]
    teardown_errors: int
    teardown_first: list[str] = field(default_factory=list)


async def run(
    plan: Plan, pbx: str, live_url: str = "", store_url: str = "", rig_nice: int = 0
) -> Result:
    ctx = mp.get_context("spawn")
    conn, child_conn = ctx.Pipe()
    rest_q: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    rest_out: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    sim = ctx.Process(target=sim_main, args=(child_conn, plan, rest_q, pbx, rig_nice), daemon=True)
    sim.start()
    rest: mp.process.BaseProcess | None = None
    node: Node | None = None
    try:
        _, pbx_port = await _recv(conn)
        with tempfile.TemporaryDirectory(prefix="bench_acd-") as tmp:
            probe = Probe()
            probe.install()
            configs = load_configs(
                write_configs(Path(tmp), plan, pbx_port, pbx, live_url, store_url)
            )
            node = Node(configs, api_port=0, fastagi_port=0, ivr_socket_port=0)
            await node.start(wait_for_pbx=True)
            settle_heap()  # as `cc-acd run` does once started
            probe.attach(node, pbx)
            assert node.service is not None
            if pbx == "freeswitch":
                assert node.ivr_socket is not None
                ivr_port = node.ivr_socket.port
            else:
                assert node.fastagi is not None
                ivr_port = node.fastagi.port
            rest = ctx.Process(
                target=rest_main, args=(node.api_bound, rest_q, rest_out, rig_nice), daemon=True
            )
            rest.start()
            conn.send(("acd", ivr_port))
            await _recv(conn)  # registered
            service = node.service
            ids = [a for a, _ in plan.agent_ids()]
            await _wait(
                "every agent to log in by registration",
                60,
                lambda: all(service.engine.agent_state(a) is AgentState.READY for a in ids),
            )
            stop = asyncio.Event()
            pings: list[float] = []
            lags: list[float] = []
            watchers = [
                asyncio.create_task(_pinger(node, stop, pings, pbx)),
                asyncio.create_task(_ticker(stop, lags)),
            ]
            cpu0, wall0 = time.process_time(), time.perf_counter()
            conn.send(("go",))
            _, placed, elapsed, sim_cpu = await _recv(conn)
            acd_cpu = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
            stop.set()
            probe.measuring = False
            await asyncio.gather(*watchers)
            # Figures end here. Hanging up every waiting call at once makes an ACD that is
            # behind log one error per call; count them rather than flood the output.
            teardown = _ErrorCounter()
            logging.getLogger().handlers[:] = [teardown]
            conn.send(("hang up",))
            await _recv(conn)  # done
            # Every call is hung up now: let the ACD finish them before it stops.
            try:
                await _wait("the ACD to close every call", 60, lambda: not len(service.calls))
                await service.journal.drain()
            except SystemExit as exc:  # an overloaded ACD still has figures to show
                print(f"note       {exc}", file=sys.stderr)
            rest_q.put(None)
            loop = asyncio.get_running_loop()
            rest_sent = await loop.run_in_executor(None, rest_out.get, True, 30)
            conn.send(("stop",))
            await node.stop()
            node = None
        probe.match_rest(rest_sent)
        return Result(
            plan,
            placed,
            elapsed,
            probe,
            pings,
            lags,
            acd_cpu,
            sim_cpu,
            rest_sent,
            teardown.errors,
            teardown.first,
        )
    finally:
        if node is not None:
            await node.stop()
        for proc in (sim, rest):
            if proc is not None:
                proc.join(10)
                if proc.is_alive():
                    proc.kill()


# ----------------------------------------------------------------------------- figures


def percentiles(values_s: list[float]) -> tuple[float, float, float]:
    """p50, p99 and max in milliseconds (nearest rank)."""
    ordered = sorted(values_s)
    rank = max(0, math.ceil(0.99 * len(ordered)) - 1)
    return (statistics.median(ordered) * 1000, ordered[rank] * 1000, ordered[-1] * 1000)


def line(label: str, what: str, values_s: list[float]) -> str:
    if not values_s:
        return f"{label:<10} {what}: no samples"
    p50, p99, top = percentiles(values_s)
    return (
        f"{label:<10} {what}: p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {top:.2f} ms "
        f"({len(values_s)} commands)"
    )


def report(
    r: Result,
    pbx: str,
    target_ms: float,
    live: str = "memory",
    store: str = "SQLite",
    rig_nice: int = 0,
) -> bool | None:
    """Print the figures; True/False for PASS/FAIL, None when there is nothing to judge."""
    probe = r.probe
    cmd = "uuid_transfer" if pbx == "freeswitch" else "Redirect"
    by_kind: dict[str, list[float]] = {"arrival": [], "timer": [], "rest": []}
    from_acd_rest: list[float] = []
    to_decision: list[float] = []
    to_write: list[float] = []
    for s in probe.samples:
        if s.started is not None:
            by_kind[s.kind].append(s.written - s.started)
            to_decision.append(s.decided - s.started)
            to_write.append(s.written - s.decided)
        if s.kind == "rest":
            from_acd_rest.append(s.written - s.acd_seen)
    # Agent ready is when the ACD learns it, as arrival is: the timer's due time (a late
    # timer counts) or the REST request reaching its handler. The client's whole trip is
    # printed too (the HTTP exchange and the event loop's lag before it reads the request).
    ready = by_kind["timer"] + from_acd_rest
    statuses: dict[int, int] = {}
    for _, _, status in r.rest_sent:
        statuses[status] = statuses.get(status, 0) + 1
    answers = ", ".join(f"{n} x {status}" for status, n in sorted(statuses.items())) or "none"
    untimed = ", ".join(f"{n} {why}" for why, n in sorted(probe.untimed.items())) or "none"
    plan = r.plan
    print(
        f"pbx        {pbx} (pbx.sim in its own process, shipped dialplan); ACD with {store} "
        f"store and {live} live state"
    )
    own = os.getpriority(os.PRIO_PROCESS, 0)  # os.nice in the children adds to this
    print(
        f"machine    {os.cpu_count()} cores shared by the ACD, the simulated PBX and the REST "
        f"client; "
        + (
            f"the last two run {rig_nice} nice steps below the ACD (nice "
            f"{min(19, own + rig_nice)}, the ACD at {own})"
            if rig_nice
            else "all three at the same priority (--rig-nice 0)"
        )
    )
    if pbx == "asterisk":
        events = (
            "manager_cc.conf's account (its eventfilter lines)"
            if plan.ami_events == "shipped"
            else "an unfiltered account (every event)"
        )
        print(f"ami        the ACD reads AMI events as {events}")
    print(
        f"load       {r.placed} calls placed at {r.placed / r.elapsed:.1f} calls/s (asked "
        f"{plan.rate:g} for {plan.seconds:g} s); {plan.support_share:.0%} to support"
    )
    print(
        f"agents     sales {plan.sales_agents}, support {plan.timer_agents} "
        f"(wrap-up timer) + {plan.rest_agents} (REST wrap-up end; answers: "
        f"{answers})"
    )
    print(
        f"acd        took {probe.queued} calls into a queue during the run, made "
        f"{probe.offers} offers; used {r.acd_cpu:.0%} of one core (the PBX "
        f"{r.sim_cpu:.0%}); {r.teardown_errors} errors logged at the final hang-up"
    )
    for first in r.teardown_first:
        print(f"  error    {first}")
    print(f"untimed    offers: {untimed}")
    baseline = (
        "ESL bgapi status -> BACKGROUND_JOB, same adapter and socket"
        if pbx == "freeswitch"
        else "AMI Ping -> Response, same adapter and socket"
    )
    print(line("baseline", baseline, r.pings))
    print(line("loop lag", "ACD event loop, 10 ms timer", r.lags).replace(" commands)", " ticks)"))
    print(line("arrival", f"call queued -> {cmd} written", by_kind["arrival"]))
    print(line("ready", f"agent ready -> {cmd} written", ready))
    print(line("  timer", f"wrap-up timer due -> {cmd} written", by_kind["timer"]))
    print(line("  rest", f"REST handler in the ACD -> {cmd} written", from_acd_rest))
    print(line("client", f"REST request sent -> {cmd} written (not judged)", by_kind["rest"]))
    print(line("split", "all inputs -> engine's offer", to_decision))
    print(line("split", f"engine's offer -> {cmd} written", to_write))
    jobs = "jobs)"
    print(
        line("jobs", "ACD serial queue, wait before a job", probe.job_waits).replace(
            "commands)", jobs
        )
    )
    print(
        line("jobs", "ACD serial queue, one job's run", probe.job_runs).replace("commands)", jobs)
    )
    print(
        f"compare    Asterisk app_queue re-checks waiting callers about once a second: "
        f"up to {APP_QUEUE_MS:.0f} ms; target p99 < {target_ms:g} ms"
    )
    if not by_kind["arrival"] or not ready:
        print("result     NO FIGURES (no timed commands of one kind)")
        return None
    p99s = (percentiles(by_kind["arrival"])[1], percentiles(ready)[1])
    ok = all(p < target_ms for p in p99s)
    print(
        f"result     {'PASS' if ok else 'FAIL'} (p99 arrival {p99s[0]:.2f} ms, "
        f"ready {p99s[1]:.2f} ms, target < {target_ms:g} ms)"
    )
    return ok


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rate", type=float, default=200.0, help="new calls per second")
    p.add_argument(
        "--seconds",
        type=float,
        default=None,
        help="how long calls keep arriving (default 30, 5 with --quick)",
    )
    p.add_argument("--quick", action="store_true", help="a short run (~20 s in all)")
    p.add_argument(
        "--support-share",
        type=float,
        default=0.1,
        help="share of calls to the queue where calls wait for agents",
    )
    p.add_argument(
        "--pbx",
        choices=("asterisk", "freeswitch"),
        default="asterisk",
        help="which simulated PBX and adapter",
    )
    p.add_argument(
        "--redis-url",
        default="",
        help="live state in this Redis (e.g. redis://127.0.0.1:6379/15) instead of in memory",
    )
    p.add_argument(
        "--ami-events",
        choices=("shipped", "all"),
        default="shipped",
        help="AMI account of the ACD: manager_cc.conf's (its eventfilter lines) or unfiltered",
    )
    p.add_argument(
        "--store-url",
        default="",
        help="the ACD's store (e.g. postgresql+asyncpg://postgres@127.0.0.1/bench, an empty "
        "database) instead of a new SQLite file",
    )
    p.add_argument(
        "--rig-nice",
        type=int,
        default=RIG_NICE,
        help="nice value of the simulated PBX and the REST client (0: the same priority as "
        "the ACD)",
    )
    p.add_argument("--target-ms", type=float, default=TARGET_MS, help="p99 target")
    p.add_argument("--strict", action="store_true", help="exit 1 when below target")
    args = p.parse_args()
    if args.rate <= 0 or not 0 < args.support_share < 1:
        p.error("--rate must be > 0 and --support-share between 0 and 1")
    seconds = args.seconds if args.seconds is not None else (5.0 if args.quick else 30.0)
    if seconds <= 0:
        p.error("--seconds must be > 0")
    logging.basicConfig(level=logging.WARNING)
    plan = replace(
        Plan.for_rate(args.rate, seconds, args.support_share), ami_events=args.ami_events
    )
    if not 0 <= args.rig_nice <= 19:
        p.error("--rig-nice must be between 0 and 19")
    result = asyncio.run(run(plan, args.pbx, args.redis_url, args.store_url, args.rig_nice))
    store = "PostgreSQL" if args.store_url.startswith("postgresql") else "SQLite"
    live = "redis" if args.redis_url else "memory"
    ok = report(result, args.pbx, args.target_ms, live, store, args.rig_nice)
    if ok is None:
        return 2
    return 1 if args.strict and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
