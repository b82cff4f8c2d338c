"""Interpreter behaviour beyond the shipped scripts: exits, failures, loops, the event sink."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pytest

from cc_core.ivr import (
    IvrContext,
    IvrEvent,
    OutcomeKind,
    PromptCatalog,
    ScriptedSession,
    parse_keys,
    run_script,
)
from cc_core.ivr.model import Script
from cc_core.ivr.prompts import PromptSet
from pbx.port import CollectResult, CollectSpec, PbxError

PROMPTS = PromptCatalog({"en": PromptSet.model_validate({
    "language": "en", "voice": "en-us",
    "prompts": {"hi": "Hi.", "menu": "Press 1.", "tone": {"audio": "beep"},
                "code": "Your code is {code}."}})})
NOON = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def script(nodes: dict[str, Any], start: str = "a", **extra: Any) -> Script:
    return Script.model_validate({"name": "t", "languages": ["en"], "language": "en",
                                  "start": start, "nodes": nodes, **extra})


async def run(s: Script, keys: str = "", *, sink: Any = None,
              session: Any = None, attributes: dict[str, str] | None = None) -> Any:
    session = session or ScriptedSession(parse_keys(keys), caller_num="+4930111")
    events: list[IvrEvent] = []
    outcome = await run_script(s, session, IvrContext(
        prompts=PROMPTS, sink=sink or events.append, clock=lambda: NOON,
        attributes=attributes or {}))
    return outcome, session, events


async def test_transfer_and_voicemail_render_their_targets() -> None:
    s = script({"a": {"type": "transfer", "extension": "7{ext}", "context": "cc-internal"}})
    outcome, session, _ = await run(s, attributes={"ext": "01"})
    assert (outcome.kind, outcome.extension, outcome.context) == (
        OutcomeKind.TRANSFER, "701", "cc-internal")
    s = script({"a": {"type": "voicemail", "mailbox": "{team}@cc", "prompts": ["tone"]}})
    outcome, session, _ = await run(s, attributes={"team": "billing"})
    assert (outcome.kind, outcome.mailbox) == (OutcomeKind.VOICEMAIL, "billing@cc")
    assert session.played == ["beep"]


async def test_callback_number_must_look_like_a_number() -> None:
    s = script({"a": {"type": "callback", "queue": "q", "number": "{given}"}})
    outcome, _, events = await run(s, attributes={"given": "call me"})
    assert outcome.callback_number == "+4930111"
    assert [e.detail["why"] for e in events if e.kind == "invalid"] == [
        "not a phone number; using caller"]
    outcome, _, _ = await run(s, attributes={"given": "+34911000111"})
    assert outcome.callback_number == "+34911000111"


async def test_queue_carries_skills_priority_and_chosen_attributes() -> None:
    s = script({
        "a": {"type": "set", "values": {"prio": "{level}5", "vip": True, "n": 3}, "next": "q"},
        "q": {"type": "queue", "queue": "sales", "skills": {"sales": 3}, "priority": "{prio}",
              "attributes": ["vip", "n"]}})
    outcome, _, _ = await run(s, attributes={"level": "7"})
    assert (outcome.queue, outcome.priority, dict(outcome.skills)) == ("sales", 75,
                                                                     {"sales": 3})
    assert dict(outcome.attributes) == {"vip": "true", "n": "3"}


async def test_skill_levels_from_attributes() -> None:
    s = script({"q": {"type": "queue", "queue": "support",
                      "skills": {"billing": "{need}", "vip": "{tier}", "tech": 2}}}, start="q")
    outcome, _, events = await run(s, attributes={"need": "9", "tier": "gold"})
    assert dict(outcome.skills) == {"billing": 5, "tech": 2}  # 9 capped at 5; "gold" dropped
    assert [(e.detail["skill"], e.detail["why"]) for e in events if e.kind == "invalid"] == [
        ("vip", "not a number; skill dropped")]


async def test_a_runaway_script_stops_at_its_step_limit() -> None:
    s = script({"a": {"type": "menu", "prompts": ["menu"], "options": {"1": "a", "2": "b"},
                      "fallback": "b"},
                "b": {"type": "hangup"}}, max_steps=10)
    outcome, _, _ = await run(s, ",".join("1" * 50))
    assert outcome.kind is OutcomeKind.FAILED
    assert "more than 10 steps" in outcome.reason
    assert len(outcome.path) == 10


class RefusingSession(ScriptedSession):
    async def play(self, prompts: Sequence[str], *, interrupt_digits: str = "") -> str:
        raise PbxError("AGI STREAM FILE 'ccplane/en/hi': the prompt could not be played")

    async def play_and_collect(self, prompts: Sequence[str], spec: CollectSpec) -> CollectResult:
        raise AssertionError("not reached")


async def test_a_pbx_refusal_is_a_failed_outcome_not_an_exception() -> None:
    s = script({"a": {"type": "play", "prompts": ["hi"], "next": "b"},
                "b": {"type": "hangup"}})
    outcome, _, events = await run(s, session=RefusingSession([]))
    assert outcome.kind is OutcomeKind.FAILED
    assert "could not be played" in outcome.reason
    assert events[-1].detail["outcome"] == "failed"


class CutOffSession(ScriptedSession):
    """Asterisk answers a playback cut short by a hang-up with -1 and says HANGUP after."""

    async def play(self, prompts: Sequence[str], *, interrupt_digits: str = "") -> str:
        self.caller_left = True
        raise PbxError("AGI STREAM FILE 'ccplane/en/hi': the prompt could not be played")


async def test_a_refusal_because_the_caller_left_is_a_hang_up() -> None:
    s = script({"a": {"type": "play", "prompts": ["hi"], "next": "b"},
                "b": {"type": "hangup"}})
    outcome, _, _ = await run(s, session=CutOffSession([]))
    assert (outcome.kind, outcome.reason) == (OutcomeKind.CALLER_HUNG_UP, "caller hung up")


class NoLanguageSession(ScriptedSession):
    async def get_variable(self, name: str) -> str | None:
        raise PbxError(f"AGI GET VARIABLE {name}: refused")


async def test_a_pbx_that_cannot_tell_the_channel_language_is_no_problem() -> None:
    s = script({"a": {"type": "play", "prompts": ["hi"], "next": "b"},
                "b": {"type": "hangup"}})
    outcome, session, _ = await run(s, session=NoLanguageSession([]))
    assert (outcome.kind, outcome.language) == (OutcomeKind.HANGUP, "en")
    assert session.played == ["ccplane/en/hi"]


async def test_a_failing_event_sink_does_not_stop_the_caller(
        caplog: pytest.LogCaptureFixture) -> None:
    def sink(event: IvrEvent) -> None:
        raise RuntimeError("event log is down")

    s = script({"a": {"type": "play", "prompts": ["hi"], "next": "b"},
                "b": {"type": "hangup"}})
    outcome, session, _ = await run(s, sink=sink)
    assert outcome.kind is OutcomeKind.HANGUP
    assert session.played == ["ccplane/en/hi"]
    assert "IVR event sink failed" in caplog.text


async def test_placeholder_prompt_spells_values() -> None:
    s = script({"a": {"type": "play", "prompts": ["code"], "next": "b"},
                "b": {"type": "hangup"}})
    _, session, events = await run(s, attributes={"code": "a7-x"})
    assert session.played == ["ccplane/en/code/1", "letters/a", "digits/7", "letters/x",
                              "ccplane/en/code/2"]
    assert [e.detail["text"] for e in events if e.kind == "prompt"] == ["Your code is a7-x."]


async def test_branch_on_caller_and_time() -> None:
    s = script({
        "a": {"type": "branch", "cases": [
            {"when": {"attr": "caller", "matches": r"\+4930.*"}, "next": "berlin"},
            {"when": {"time": "09:00-17:00", "days": ["mon"]}, "next": "daytime"}],
            "default": "other"},
        "berlin": {"type": "hangup"}, "daytime": {"type": "hangup"},
        "other": {"type": "hangup"}}, timezone="Europe/Berlin")
    outcome, _, _ = await run(s)
    assert outcome.path[-1] == "berlin"
    outcome, _, _ = await run(s, session=ScriptedSession([], caller_num="+3491"))
    assert outcome.path[-1] == "daytime"  # 13:00 in Berlin on a Monday


async def test_keys_pressed_during_a_plain_play_are_kept_for_the_menu() -> None:
    s = script({"a": {"type": "play", "prompts": ["hi"], "next": "m"},
                "m": {"type": "menu", "prompts": ["menu"], "options": {"1": "b"},
                      "fallback": "b"},
                "b": {"type": "hangup"}})
    _, session, events = await run(s, "1")
    assert [e.detail["digits"] for e in events if e.kind == "input"] == ["1"]
    assert session.played == ["ccplane/en/hi", "ccplane/en/menu"]
