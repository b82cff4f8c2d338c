"""The shipped IVR scripts inside the ACD, end to end: the simulated PBX runs the shipped
dialplan, whose AGI(.../ivr/main_menu) reaches the ACD's FastAGI server; the caller presses
keys when it hears a prompt (as DTMF on the channel); a real local customer system answers the
script's lookups; the ACD routes, rings simulated agent phones and runs the post-call survey.

The configs are the shipped ones with two changes: the support calendar is open around the
clock (the tests must not depend on when they run) and the lookups go to the test server."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import web

from cc_core.acd.agent_quality import agent_token
from cc_core.acd.wiring import Node
from cc_core.ivr.checks import luhn
from pbx.sim.ami.events import Event
from pbx.sim.channel import Channel, State
from pbx.sim.endpoints import Behaviour, Endpoint
from pbx.sim.inbound import inbound_call
from pbx.sim.runtime import SimConfig, Simulator
from tests.acd.conftest import ACD_YAML, DIALPLAN, INBOUND, Phone, point_at, start_node, wait_for

SHIPPED = Path(__file__).resolve().parents[2] / "configs"
MAIN_NUMBER = "+4930901820"  # numbers: -> ivr main_menu
VIP_NUMBER = "+4930901821"  # numbers: -> queue vip
SCRIPT_CRM = "http://127.0.0.1:8099"
TIME_SCALE = 0.1  # a 2 s prompt plays in 0.2 s; a 4 s menu timeout is 0.4 s
PHONES = {f"10{n:02d}": n for n in range(1, 11)}  # PJSIP/1001 .. PJSIP/1010 of agents.yaml


def account(stem: str) -> str:
    """An 8-digit account number that passes the script's Luhn check."""
    (number,) = [stem + d for d in "0123456789" if luhn(stem + d)]
    return number


GOLD = account("1000001")
UNKNOWN = account("1000007")


def ivr_configs(directory: Path, *, ami_port: int, store_url: str, crm: str,
                open_hours: bool = True, max_steps: int | None = None) -> Path:
    shutil.copytree(SHIPPED, directory, ignore=shutil.ignore_patterns("sim"))
    acd = ACD_YAML
    for key, value in {"node": "ivr-test", "store": store_url, "backend": "memory",
                       "redis": "redis://127.0.0.1:6379/0", "ami": ami_port, "ring": 2}.items():
        acd = acd.replace("{" + key + "}", str(value))
    (directory / "acd.yaml").write_text(acd)
    script_path = directory / "ivr" / "main_menu.yaml"
    script = yaml.safe_load(script_path.read_text())
    calendar = script["calendars"]["support"]
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun") if open_hours else ()
    calendar["weekly"] = {day: ["00:00-24:00"] for day in days}
    calendar.pop("holidays", None)
    # "0" for the operator: a transfer to the VIP line, which numbers: sends to its queue.
    script["nodes"]["main_options"]["options"]["0"] = "operator"
    script["nodes"]["operator"] = {"type": "transfer", "extension": VIP_NUMBER}
    if max_steps is not None:
        script["max_steps"] = max_steps
    for node in script["nodes"].values():
        if isinstance(node.get("url"), str):
            node["url"] = node["url"].replace(SCRIPT_CRM, crm)
    script_path.write_text(yaml.safe_dump(script, allow_unicode=True, sort_keys=False))
    return directory


@dataclass
class Caller:
    """A caller who presses keys when a prompt starts playing (``{prompt id: [keys, ...]}``,
    one entry per time the prompt is heard) and may hang up on hearing ``hang_up_on``."""

    sim: Simulator
    chan: Channel
    keys: dict[str, list[str]]
    hang_up_on: str = ""
    heard: list[str] = field(default_factory=list)

    def on_event(self, event: Event) -> None:
        if event.name != "AGIExecStart" or event.get("Uniqueid") != self.chan.uniqueid:
            return
        command = (event.get("Command") or "").split()
        if command[:2] != ["STREAM", "FILE"] or len(command) < 3:
            return
        parts = command[2].split("/")  # ccplane/<language>/<prompt>[/<piece>]
        if len(parts) < 3 or parts[0] != "ccplane" or parts[3:] not in ([], ["1"]):
            return
        prompt = parts[2]
        self.heard.append(f"{parts[1]}/{prompt}")
        if prompt == self.hang_up_on:
            self.sim.pbx.queue_hangup(self.chan, 16)
            return
        planned = self.keys.get(prompt)
        if planned:
            # Distinct durations keep the digits in order as they queue up on the channel.
            for i, digit in enumerate(planned.pop(0)):
                self.sim.pbx.dtmf(self.chan, digit, ms=100 + i)


