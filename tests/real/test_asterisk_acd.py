"""Opt-in: the ACD's call flows against a real Asterisk, with sipp as callers and agent phones.

Needs (docs/real-pbx.md says how to set the Asterisk up):

* ``CC_TEST_ASTERISK=host:port:user:secret``: an AMI account the ACD logs in with (the shipped
  ``manager_cc.conf`` account is enough);
* ``CC_TEST_ASTERISK_SIP=host:port``: where Asterisk takes SIP calls from the callers;
* ``CC_TEST_ASTERISK_PHONES=agent1001=host:port,agent1002=host:port``: where Asterisk's
  ``PJSIP/agent1001`` and ``PJSIP/agent1002`` ring (static contacts; sipp answers there);
* optional ``CC_TEST_ASTERISK_CALLER_IP`` (default ``127.0.0.1``): the source address of the
  callers, which Asterisk must match to an endpoint whose context is ``cc-inbound``;
* optional ``CC_TEST_ASTERISK_FASTAGI_HOST`` (default ``127.0.0.1``): the address this
  test's FastAGI server listens on and Asterisk reaches it at. The test points the
  dialplan's ``CC_FASTAGI`` global there over AMI.

Asterisk runs the shipped dialplan (``dialplan/asterisk``). The ACD runs in this process with
its own SQLite store.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from cc_core.acd.wiring import Node
from cc_core.config import load_configs
from pbx.asterisk import AsteriskPort, AsteriskSettings
from tests.acd.conftest import AGENTS_YAML, QUEUES_YAML, SALES_NUMBER, SUPPORT_NUMBER, wait_for
from tests.real import sipp

pytestmark = pytest.mark.asterisk

AMI = os.environ.get("CC_TEST_ASTERISK", "")
SIP = os.environ.get("CC_TEST_ASTERISK_SIP", "")
PHONES = os.environ.get("CC_TEST_ASTERISK_PHONES", "")
if not (AMI and SIP and PHONES):
    pytest.skip(
        "CC_TEST_ASTERISK, CC_TEST_ASTERISK_SIP and CC_TEST_ASTERISK_PHONES are not all set: "
        "no real Asterisk with SIP phones to test against",
        allow_module_level=True,
    )
if sipp.SIPP is None:
    pytest.fail("the real-Asterisk ACD suite needs sipp on PATH", pytrace=False)

CALLER_IP = os.environ.get("CC_TEST_ASTERISK_CALLER_IP", "127.0.0.1")
# Asterisk's sound directory (astdatadir/sounds), writable from here: the IVR test renders its
# prompts into <dir>/ccplane. Unset: that test is skipped.
SOUNDS = os.environ.get("CC_TEST_ASTERISK_SOUNDS", "")
MENU_NUMBER = "5550300"  # numbers: -> the menu script below
FASTAGI_HOST = os.environ.get("CC_TEST_ASTERISK_FASTAGI_HOST", "127.0.0.1")
RING_SECONDS = 4  # the queues' ring timeout: how long Asterisk rings a phone that never answers


def _ami() -> tuple[str, int, str, str]:
    parts = AMI.split(":", 3)
    if len(parts) != 4 or not parts[1].isdigit():
        pytest.fail(f"CC_TEST_ASTERISK={AMI!r}: expected host:port:user:secret", pytrace=False)
    return parts[0], int(parts[1]), parts[2], parts[3]


def _host_port(value: str, name: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        pytest.fail(f"{name}={value!r}: expected host:port", pytrace=False)
    return host, int(port)


def _phones() -> dict[str, tuple[str, int]]:
    phones = {}
    for item in PHONES.split(","):
        name, _, where = item.strip().partition("=")
        phones[name] = _host_port(where, f"CC_TEST_ASTERISK_PHONES ({name})")
    missing = {"agent1001", "agent1002"} - set(phones)
    if missing:
        pytest.fail(
            f"CC_TEST_ASTERISK_PHONES={PHONES!r}: expected agent1001=host:port,agent1002=host:port "
            f"(missing {', '.join(sorted(missing))})",
            pytrace=False,
        )
    return phones


ACD_YAML = """\
node_id: {node}
timezone: UTC
api: {host: 127.0.0.1, port: 8080}
fastagi: {host: {fastagi}, port: 4573}
store: {url: "{store}"}
live_state: {backend: memory}
pbx:
  - name: real
    type: asterisk
    ami: {host: {ami_host}, port: {ami_port}, username: {user}, secret: "{secret}"}
    ring_timeout: {ring}
