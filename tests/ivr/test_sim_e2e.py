"""End to end over the simulated PBX: a caller dials the shipped dialplan
(dialplan/asterisk/extensions.conf), which runs AGI(agi://.../ivr/main_menu); the project's
FastAGI server runs the script with the interpreter, and the caller's keys travel as DTMF."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cc_core.ivr import IvrContext, IvrEvent, IvrLibrary, IvrOutcome, OutcomeKind, run_script
from pbx.asterisk.fastagi import AgiSession, FastAgiServer
from pbx.sim.channel import Channel, State
from pbx.sim.inbound import inbound_call
from pbx.sim.runtime import SimConfig, Simulator

from .conftest import GOLD, OPEN

ROOT = Path(__file__).resolve().parents[2]
EXTENSIONS = ROOT / "dialplan" / "asterisk" / "extensions.conf"
TIME_SCALE = 0.1  # a 2 s prompt plays in 0.2 s, a 4 s menu timeout is 0.4 s


@dataclass
class Ivr:
    """The ACD's side, cut down to the IVR: run the script, tag a queued call."""

    library: IvrLibrary
    server: FastAgiServer = field(default_factory=lambda: FastAgiServer("127.0.0.1", 0))
    outcomes: list[IvrOutcome] = field(default_factory=list)
    events: list[IvrEvent] = field(default_factory=list)
    on_event: Callable[[IvrEvent], None] | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, session: AgiSession) -> None:
        script = self.library.script(session.script.removeprefix("ivr/"))
        # The survey context passes the interaction id as the first AGI argument.
        known = {"interaction_id": session.args[0]} if script.survey and session.args else {}
        outcome = await run_script(script, session, IvrContext(
            prompts=self.library.prompts, sink=self.sink, clock=lambda: OPEN, attributes=known))
        self.outcomes.append(outcome)
        if outcome.kind is OutcomeKind.QUEUE and outcome.queue:
            await session.set_variable("CC_INTERACTION_ID", "i-1")
            await session.set_variable("CC_QUEUE", outcome.queue)
        self.done.set()

    def sink(self, event: IvrEvent) -> None:
        self.events.append(event)
        if self.on_event is not None:
            self.on_event(event)


@pytest.fixture
async def ivr(library: IvrLibrary) -> AsyncIterator[Ivr]:
    found = Ivr(library)
    found.server.route("ivr/", found.handle)
    await found.server.start()
    yield found
    await found.server.close()


@pytest.fixture
async def sim(ivr: Ivr) -> AsyncIterator[Simulator]:
    simulator = Simulator(SimConfig(
        dialplan_path=EXTENSIONS, ami_port=0, time_scale=TIME_SCALE,
        globals_override={"CC_FASTAGI": f"agi://127.0.0.1:{ivr.server.port}"}))
    await simulator.start()
    yield simulator
    await simulator.stop()


def caller(sim: Simulator, ivr: Ivr, keys: dict[str, str], hang_up_at: str = "") -> Channel:
    """A call to the main menu's number that presses ``keys[node]`` when ``node`` asks."""
    chan = inbound_call(sim.pbx, "+4930901820", context="cc-inbound", trunk="trunk",
                        caller_num="+4915112345678")

    def press(event: IvrEvent) -> None:
        if event.kind != "node":
            return
        if event.node == hang_up_at:
            sim.pbx.queue_hangup(chan, 16)
        # Distinct durations keep the digits in order; they queue up on the channel.
        for i, digit in enumerate(keys.get(event.node, "")):
            sim.pbx.dtmf(chan, digit, ms=100 + i)

    ivr.on_event = press
    return chan


async def test_caller_keys_through_fastagi_to_a_queue(sim: Simulator, ivr: Ivr) -> None:
    chan = caller(sim, ivr, {"language": "2", "account": GOLD[:5] + "#", "main_options": "1"})
    await asyncio.wait_for(ivr.done.wait(), 10)
    (outcome,) = ivr.outcomes
    assert outcome.kind is OutcomeKind.QUEUE, outcome
    assert (outcome.queue, outcome.language) == ("billing_es", "es")
    assert outcome.path == ("welcome", "language", "lang_es", "opening_hours", "account",
                            "find_by_caller", "main_options", "billing_route",
                            "billing_es_queue")
    inputs = [(e.node, e.detail.get("digits")) for e in ivr.events if e.kind == "input"]
    assert inputs[0] == ("language", "2")
    assert inputs[-1] == ("main_options", "1")
    invalid = [e.detail["why"] for e in ivr.events if e.kind == "invalid"]
    assert invalid == ["5 digits (expected 8-8)"]  # then two silent tries: caller id instead
    assert [e.node for e in ivr.events if e.kind == "timeout"] == ["account", "account"]
    assert sim.pbx.get_var(chan, "CHANNEL(language)") == "es"
    # The dialplan parks the tagged call.
    assert sim.pbx.get_var(chan, "CC_QUEUE") == "billing_es"
    for _ in range(100):
        if chan.context == "cc-hold":
            break
        await asyncio.sleep(0.02)
    assert chan.context == "cc-hold"


async def test_silence_and_hang_up_over_fastagi(sim: Simulator, ivr: Ivr) -> None:
    chan = caller(sim, ivr, {}, hang_up_at="account")
    await asyncio.wait_for(ivr.done.wait(), 10)
    (outcome,) = ivr.outcomes
    assert outcome.kind is OutcomeKind.CALLER_HUNG_UP
    assert outcome.node == "account"
    timeouts = [e.node for e in ivr.events if e.kind == "timeout"]
    assert timeouts == ["language", "language"]  # two silent tries, then the default
    assert outcome.language == "en"
    assert sim.pbx.get_var(chan, "CC_QUEUE") is None


async def test_post_call_survey_through_the_shipped_survey_context(sim: Simulator,
                                                                   ivr: Ivr) -> None:
    # What [cc-connect] does once the agent hangs up on a call with CC_SURVEY=1.
    chan = sim.pbx.new_channel("PJSIP", "trunk", state=State.UP, context="cc-survey",
                               exten="s", caller=("+4915112345678", "Customer"))
    sim.pbx.set_var(chan, "CC_INTERACTION_ID", "i-42")
    chan.language = "de"  # as Set(CHANNEL(language)=de) in the first IVR left it

    def press(event: IvrEvent) -> None:
        if event.kind == "node" and event.node == "ask":
            sim.pbx.dtmf(chan, "4")

    ivr.on_event = press
    sim.pbx.start(chan)
    await asyncio.wait_for(ivr.done.wait(), 10)
    (outcome,) = ivr.outcomes
    assert (outcome.kind, outcome.csat_score) == (OutcomeKind.HANGUP, 4)
    assert outcome.attributes["interaction_id"] == "i-42"
    assert outcome.path == ("ask", "thanks")
    # The channel's language (chosen in the first IVR) carries over to the survey.
    assert outcome.language == "de"
    prompts = [e.detail["text"] for e in ivr.events if e.kind == "prompt"]
    assert prompts[-1] == "Vielen Dank für Ihre Bewertung. Auf Wiederhören."