@dataclass
class IvrCentre:
    sim: Simulator
    node: Node
    phones: dict[str, Phone]
    crm_requests: list[dict[str, str]]
    callers: int = 0

    @property
    def acd(self) -> Any:
        assert self.node.service is not None
        return self.node.service

    def call(self, keys: dict[str, list[str]], hang_up_on: str = "",
             number: str = MAIN_NUMBER) -> Caller:
        self.callers += 1
        chan = inbound_call(self.sim.pbx, number, context=INBOUND,
                            caller_num=f"+49301555{self.callers:04d}")
        caller = Caller(self.sim, chan, keys, hang_up_on)
        self.sim.pbx.listen(caller.on_event)
        return caller

    async def login(self, agent_id: str) -> None:
        url = f"http://127.0.0.1:{self.node.api_bound}/api/agents/{agent_id}/login"
        secret = self.node.config.acd.api.agent_secret  # set: the agent's own token is needed
        token = None if secret is None else agent_token(secret, agent_id)
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        async with aiohttp.ClientSession() as http, http.post(
            url, json={"state": "ready"}, headers=headers
        ) as r:
            assert r.status == 200, await r.text()

    async def row(self, interaction_id: str) -> Any:
        await self.acd.journal.drain()
        async with self.acd.store.transaction(readonly=True) as repos:
            return await repos.interactions.get(interaction_id)

    async def events(self, interaction_id: str) -> list[Any]:
        await self.acd.journal.drain()
        async with self.acd.store.transaction(readonly=True) as repos:
            return list(await repos.events.for_interaction(interaction_id))

    def record_of(self, caller: Caller) -> Any:
        return self.acd.calls.by_call(caller.chan.uniqueid)

    async def interaction_of(self, caller: Caller) -> str:
        async def tagged() -> str | None:
            return self.sim.pbx.get_var(caller.chan, "CC_INTERACTION_ID") or None

        return str(await wait_for(tagged, what="call tagged with its interaction"))


@pytest.fixture
async def crm() -> AsyncIterator[tuple[str, list[dict[str, str]]]]:
    """The customer system main_menu looks callers up in: gold knows GOLD only."""
    seen: list[dict[str, str]] = []

    async def customers(request: web.Request) -> web.StreamResponse:
        seen.append(dict(request.query))
        if request.query.get("account") == GOLD:
            return web.json_response({"customer": {"id": "c-1", "tier": "gold", "balance": 0}})
        return web.json_response({"error": "not found"}, status=404)

    app = web.Application()
    app.router.add_get("/customers", customers)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}", seen
    await runner.cleanup()


@pytest.fixture
async def centre(tmp_path: Path, sqlite_url: str,
                 crm: tuple[str, list[dict[str, str]]]) -> AsyncIterator[IvrCentre]:
    async with running(tmp_path, sqlite_url, crm) as found:
        yield found


@pytest.fixture
async def closed_centre(tmp_path: Path, sqlite_url: str,
                        crm: tuple[str, list[dict[str, str]]]) -> AsyncIterator[IvrCentre]:
    async with running(tmp_path, sqlite_url, crm, open_hours=False) as found:
        yield found


@pytest.fixture
async def runaway_centre(tmp_path: Path, sqlite_url: str,
                         crm: tuple[str, list[dict[str, str]]]) -> AsyncIterator[IvrCentre]:
    async with running(tmp_path, sqlite_url, crm, max_steps=10) as found:
        yield found


@contextlib.asynccontextmanager
async def running(tmp_path: Path, sqlite_url: str, crm: tuple[str, list[dict[str, str]]],
                  open_hours: bool = True, max_steps: int | None = None
                  ) -> AsyncIterator[IvrCentre]:
    sim = Simulator(SimConfig(dialplan_path=DIALPLAN, time_scale=TIME_SCALE,
                              globals_override={"CC_FASTAGI": "agi://127.0.0.1:1"},
                              auth_fail_delay=0.05))
    for name, i in PHONES.items():
        sim.endpoints.add(Endpoint(name, port=5200 + i,
                                   behaviour=Behaviour(ring_delay=0.5, answer_delay=1.0)))
    await sim.start()
    for name in PHONES:
        sim.endpoints.register(name)
    configs = ivr_configs(tmp_path / "configs", ami_port=sim.ami_port, store_url=sqlite_url,
                          crm=crm[0], open_hours=open_hours, max_steps=max_steps)
    node = await start_node(configs)
    point_at(sim, node)
    phones = {name: Phone(endpoint) for name in PHONES
              if (endpoint := sim.endpoints.get(name)) is not None}
    try:
        yield IvrCentre(sim, node, phones, crm[1])
    finally:
        await node.stop()
        await sim.stop()