logging: {level: INFO}
"""


# The supervisor of the spy tests (test_asterisk_spy.py); its phone is PJSIP/sup1900.
SUPERVISORS_YAML = """\
supervisors:
  - {id: sup-maria, name: Maria, endpoint: PJSIP/sup1900}
"""


# A menu in front of the two queues, with prompts of its own (rendered with espeak-ng).
MENU_SCRIPT = """\
name: real_menu
languages: [en]
language: en
start: menu
nodes:
  menu:
    type: menu
    prompts: [menu]
    options: {"1": to_sales, "2": to_support}
    timeout: 5
    retries: 1
    fallback: to_sales
  to_sales: {type: queue, queue: sales}
  to_support: {type: queue, queue: support, prompts: [hold_on]}
"""
MENU_PROMPTS = """\
language: en
voice: en-us
speed: 150
prompts:
  menu: "For sales, press 1. For support, press 2."
  hold_on: "Please hold."
"""


def write_configs(directory: Path, store_url: str, acd_extra: str = "") -> Path:
    """The suite's configs; ``acd_extra``: more top-level acd.yaml lines."""
    host, port, user, secret = _ami()
    directory.mkdir(parents=True, exist_ok=True)
    values: dict[str, object] = {
        "node": f"real{secrets.token_hex(3)}",
        "fastagi": FASTAGI_HOST,
        "store": store_url,
        "ami_host": host,
        "ami_port": port,
        "user": user,
        "secret": secret,
        "ring": RING_SECONDS,
        "wrap": 1,
        "sales": SALES_NUMBER,
        "support": SUPPORT_NUMBER,
        "sales_extra": "",
    }

    def fill(text: str) -> str:
        for key, value in values.items():
            text = text.replace("{" + key + "}", str(value))
        return text

    (directory / "agents.yaml").write_text(AGENTS_YAML + SUPERVISORS_YAML)
    menu_number = f'  - {{did: "{MENU_NUMBER}", ivr: real_menu}}\n'
    (directory / "queues.yaml").write_text(fill(QUEUES_YAML) + menu_number)
    (directory / "ivr").mkdir(exist_ok=True)
    (directory / "ivr" / "real_menu.yaml").write_text(MENU_SCRIPT)
    (directory / "prompts").mkdir(exist_ok=True)
    (directory / "prompts" / "en.yaml").write_text(MENU_PROMPTS)
    (directory / "acd.yaml").write_text(fill(ACD_YAML) + acd_extra)
    return directory


