"""Running a script for one caller over the PBX port's :class:`~pbx.port.MediaSession`.

``await run_script(script, session, context)`` always returns an :class:`IvrOutcome`: a caller
hanging up, a PBX refusing a command, a customer system failing or a script running in circles
all end as an outcome, never as an exception escaping to the FastAGI server.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import urllib.parse
import zoneinfo
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cc_core.ivr.checks import CHECKS
from cc_core.ivr.conditions import holds
from cc_core.ivr.hours import Opening, opening
from cc_core.ivr.lookup import LookupClient, LookupFailed, OfflineLookup, pick
from cc_core.ivr.model import (
    BranchNode,
    CallbackNode,
    CollectNode,
    GotoNode,
    HangupNode,
    HoursNode,
    LookupNode,
    MenuNode,
    PlayNode,
    QueueNode,
    Script,
    SetNode,
    TransferNode,
    VoicemailNode,
)
from cc_core.ivr.outcome import IvrEvent, IvrOutcome, OutcomeKind
from cc_core.ivr.prompts import PromptCatalog
from cc_core.ivr.templates import render
from pbx.port import CallerHungUp, CollectSpec, MediaSession, PbxError

log = logging.getLogger(__name__)

EventSink = Callable[[IvrEvent], None]
Clock = Callable[[], dt.datetime]
LANGUAGE = "language"
BUILTINS = ("caller", "called", "call_id")
_NUMBER = re.compile(r"\+?[0-9]{3,15}")
PROBE_TIMEOUT = 2.0


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class IvrContext:
    """What a run needs besides the script and the caller.

    ``sink`` receives every step (exceptions it raises are logged, never passed on);
    ``attributes`` are known before the script starts (e.g. the interaction id).
    """

    prompts: PromptCatalog
    sink: EventSink | None = None
    lookup: LookupClient = field(default_factory=OfflineLookup)
    clock: Clock = utc_now
    attributes: Mapping[str, str] = field(default_factory=dict)


def rejection(node: CollectNode, digits: str, enough: bool) -> str | None:
    """Why a ``collect`` node refuses ``digits`` (None: accepted); ``enough``: the collection
    ended with at least ``min_digits``."""
    if not enough:
        return f"{len(digits)} digits (expected {node.min_digits}-{node.max_digits})"
    rule = node.validate_
    if rule is not None and rule.regex is not None and not re.fullmatch(rule.regex, digits):
        return f"does not match {rule.regex}"
    if rule is not None and rule.check is not None and not CHECKS[rule.check](digits):
        return f"fails the {rule.check} check"
    return None


class _End(Exception):
    """A node ended the run."""

    def __init__(self, outcome: IvrOutcome) -> None:
        self.outcome = outcome


async def run_script(script: Script, session: MediaSession, context: IvrContext) -> IvrOutcome:
    """Walk ``script`` for the caller on ``session`` until an exit node, a hang-up or a failure."""
    return await _Run(script, session, context).run()


class _Run:
    def __init__(self, script: Script, session: MediaSession, context: IvrContext) -> None:
        self.script = script
        self.session = session
        self.ctx = context
        self.seq = 0
        self.path: list[str] = []
        self.node_id = script.start
        self.attrs: dict[str, str] = dict(context.attributes)
        self.attrs.update(caller=session.caller_num, called=session.called_num,
                          call_id=session.call_id)
        self.attrs.setdefault(LANGUAGE, script.language)

    # -- reporting ---------------------------------------------------------------------------

    def emit(self, kind: str, **detail: object) -> None:
        self.seq += 1
        if self.ctx.sink is None:
            return
        event = IvrEvent(self.session.call_id, self.script.name, self.seq, self.node_id, kind,
                         {k: _text(v) for k, v in detail.items()})
        try:
            self.ctx.sink(event)
        except Exception:  # the event log must never take the caller down with it
            log.exception("IVR event sink failed on %s", kind)

    @property
    def language(self) -> str:
        chosen = self.attrs.get(LANGUAGE, "")
        return chosen if chosen in self.script.languages else self.script.language

    def outcome(self, kind: OutcomeKind, **fields: Any) -> IvrOutcome:
        values: dict[str, Any] = {
            "kind": kind, "script": self.script.name, "node": self.node_id,
            "attributes": dict(self.attrs), "language": self.language,
            "csat_score": self._score(), "path": tuple(self.path)}
        values.update(fields)
        return IvrOutcome(**values)

    def _score(self) -> int | None:
        survey = self.script.survey
        raw = self.attrs.get(survey.score) if survey else None
        if survey is None or raw is None or not raw.isdigit():
            return None
        score = int(raw)
        return score if survey.min <= score <= survey.max else None

    # -- the loop ----------------------------------------------------------------------------

    async def run(self) -> IvrOutcome:
        self.emit("start", caller=self.attrs["caller"], called=self.attrs["called"],
                  language=self.language)
        try:
            await self.session.answer()
            await self.channel_language()
            for _ in range(self.script.max_steps):
                node = self.script.nodes[self.node_id]
                self.path.append(self.node_id)
                self.emit("node", type=node.type)
                self.node_id = await self.step(node)
            result = self.outcome(OutcomeKind.FAILED, reason=f"more than {self.script.max_steps}"
                                  " steps without reaching an exit (the script loops)")
        except _End as end:
            result = end.outcome
        except CallerHungUp:
            result = self.outcome(OutcomeKind.CALLER_HUNG_UP, reason="caller hung up")
        except PbxError as exc:
            if await self.caller_gone():
                result = self.outcome(OutcomeKind.CALLER_HUNG_UP, reason="caller hung up")
            else:
                result = self.outcome(OutcomeKind.FAILED, reason=f"PBX: {exc}")
        except Exception as exc:  # a bug must not drop the caller: the ACD routes by fallback
            log.exception("IVR script %s failed at node %s", self.script.name, self.node_id)
            result = self.outcome(OutcomeKind.FAILED, reason=f"{type(exc).__name__}: {exc}")
        self.emit("outcome", outcome=result.kind.value, reason=result.reason,
                  **({"queue": result.queue} if result.queue else {}),
                  **({"csat": result.csat_score} if result.csat_score is not None else {}))
        return result

    async def channel_language(self) -> None:
        """Without a language from the ACD, keep the one the channel already has: a survey after
        the call speaks the language the caller chose in the first IVR."""
        if LANGUAGE in self.ctx.attributes:
            return
        try:
            current = await self.session.get_variable("CHANNEL(language)")
        except CallerHungUp:
            raise
        except PbxError:
            return  # a PBX without this variable: the script's default language it is
        if current in self.script.languages and current != self.attrs[LANGUAGE]:
            self.attrs[LANGUAGE] = current
            self.emit("language", language=current, source="channel")

    async def caller_gone(self) -> bool:
        """After a refused command: was it refused because the caller had just hung up?

        Asterisk answers a playback cut short by a hang-up with -1 and only then says HANGUP,
        so the next command is what tells the two apart.
        """
        try:
            async with asyncio.timeout(PROBE_TIMEOUT):
                await self.session.get_variable("CHANNEL(state)")
        except CallerHungUp:
            return True
        except (PbxError, TimeoutError):
            return False
        return False

    async def step(self, node: object) -> str:
        match node:
            case PlayNode():
                await self.play(node.prompts)
                return node.next
            case MenuNode():
                return await self.menu(node)
            case CollectNode():
                return await self.collect(node)
            case SetNode():
                await self.set_values(node)
                return node.next
            case BranchNode():
                return self.branch(node)
            case HoursNode():
                return self.hours(node)
            case LookupNode():
                return await self.lookup(node)
            case GotoNode():
                return node.next
            case _:
                await self.finish(node)
        raise AssertionError("unreachable")

    # -- media -------------------------------------------------------------------------------

    def sounds(self, prompt_ids: Sequence[str]) -> list[str]:
        sounds: list[str] = []
        for prompt_id in prompt_ids:
            self.emit("prompt", prompt=prompt_id,
                      text=self.ctx.prompts.text(prompt_id, self.language, self.attrs))
            sounds += self.ctx.prompts.sounds(prompt_id, self.language, self.attrs)
        return sounds

    async def play(self, prompt_ids: Sequence[str]) -> None:
        if prompt_ids:
            await self.session.play(self.sounds(prompt_ids))

    async def menu(self, node: MenuNode) -> str:
        spec = CollectSpec(min_digits=1, max_digits=1, timeout=node.timeout, terminator="")
        prompts = list(node.prompts)
        for attempt in range(node.retries + 1):
            result = await self.session.play_and_collect(self.sounds(prompts), spec)
            digit = result.digits
            if digit in node.options:
                self.emit("input", digits=digit, attempt=attempt + 1)
                return node.options[digit]
            if digit:
                self.emit("invalid", digits=digit, attempt=attempt + 1)
                prompts = [*node.invalid, *node.prompts]
            else:
                self.emit("timeout", attempt=attempt + 1)
                prompts = [*node.no_input, *node.prompts]
        self.emit("fallback", target=node.fallback)
        return node.fallback

    async def collect(self, node: CollectNode) -> str:
        spec = CollectSpec(min_digits=node.min_digits, max_digits=node.max_digits,
                           timeout=node.timeout, terminator=node.terminator)
        prompts = list(node.prompts)
        for attempt in range(node.retries + 1):
            result = await self.session.play_and_collect(self.sounds(prompts), spec)
            if not result.digits:
                self.emit("timeout", attempt=attempt + 1)
                prompts = [*node.no_input, *node.prompts]
                continue
            problem = self.rejects(node, result.digits, result.satisfies(spec))
            if problem is None:
                self.attrs[node.into] = result.digits
                self.emit("input", attribute=node.into, digits=result.digits,
                          attempt=attempt + 1)
                return node.next
            self.emit("invalid", digits=result.digits, why=problem, attempt=attempt + 1)
            prompts = [*node.invalid, *node.prompts]
        self.emit("fallback", target=node.fallback)
        return node.fallback

    @staticmethod
    def rejects(node: CollectNode, digits: str, enough: bool) -> str | None:
        return rejection(node, digits, enough)

    # -- logic -------------------------------------------------------------------------------

    async def set_values(self, node: SetNode) -> None:
        for name, value in node.values.items():
            if isinstance(value, bool):
                text = "true" if value else "false"
            elif isinstance(value, int):
                text = str(value)
            else:
                text = render(value, self.attrs)
            before = self.language
            self.attrs[name] = text
            self.emit("set", attribute=name, value=text)
            if name == LANGUAGE and self.language != before:
                await self.switch_language()

    async def switch_language(self) -> None:
        # The PBX's own sounds (digits/, letters/) follow the channel's language.
        self.emit("language", language=self.language)
        await self.session.set_variable("CHANNEL(language)", self.language)

    def local_now(self) -> dt.datetime:
        return self.ctx.clock().astimezone(zoneinfo.ZoneInfo(self.script.timezone))

    def branch(self, node: BranchNode) -> str:
        now = self.local_now()
        for index, case in enumerate(node.cases):
            if holds(case.when, self.attrs, now):
                self.emit("branch", case=index + 1, target=case.next)
                return case.next
        self.emit("branch", case="default", target=node.default)
        return node.default

    def hours(self, node: HoursNode) -> str:
        state, why = opening(self.script.calendars[node.calendar], self.ctx.clock())
        target = {Opening.OPEN: node.open, Opening.CLOSED: node.closed,
                  Opening.HOLIDAY: node.holiday or node.closed}[state]
        self.emit("hours", state=state.value, why=why, target=target)
        return target

    async def lookup(self, node: LookupNode) -> str:
        url = render(node.url, self.attrs, quote=lambda v: urllib.parse.quote(v, safe=""))
        body = ({k: render(v, self.attrs) for k, v in node.body.items()}
                if node.body is not None else None)
        try:
            answer = await self.ctx.lookup.fetch(node.method, url, body, node.timeout)
        except LookupFailed as exc:
            self.emit("lookup", ok=False, why=str(exc), target=node.fallback)
            return node.fallback
        if not isinstance(answer, dict):
            self.emit("lookup", ok=False, why="answer is not a JSON object",
                      target=node.fallback)
            return node.fallback
        found = {name: pick(answer, path) for name, path in node.results.items()}
        for name, value in found.items():
            if value is not None:
                self.attrs[name] = value
        self.emit("lookup", ok=True, found=",".join(n for n, v in found.items() if v is not None)
                  or "-", target=node.next)
        return node.next

    # -- exits -------------------------------------------------------------------------------

    async def finish(self, node: object) -> None:
        assert isinstance(node, QueueNode | TransferNode | CallbackNode | VoicemailNode
                          | HangupNode)
        await self.play(node.prompts)
        match node:
            case QueueNode():
                attrs = self.attrs
                if node.attributes is not None:
                    attrs = {k: v for k, v in attrs.items() if k in node.attributes}
                outcome = self.outcome(OutcomeKind.QUEUE, queue=node.queue,
                                       skills=self.skills(node), priority=self.priority(node),
                                       attributes=attrs)
            case TransferNode():
                outcome = self.outcome(OutcomeKind.TRANSFER,
                                       extension=render(node.extension, self.attrs),
                                       context=node.context)
            case CallbackNode():
                number = render(node.number, self.attrs)
                if not _NUMBER.fullmatch(number):
                    self.emit("invalid", number=number, why="not a phone number; using caller")
                    number = self.attrs["caller"]
                outcome = self.outcome(OutcomeKind.CALLBACK, queue=node.queue,
                                       callback_number=number)
            case VoicemailNode():
                outcome = self.outcome(OutcomeKind.VOICEMAIL,
                                       mailbox=render(node.mailbox, self.attrs))
            case HangupNode():
                outcome = self.outcome(OutcomeKind.HANGUP)
                await self.session.hangup()
        raise _End(outcome)

    def skills(self, node: QueueNode) -> dict[str, int]:
        levels: dict[str, int] = {}
        for skill, level in node.skills.items():
            raw = level if isinstance(level, int) else render(level, self.attrs)
            try:
                levels[skill] = max(1, min(5, int(raw)))
            except ValueError:
                # No level known: the skill is left out rather than guessed.
                self.emit("invalid", skill=skill, level=raw, why="not a number; skill dropped")
        return levels

    def priority(self, node: QueueNode) -> int:
        if isinstance(node.priority, int):
            return node.priority
        raw = render(node.priority, self.attrs)
        try:
            return max(0, min(100, int(raw)))
        except ValueError:
            self.emit("invalid", priority=raw, why="not a number; using 0")
            return 0