def kinds(events: list[Any]) -> list[str]:
    return [e.event for e in events]


def path_of(events: list[Any]) -> list[str]:
    return [e.data["node"] for e in events if e.event == "ivr_node"]


async def test_keys_through_main_menu_reach_tech_support_with_skills_and_priority(
        centre: IvrCentre) -> None:
    # English, an account the customer system does not know, technical support, outage.
    caller = centre.call({"choose_language": ["1"], "enter_account": [UNKNOWN + "#"],
                          "main_options": ["2"], "tech_options": ["1"]})
    interaction_id = await centre.interaction_of(caller)

    async def queued() -> Any:
        record = centre.record_of(caller)
        return record if record is not None and record.stage.value == "queued" else None

    record = await wait_for(queued, what="queued after the IVR")
    assert record.queue == "tech_support"
    assert centre.sim.pbx.get_var(caller.chan, "CC_QUEUE") == "tech_support"
    assert centre.crm_requests == [{"account": UNKNOWN}]
    events = await centre.events(interaction_id)
    assert path_of(events) == ["welcome", "language", "lang_en", "opening_hours", "account",
                               "find_by_account", "main_options", "tech_route", "tech_menu",
                               "outage", "tech_queue"]
    inputs = [(e.data["node"], e.data["digits"]) for e in events if e.event == "ivr_input"]
    assert inputs == [("language", "1"), ("account", UNKNOWN), ("main_options", "2"),
                      ("tech_menu", "1")]
    (outcome,) = [e for e in events if e.event == "ivr_outcome"]
    assert (outcome.data["outcome"], outcome.data["queue"]) == ("queue", "tech_support")
    (queued_event,) = [e for e in events if e.event == "queued"]
    # The queue's priority (10) plus the script's (outage: 40); the script's skill minimum.
    assert queued_event.data["skills"] == {"tech_support": 2}
    assert (queued_event.data["priority"], queued_event.data["language"]) == (50, "en")
    assert kinds(events)[:2] == ["created", "ivr"]
    row = await centre.row(interaction_id)
    assert (row.queue, row.attributes["intent"], row.attributes["language"]) == (
        "tech_support", "outage", "en")
    assert row.attributes["ivr_path"][-1] == "tech_queue"
    # George (tech_support 4, English) meets step 0 (4, with the script's 2) and gets it.
    centre.phones["1007"].answers(after=0.5)
    await centre.login("george")
    await wait_for(lambda: caller.chan.bridge is not None, what="caller bridged to george")
    assert (await centre.row(interaction_id)).agent_id == "george"


async def test_spanish_caller_reaches_the_spanish_billing_queue(centre: IvrCentre) -> None:
    caller = centre.call({"choose_language": ["2"], "enter_account": [UNKNOWN + "#"],
                          "main_options": ["1"]})

    async def queued() -> Any:
        record = centre.record_of(caller)
        return record if record is not None and record.stage.value == "queued" else None

    record = await wait_for(queued, what="queued after the IVR")
    assert record.queue == "billing_es"
    assert centre.sim.pbx.get_var(caller.chan, "CHANNEL(language)") == "es"
    assert "es/main_options" in caller.heard and "en/main_options" not in caller.heard
    queued_event = [e for e in await centre.events(record.interaction_id)
                    if e.event == "queued"][-1]
    assert (queued_event.data["language"], queued_event.data["skills"]) == ("es", {})


async def test_gold_customer_found_by_account_goes_to_vip(centre: IvrCentre) -> None:
    caller = centre.call({"choose_language": ["1"], "enter_account": [GOLD + "#"]})

    async def queued() -> Any:
        record = centre.record_of(caller)
        return record if record is not None and record.stage.value == "queued" else None

    record = await wait_for(queued, what="queued after the IVR")
    assert record.queue == "vip"
    row = await centre.row(record.interaction_id)
    assert (row.attributes["tier"], row.attributes["customer_id"]) == ("gold", "c-1")