@dataclass
class RealCentre:
    """The ACD on a real Asterisk; sipp phones started by the test are stopped at the end."""

    node: Node
    observer: AsteriskPort
    http: aiohttp.ClientSession
    configs: Path
    work: Path
    phones: list[sipp.Phone] = field(default_factory=list)
    callers: int = 0

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.node.api_bound}"

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with self.http.request(method, self.api + path, json=body) as resp:
            return resp.status, await resp.json()

    async def login(self, agent_id: str) -> None:
        status, body = await self.request(
            "POST", f"/api/agents/{agent_id}/login", {"state": "ready"}
        )
        assert status == 200, body

    async def agent_phone(
        self,
        name: str,
        *,
        answer_after: float | None = 0.5,
        talk: float = 3.0,
        rtp: int | None = None,
        where: tuple[str, int] | None = None,
    ) -> sipp.Phone:
        host, port = where or _phones()[name]
        phone = await sipp.start_agent_phone(
            self.work, name, host, port, answer_after=answer_after, talk=talk, rtp=rtp
        )
        self.phones.append(phone)
        return phone

    async def call(
        self,
        number: str = SALES_NUMBER,
        *,
        give_up_after: float = 60.0,
        keys: Sequence[tuple[str, float]] = (),
        rtp: int | None = None,
    ) -> tuple[sipp.Phone, str]:
        self.callers += 1
        caller_id = f"20155501{self.callers:02d}"
        phone = await sipp.start_caller(
            self.work,
            f"caller{self.callers}",
            _host_port(SIP, "CC_TEST_ASTERISK_SIP"),
            number,
            caller_id,
            source=CALLER_IP,
            give_up_after=give_up_after,
            keys=keys,
            rtp=rtp,
        )
        self.phones.append(phone)
        return phone, caller_id

    async def point_fastagi(self) -> None:
        """Send the dialplan's FastAGI requests to this node (a global, set over AMI)."""
        assert self.node.fastagi is not None
        await self.observer.send_action(
            {
                "Action": "Setvar",
                "Variable": "CC_FASTAGI",
                "Value": f"agi://{FASTAGI_HOST}:{self.node.fastagi.port}",
            }
        )

    async def settled(self) -> None:
        assert self.node.service is not None
        await self.node.service.journal.drain()

    async def interactions(self) -> list[Any]:
        assert self.node.store is not None
        await self.settled()
        async with self.node.store.transaction(readonly=True) as repos:
            return list(await repos.interactions.list_open())

    async def events(self, interaction_id: str) -> list[Any]:
        assert self.node.store is not None
        await self.settled()
        async with self.node.store.transaction(readonly=True) as repos:
            return list(await repos.events.for_interaction(interaction_id))

    async def event_names(self, interaction_id: str) -> list[str]:
        return [e.event for e in await self.events(interaction_id)]

    async def open_for(self, caller_id: str, state: str | None = None) -> Any:
        """The open interaction of this caller (in ``state``), or None."""
        for row in await self.interactions():
            if caller_id in str(row.attributes) and state in (None, row.state):
                return row
        return None

    async def restart(self) -> None:
        await self.node.stop()
        self.node = await start_node(self.configs)
        await self.point_fastagi()


async def start_node(configs: Path) -> Node:
    node = Node(load_configs(configs), api_port=0, fastagi_port=0)
    await node.start(wait_for_pbx=True)
    return node


async def no_live_calls(observer: AsteriskPort) -> bool:
    return not await observer.list_live_calls()


@pytest.fixture
async def centre(tmp_path: Path, sqlite_url: str) -> AsyncIterator[RealCentre]:
    async with real_centre(tmp_path, sqlite_url) as running:
        yield running


@contextlib.asynccontextmanager
async def real_centre(
    tmp_path: Path, sqlite_url: str, acd_extra: str = ""
) -> AsyncIterator[RealCentre]:
    """The ACD on the real Asterisk (``acd_extra``: more acd.yaml lines)."""
    host, port, user, secret = _ami()
    observer = AsteriskPort(AsteriskSettings(host=host, port=port, username=user, secret=secret))
    await observer.start()
    # A run starts from a quiet PBX: a call left over from an earlier run would be adopted.
    await wait_for(lambda: no_live_calls(observer), seconds=30, what="no calls on the PBX")
    configs = write_configs(tmp_path / "configs", sqlite_url, acd_extra)
    node = await start_node(configs)
    http = aiohttp.ClientSession()
    centre = RealCentre(node, observer, http, configs, tmp_path / "sipp")
    try:
        await centre.point_fastagi()
        yield centre
    finally:
        for phone in centre.phones:
            await phone.stop()
        print(logs(centre))  # shown by pytest when the test failed
        with contextlib.suppress(Exception):
            for call in await observer.list_live_calls():
                # One at a time: a call that went meanwhile must not spare the rest.
                with contextlib.suppress(Exception):
                    await observer.hangup(call.call_id)
        await http.close()
        await centre.node.stop()
        await observer.close()


def logs(centre: RealCentre) -> str:
    return "\n".join(phone.log() for phone in centre.phones)


async def closed(centre: RealCentre, interaction_id: str) -> bool:
    return all(row.id != interaction_id for row in await centre.interactions())


async def test_call_through_the_ivr_is_answered_by_an_agent_and_wrapped_up(
    centre: RealCentre,
) -> None:
    await centre.agent_phone("agent1001", answer_after=0.5, talk=3.0)
    await centre.login("ann")
    caller, caller_id = await centre.call()
    row = await wait_for(
        lambda: centre.open_for(caller_id, "connected"),
        seconds=20,
        what="caller connected to an agent",
    )
    assert (row.agent_id, row.queue) == ("ann", "sales")
    status, ann = await centre.request("GET", "/api/agents/ann")
    assert (status, ann["state"], ann["interactions"]) == (200, "busy", [row.id])
    # The agent's phone hangs up after its talk time; the dialplan ends the caller's leg.
    assert await caller.finished(within=30) == 0, logs(centre)
    await wait_for(lambda: closed(centre, row.id), seconds=15, what="closed after wrap-up")
    names = await centre.event_names(row.id)
    # The media fork (cc-fork: ChanSpy and AudioSocket) streamed both sides to the ACD, which
    # logs the call's quality scores among the call's own events.
    assert "quality" in names
    assert [name for name in names if name != "quality"] == [
        "created",
        "ivr",
        "queued",
        "offered",
        "connected",
        "wrapup",
        "ended",
    ]
    _, ann = await centre.request("GET", "/api/agents/ann")
    assert (ann["state"], ann["contacts"]) == ("ready", 1)


async def test_unanswered_ring_goes_back_to_hold_and_reroutes(centre: RealCentre) -> None:
    await centre.agent_phone("agent1001", answer_after=None)
    await centre.agent_phone("agent1002", answer_after=0.5, talk=2.0)
    await centre.login("ann")  # longest idle: offered first, never answers
    await asyncio.sleep(0.1)
    await centre.login("ben")
    caller, caller_id = await centre.call()
    row = await wait_for(
        lambda: centre.open_for(caller_id, "connected"),
        seconds=RING_SECONDS + 20,
        what="answered by ben",
    )
    assert row.agent_id == "ben"
    events = await centre.events(row.id)
    assert [e.event for e in events] == [
        "created",
        "ivr",
        "queued",
        "offered",
        "queued",
        "offered",
        "connected",
    ]
    assert [e.agent_id for e in events if e.event == "offered"] == ["ann", "ben"]
    requeued = next(e for e in events if e.event == "queued" and e.data.get("reason"))
    assert (requeued.data["reason"], requeued.data["missed_agent"]) == ("NOANSWER", "ann")
    _, ann = await centre.request("GET", "/api/agents/ann")
    assert ann["state"] == "ready"
    assert await caller.finished(within=30) == 0, logs(centre)
    await wait_for(lambda: closed(centre, row.id), seconds=15, what="closed after wrap-up")
    assert (await centre.event_names(row.id))[-2:] == ["wrapup", "ended"]


async def test_caller_hanging_up_while_waiting_is_abandoned(centre: RealCentre) -> None:
    caller, caller_id = await centre.call(SUPPORT_NUMBER, give_up_after=4.0)
    row = await wait_for(
        lambda: centre.open_for(caller_id, "queued"),
        seconds=15,
        what="caller queued",
    )
    assert row.queue == "support"
    assert await caller.finished(within=30) == 0, logs(centre)
    await wait_for(lambda: closed(centre, row.id), seconds=15, what="interaction closed")
    events = await centre.events(row.id)
    assert [e.event for e in events] == ["created", "ivr", "queued", "abandoned"]
    # Asterisk 22 reports cause 0 for a caller's BYE before any answer (docs/real-pbx.md).
    assert events[-1].data["cause"] == "Unknown"
    _, queues = await centre.request("GET", "/api/queues")
    support = next(q for q in queues["queues"] if q["id"] == "support")
    assert support["waiting"] == 0 and support["counters"].get("abandoned") == 1