async def test_caller_hanging_up_in_the_ivr_is_abandoned_with_the_path(
        centre: IvrCentre) -> None:
    caller = centre.call({"choose_language": ["3"]}, hang_up_on="enter_account")
    interaction_id = await centre.interaction_of(caller)

    async def closed() -> bool:
        return centre.acd.calls.get(interaction_id) is None

    await wait_for(closed, what="interaction closed")

    async def logged() -> list[Any]:
        events = await centre.events(interaction_id)
        return events if "abandoned" in kinds(events) and "ivr_outcome" in kinds(events) else []

    events = await wait_for(logged, what="abandoned and the IVR outcome logged")
    row = await centre.row(interaction_id)
    assert row.state == "abandoned"
    assert "queued" not in kinds(events) and "offered" not in kinds(events)
    assert path_of(events) == ["welcome", "language", "lang_de", "opening_hours", "account"]
    (outcome,) = [e for e in events if e.event == "ivr_outcome"]
    assert outcome.data["outcome"] == "caller_hung_up" and outcome.data["node"] == "account"
    # Not an abandoned call of the queue it would have reached: the wallboard's SLA is kept.
    stats = await centre.acd.live.get_queue(row.queue)
    assert "abandoned" not in stats.counters


async def test_callback_request_is_recorded_and_the_call_ends(centre: IvrCentre) -> None:
    caller = centre.call({"choose_language": ["1"], "enter_account": [UNKNOWN + "#"],
                          "main_options": ["4"]})
    interaction_id = await centre.interaction_of(caller)

    async def ended() -> Any:
        row = await centre.row(interaction_id)
        return row if row.state == "ended" else None

    row = await wait_for(ended, what="interaction ended by the callback request")
    await wait_for(lambda: caller.chan.hung_up, what="caller hung up by the ACD")
    (exited,) = [e for e in await centre.events(interaction_id)
                 if e.data.get("stage") == "exited"]
    assert exited.event == "ended"  # the store's state; the stage says how
    assert exited.data["exit"] == "callback"
    assert exited.data["callback_number"] == caller.chan.caller_num
    assert exited.data["callback_queue"] == "billing"
    assert row.attributes["callback_number"] == caller.chan.caller_num


async def test_survey_after_the_agent_hangs_up_stores_the_score(centre: IvrCentre) -> None:
    # Billing has csat_survey: true. Alice answers, talks briefly and hangs up first; the
    # caller then hears the survey (in English, the language chosen in the first IVR).
    centre.phones["1001"].answers(after=0.5, talk=5.0)
    await centre.login("alice")
    caller = centre.call({"choose_language": ["1"], "enter_account": [UNKNOWN + "#"],
                          "main_options": ["1"], "csat_question": ["4"]})
    interaction_id = await centre.interaction_of(caller)
    await wait_for(lambda: caller.chan.bridge is not None, what="caller bridged to alice")
    assert centre.sim.pbx.get_var(caller.chan, "CC_SURVEY") == "1"

    async def scored() -> list[Any]:
        events = await centre.events(interaction_id)
        return [e for e in events if e.event == "csat"]

    (csat,) = await wait_for(scored, seconds=15, what="csat score stored")
    assert (csat.data["score"], csat.data["agent"], csat.agent_id) == (4, "alice", "alice")
    assert "en/csat_question" in caller.heard
    row = await centre.row(interaction_id)
    assert (row.attributes["csat_score"], row.attributes["csat_agent"]) == (4, "alice")
    survey_nodes = [e.data["node"] for e in await centre.events(interaction_id)
                    if e.event == "ivr_node" and e.data["script"] == "csat"]
    assert survey_nodes == ["ask", "thanks"]


async def test_survey_for_an_unknown_interaction_is_not_asked(centre: IvrCentre) -> None:
    chan = centre.sim.pbx.new_channel("PJSIP", "trunk", state=State.UP, context="cc-survey",
                                      exten="s",
                                      caller=("+4930155509999", "Customer"))
    centre.sim.pbx.set_var(chan, "CC_INTERACTION_ID", "no-such-interaction")
    centre.sim.pbx.start(chan)
    await wait_for(lambda: chan.hung_up, what="survey call over")
    assert "unknown interaction" in (centre.sim.pbx.get_var(chan, "CC_AGI_ERROR") or "")


async def test_ivr_time_counts_as_arrival_in_queue_not_at_the_first_prompt(
        centre: IvrCentre) -> None:
    caller = centre.call({"choose_language": ["1"], "enter_account": [UNKNOWN + "#"],
                          "main_options": ["3"]})
    interaction_id = await centre.interaction_of(caller)

    async def queued() -> Any:
        record = centre.record_of(caller)
        return record if record is not None and record.stage.value == "queued" else None

    record = await wait_for(queued, what="queued in sales")
    assert record.queue == "sales"
    events = await centre.events(interaction_id)
    (queued_event,) = [e for e in events if e.event == "queued"]
    last_step = max(e.time.timestamp() for e in events if e.event == "ivr_node")
    # The wait (and so the SLA and the order of service) starts in the queue, after the
    # script's last node and its goodbye prompt, not when the call reached the IVR.
    assert record.arrival == pytest.approx(queued_event.time.timestamp(), abs=1e-3)
    assert record.arrival > last_step > events[0].time.timestamp()