async def test_a_restarted_acd_readopts_the_waiting_call_and_serves_it(
    centre: RealCentre,
) -> None:
    caller, caller_id = await centre.call()
    row = await wait_for(
        lambda: centre.open_for(caller_id, "queued"),
        seconds=15,
        what="caller queued",
    )
    await centre.restart()
    assert centre.node.service is not None
    await wait_for(
        lambda: len(centre.node.service.calls) == 1, seconds=15, what="waiting call re-adopted"
    )
    (record,) = list(centre.node.service.calls)
    assert (record.interaction_id, record.call_id, record.stage.value) == (
        row.id,
        row.pbx_call_id,
        "queued",
    )
    assert record.arrival == row.created_at.timestamp()
    assert "readopted" in await centre.event_names(row.id)
    await centre.agent_phone("agent1001", answer_after=0.3, talk=2.0)
    await centre.login("ann")
    await wait_for(
        lambda: centre.open_for(caller_id, "connected"),
        seconds=15,
        what="re-adopted caller served",
    )
    assert await caller.finished(within=30) == 0, logs(centre)
    await wait_for(lambda: closed(centre, row.id), seconds=15, what="closed after wrap-up")
    names = [name for name in await centre.event_names(row.id) if name != "quality"]
    assert names[-3:] == ["connected", "wrapup", "ended"]


async def test_a_call_arriving_while_the_acd_is_down_is_adopted_when_it_is_back(
    centre: RealCentre,
) -> None:
    await centre.node.stop()
    # Nothing listens on the FastAGI port now: AGI() fails and the dialplan holds the call.
    caller, caller_id = await centre.call()

    async def held_untagged() -> bool:
        for call in await centre.observer.list_live_calls():
            value = await centre.observer.get_variable(call.call_id, "CC_IVR_FAILED")
            if value == "FAILURE":
                return True
        return False

    await wait_for(held_untagged, seconds=15, what="untagged caller on hold")
    centre.node = await start_node(centre.configs)
    await centre.point_fastagi()
    row = await wait_for(
        lambda: centre.open_for(caller_id), seconds=15, what="interaction created for the held call"
    )
    assert row.queue == "sales" and row.attributes["ivr_failed"] == "FAILURE"
    await centre.agent_phone("agent1002", answer_after=0.3, talk=2.0)
    await centre.login("ben")
    await wait_for(
        lambda: centre.open_for(caller_id, "connected"),
        seconds=15,
        what="adopted caller served",
    )
    assert await caller.finished(within=30) == 0, logs(centre)


@pytest.mark.skipif(not SOUNDS, reason="CC_TEST_ASTERISK_SOUNDS is not set: no prompts on the PBX")
async def test_a_key_pressed_in_the_ivr_menu_picks_the_queue(centre: RealCentre) -> None:
    from cc_core.ivr.build import build_prompts
    from cc_core.ivr.library import load_library

    # The prompts must exist on the PBX: STREAM FILE of a missing one fails the script.
    build_prompts(load_library(centre.configs).prompts, Path(SOUNDS) / "ccplane")
    # "2" while the menu prompt plays (about 3 s): it interrupts the prompt.
    caller, caller_id = await centre.call(MENU_NUMBER, give_up_after=3.0, keys=[("2", 1.5)])
    row = await wait_for(
        lambda: centre.open_for(caller_id, "queued"), seconds=15, what="caller queued by the menu"
    )
    assert row.queue == "support"
    assert await caller.finished(within=30) == 0, logs(centre)
    await wait_for(lambda: closed(centre, row.id), seconds=15, what="interaction closed")
    events = await centre.events(row.id)
    assert [e.event for e in events if not e.event.startswith("ivr_")] == [
        "created",
        "ivr",
        "queued",
        "abandoned",
    ]
    steps = [(e.event, e.data.get("node")) for e in events if e.event.startswith("ivr_")]
    assert steps == [
        ("ivr_start", "menu"),
        ("ivr_node", "menu"),
        ("ivr_prompt", "menu"),
        ("ivr_input", "menu"),
        ("ivr_node", "to_support"),
        ("ivr_prompt", "to_support"),
        ("ivr_outcome", "to_support"),
    ]
    pressed = next(e for e in events if e.event == "ivr_input")
    assert pressed.data["digits"] == "2"