async def test_voicemail_out_of_hours_ends_the_interaction(closed_centre: IvrCentre) -> None:
    centre = closed_centre
    caller = centre.call({"choose_language": ["1"], "closed_options": ["2"]})
    interaction_id = await centre.interaction_of(caller)

    async def ended() -> Any:
        row = await centre.row(interaction_id)
        return row if row.state == "ended" else None

    row = await wait_for(ended, what="interaction ended by the voicemail exit")
    (exited,) = [e for e in await centre.events(interaction_id)
                 if e.data.get("stage") == "exited"]
    assert (exited.data["exit"], exited.data["mailbox"]) == ("voicemail", "support@cc-default")
    assert row.attributes["mailbox"] == "support@cc-default"
    assert "en/closed" in caller.heard and "en/enter_account" not in caller.heard
    # Redirected to the dialplan's cc-exit voicemail extension, which ends the call.
    await wait_for(lambda: caller.chan.hung_up, what="caller hung up")
    assert centre.sim.pbx.get_var(caller.chan, "CC_EXIT") == "voicemail"
    assert centre.sim.pbx.get_var(caller.chan, "CC_MAILBOX") == "support@cc-default"


async def test_transfer_sends_the_caller_on_as_a_new_call_to_the_extension(
        centre: IvrCentre) -> None:
    caller = centre.call({"choose_language": ["1"], "enter_account": [UNKNOWN + "#"],
                          "main_options": ["0"]})
    first = await centre.interaction_of(caller)

    async def retagged() -> str | None:
        tag = centre.sim.pbx.get_var(caller.chan, "CC_INTERACTION_ID")
        return tag if tag and tag != first else None

    second = await wait_for(retagged, what="the transferred call tagged afresh")
    (exited,) = [e for e in await centre.events(first) if e.data.get("stage") == "exited"]
    assert (exited.data["exit"], exited.data["extension"], exited.data["context"]) == (
        "transfer", VIP_NUMBER, "cc-inbound")

    async def in_vip() -> Any:
        record = centre.acd.calls.get(second)
        return record if record is not None and record.stage.value == "queued" else None

    record = await wait_for(in_vip, what="transferred call queued in vip")
    assert record.queue == "vip" and record.call_id == caller.chan.uniqueid


async def test_a_failed_script_falls_back_to_the_numbers_default_queue(
        runaway_centre: IvrCentre) -> None:
    # max_steps: 10, and the caller goes back to the language menu once: the script gives up
    # at its tenth node as a runaway script would.
    centre = runaway_centre
    caller = centre.call({"choose_language": ["2", "2"], "enter_account": [UNKNOWN + "#"],
                          "main_options": ["9"]})

    async def queued() -> Any:
        record = centre.record_of(caller)
        return record if record is not None and record.stage.value == "queued" else None

    record = await wait_for(queued, what="queued after the script failed")
    assert record.queue == "billing"  # the first voice queue: main_menu's number has no queue
    events = await centre.events(record.interaction_id)
    (outcome,) = [e for e in events if e.event == "ivr_outcome"]
    assert outcome.data["outcome"] == "failed"
    (queued_event,) = [e for e in events if e.event == "queued"]
    assert queued_event.data["ivr_outcome"] == "failed"
    assert "more than 10 steps" in queued_event.data["reason"]
    # The queue's own language and no script skills: the failed run decided nothing.
    assert (queued_event.data["language"], queued_event.data["skills"]) == ("en", {})


async def test_the_scripts_own_hang_up_ends_the_interaction_as_exited(
        closed_centre: IvrCentre) -> None:
    # Closed, and the caller says nothing in the closed menu: goodbye, the script hangs up.
    centre = closed_centre
    caller = centre.call({"choose_language": ["1"]})
    interaction_id = await centre.interaction_of(caller)

    async def over() -> Any:
        row = await centre.row(interaction_id)
        return row if row.state in ("ended", "abandoned") else None

    row = await wait_for(over, what="interaction closed after the goodbye")
    await wait_for(lambda: caller.chan.hung_up, what="caller hung up by the ACD")
    assert row.state == "ended"  # not abandoned: the script ended the call
    (exited,) = [e for e in await centre.events(interaction_id)
                 if e.data.get("stage") == "exited"]
    assert (exited.data["exit"], exited.data["node"]) == ("hangup", "goodbye")
    assert "en/goodbye" in caller.heard
