"""Caller behaviours that cover every edge of a script, for tests and ``cc-admin ivr paths``.

A path is what one caller does and meets: the time of the call and the caller's number, what
they key in at each question (a menu key, digits with the terminator, silence, or hanging up),
where they hang up, and what the customer system answers each lookup. The generator finds a
set of paths that together take every edge of the script: every menu option, every wrong key
and every silence through the retries to the fallback, valid / too short / rejected / silent
input at every ``collect``, every ``branch`` case and ``hours`` state (through the caller's
number, the clock and the lookup answers), lookups that answer and that fail, and a hang-up at
every node that plays something.

It walks the real interpreter (:func:`~cc_core.ivr.interpreter.run_script`) offline: each
question, prompt and lookup is a choice point, and a run is replayed with a forced choice for
each behaviour not yet covered (the rest of the run takes the shortest way to an exit). Each
path found is then walked again with the plain scripted caller of ``cc-admin ivr try``
(:class:`~cc_core.ivr.scripted.ScriptedSession` and the path's key list); both walks must agree,
and that walk's outcome and steps are what a run over a PBX must reproduce. Pure: no I/O.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import urllib.parse
import zoneinfo
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cc_core.ivr.conditions import holds
from cc_core.ivr.fields import parse_clock
from cc_core.ivr.hours import opening
from cc_core.ivr.interpreter import IvrContext, rejection, run_script
from cc_core.ivr.lookup import LookupFailed
from cc_core.ivr.model import (
    EXIT_NODES,
    BranchNode,
    CollectNode,
    Condition,
    HoursNode,
    LookupNode,
    MenuNode,
    Script,
    successors,
)
from cc_core.ivr.outcome import IvrEvent, IvrOutcome
from cc_core.ivr.prompts import PromptCatalog
from cc_core.ivr.scripted import HANG_UP, LISTEN, TIMEOUT, ScriptedSession
from pbx.port import CallerHungUp, CollectEnd, CollectResult, CollectSpec

# Calls are placed in a fixed week (Monday 23 November 2026 onwards) so paths do not change
# with the day they are generated; holidays are tried on their own dates.
BASE_DATE = dt.date(2026, 11, 23)
CALLED = "+4930901820"
DEFAULT_CALLER = "+4915112345678"
WRONG_KEYS = "0123456789*#ABCD"  # the first one a menu does not offer is its wrong key
MAX_RUNS = 5000
MAX_RETRIES = 20  # walks through a node tried for each edge the first round missed


@dataclass(frozen=True)
class Setting:
    """When the call comes and from which number."""

    at: dt.datetime
    caller: str
    label: str


@dataclass(frozen=True)
class Action:
    """What the caller does when ``cue`` starts playing for the ``occurrence``-th time in the
    call: key ``keys`` (terminator included; ``""`` is silence until the timeout) and/or hang
    up. A PBX-side caller reacts to what it hears, so a busy machine does not shift the keys."""

    node: str
    cue: str
    occurrence: int
    keys: str
    hang_up: bool = False

    @property
    def text(self) -> str:
        if self.hang_up:
            return f"{self.node}: hang up"
        return f"{self.node}: {self.keys or 'silence'}"


@dataclass(frozen=True)
class LookupAnswer:
    """What the customer system answers to ``url`` (None: it fails, e.g. HTTP 404)."""

    node: str
    method: str
    url: str
    answer: Mapping[str, Any] | None


@dataclass(frozen=True)
class CallerPath:
    script: str
    index: int
    covers: tuple[str, ...]  # the behaviours this path was made for
    setting: Setting
    keys: tuple[str, ...]  # for ScriptedSession / cc-admin ivr try --digits
    actions: tuple[Action, ...]
    lookups: tuple[LookupAnswer, ...]
    outcome: IvrOutcome  # what the offline walk ended with
    steps: tuple[tuple[str, str], ...]  # (event kind, node) of the offline walk, in order

    @property
    def name(self) -> str:
        return f"{self.script}#{self.index:03d}"


@dataclass(frozen=True)
class PathSet:
    script: str
    paths: tuple[CallerPath, ...]
    edges: frozenset[tuple[str, str]]  # every (node, location) edge the paths take
    uncovered: tuple[str, ...]  # edges of reachable nodes no path takes, as text


class PathError(Exception):
    """The generator and the scripted walk disagree, or the script cannot be walked."""


# -- choices ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Choice:
    label: tuple[Any, ...]  # what it covers, e.g. ("main_options", "key", "4")
    keys: tuple[str, ...] = ()  # ScriptedSession keys; HANG_UP for a hang-up
    answer: Mapping[str, Any] | None = None  # lookups
    setting: Setting | None = None


@dataclass
class _Point:
    choices: list[_Choice]
    chosen: int


class _Chooser:
    """Replays a prefix of choice indices, then takes each point's default."""

    def __init__(self, prefix: Sequence[int]) -> None:
        self.prefix = list(prefix)
        self.points: list[_Point] = []

    def choose(self, choices: list[_Choice], default: int = 0) -> _Choice:
        at = len(self.points)
        # A replayed index that no longer fits (an earlier change altered the walk): default.
        index = (
            self.prefix[at] if at < len(self.prefix) and self.prefix[at] < len(choices) else default
        )
        self.points.append(_Point(choices, index))
        return choices[index]


class _ExploringSession:
    """A caller whose every move is a choice point; it also records the cues the PBX would
    play, as a PBX-side caller would hear them."""

    def __init__(self, walker: _Walker, chooser: _Chooser, setting: Setting) -> None:
        self.w = walker
        self.chooser = chooser
        self.caller_num = setting.caller
        self.called_num = CALLED
        self.call_id = "paths-1"
        self.node_id = ""
        self.attempt = 0
        self.keys: list[str] = []
        self.actions: list[Action] = []
        self.heard: dict[str, int] = {}
        self.covered: list[str] = []
        self.gone = False

    def on_node(self, node_id: str) -> None:
        self.node_id = node_id
        self.attempt = 0

    def _hear(self, sounds: Sequence[str]) -> tuple[str, int]:
        for sound in sounds:
            self.heard[sound] = self.heard.get(sound, 0) + 1
        return sounds[0], self.heard[sounds[0]]

    def _check(self) -> None:
        if self.gone:
            raise CallerHungUp(self.call_id)

    async def answer(self) -> None:
        self._check()

    async def play(self, prompts: Sequence[str], *, interrupt_digits: str = "") -> str:
        self._check()
        if not prompts:
            return ""
        node = self.node_id
        choice = self.chooser.choose(
            [_Choice((node, "listen")), _Choice((node, "hang up"), (HANG_UP,))]
        )
        if choice.keys:
            cue, nth = self._hear(prompts[:1])
            self.actions.append(Action(node, cue, nth, "", hang_up=True))
            self.keys.append(HANG_UP)
            self.gone = True
            raise CallerHungUp(self.call_id)
        self._hear(prompts)
        self.keys.append(LISTEN)
        return ""

    async def play_and_collect(self, prompts: Sequence[str], spec: CollectSpec) -> CollectResult:
        self._check()
        self.attempt += 1
        node = self.w.script.nodes[self.node_id]
        choices, default = self.w.input_choices(self.node_id, node, self.attempt)
        choice = self.chooser.choose(choices, default)
        keys = list(choice.keys)
        hang_up = keys == [HANG_UP]
        silent = keys[-1:] == [TIMEOUT] and len(keys) == 1
        # Keys interrupt the prompts at once; silence lets them all play.
        cue, nth = (
            self._hear(prompts if silent or not prompts else prompts[:1]) if prompts else ("", 0)
        )
        typed = "" if hang_up else "".join(k for k in keys if k != TIMEOUT)
        self.actions.append(Action(self.node_id, cue, nth, typed, hang_up=hang_up))
        self.keys += keys
        if hang_up:
            self.gone = True
            raise CallerHungUp(self.call_id)
        digits = ""
        for key in keys:
            if key == TIMEOUT:
                return CollectResult(digits, CollectEnd.TIMEOUT)
            if spec.terminator and key == spec.terminator:
                return CollectResult(digits, CollectEnd.TERMINATOR)
            digits += key
            if len(digits) >= spec.max_digits:
                return CollectResult(digits, CollectEnd.MAX_DIGITS)
        return CollectResult(digits, CollectEnd.TIMEOUT)

    async def get_variable(self, name: str) -> str | None:
        self._check()
        return None

    async def set_variable(self, name: str, value: str) -> None:
        self._check()

    async def hangup(self) -> None:
        self._check()


class _ExploringLookup:
    def __init__(self, walker: _Walker, chooser: _Chooser, session: _ExploringSession) -> None:
        self.w = walker
        self.chooser = chooser
        self.session = session
        self.answers: list[LookupAnswer] = []

    async def fetch(
        self, method: str, url: str, body: Mapping[str, str] | None, deadline_s: float
    ) -> Any:
        node_id = self.session.node_id
        node = self.w.script.nodes[node_id]
        assert isinstance(node, LookupNode)
        choices = [_Choice((node_id, "fails"))] + [
            _Choice((node_id, "answers", i + 1), answer=answer)
            for i, answer in enumerate(self.w.answers(node))
        ]
        fallback_first = self.w.distance(node.fallback) <= self.w.distance(node.next)
        choice = self.chooser.choose(choices, 0 if fallback_first else 1)
        self.answers.append(LookupAnswer(node_id, method, url, choice.answer))
        if choice.answer is None:
            raise LookupFailed("the customer system fails (HTTP 404)")
        return dict(choice.answer)


# -- the walker -----------------------------------------------------------------------------


class _Walker:
    def __init__(self, script: Script, prompts: PromptCatalog) -> None:
        self.script = script
        self.prompts = prompts
        self._distance = _distances(script)
        self._answers: dict[str, list[dict[str, Any]]] = {}
        self.settings = settings_for(script)
        self.serial = itertools.count(1)
        self.callers = itertools.count(1)

    def distance(self, node_id: str) -> float:
        return self._distance.get(node_id, float("inf"))

    def input_choices(self, node_id: str, node: Any, attempt: int) -> tuple[list[_Choice], int]:
        choices: list[_Choice] = []
        if isinstance(node, MenuNode):
            options = sorted(node.options, key=lambda d: (self.distance(node.options[d]), d))
            choices += [_Choice((node_id, "key", d), (d,)) for d in sorted(node.options)]
            default = sorted(node.options).index(options[0])
            wrong = next((d for d in WRONG_KEYS if d not in node.options), None)
            if wrong is not None:
                choices.append(_Choice((node_id, "wrong key", attempt), (wrong,)))
        else:
            assert isinstance(node, CollectNode)
            choices.append(_Choice((node_id, "valid"), self.valid_keys(node)))
            default = 0
            short = _short_keys(node)
            if short is not None and attempt == 1:
                choices.append(_Choice((node_id, "too short"), short))
            rejected = _rejected_keys(node)
            if rejected is not None:
                choices.append(_Choice((node_id, "rejected", attempt), rejected))
        choices.append(_Choice((node_id, "silence", attempt), (TIMEOUT,)))
        choices.append(_Choice((node_id, "hang up"), (HANG_UP,)))
        return choices, default

    def valid_keys(self, node: CollectNode) -> tuple[str, ...]:
        """Digits the node accepts, different on every call (lookups key on them)."""
        serial = next(self.serial)
        digits = _valid_digits(node, serial)
        if digits is None:
            raise PathError(
                f"{self.script.name}: nodes.{_id_of(self.script, node)}: found no "
                "input the validation accepts"
            )
        return _with_end(node, digits)

    def answers(self, node: LookupNode) -> list[dict[str, Any]]:
        """Answers that make later branches go each way: one per condition on an attribute
        the lookup fills, and an empty one (nothing found)."""
        key = _id_of(self.script, node)
        if key not in self._answers:
            found: list[dict[str, Any]] = [{}]
            for branch in self.script.nodes.values():
                if not isinstance(branch, BranchNode):
                    continue
                for case in branch.cases:
                    values = _satisfying(case.when)
                    if values and set(values) <= set(node.results):
                        answer: dict[str, Any] = {}
                        for attr, value in values.items():
                            _put(answer, node.results[attr], value)
                        if answer not in found:
                            found.append(answer)
            self._answers[key] = found
        return self._answers[key]


def _id_of(script: Script, node: object) -> str:
    return next(k for k, v in script.nodes.items() if v is node)


def _distances(script: Script) -> dict[str, float]:
    """Steps from each node to the nearest exit node."""
    into: dict[str, set[str]] = {}
    for node_id, node in script.nodes.items():
        for _, target in successors(node):
            into.setdefault(target, set()).add(node_id)
    found: dict[str, float] = {
        node_id: 0 for node_id, node in script.nodes.items() if isinstance(node, EXIT_NODES)
    }
    todo = deque(found)
    while todo:
        node_id = todo.popleft()
        for before in into.get(node_id, ()):
            if before not in found:
                found[before] = found[node_id] + 1
                todo.append(before)
    return found


# -- inputs -----------------------------------------------------------------------------------


def _with_end(node: CollectNode, digits: str) -> tuple[str, ...]:
    # Fewer than max_digits: the terminator ends the input, or silence without one.
    if len(digits) >= node.max_digits:
        return tuple(digits)
    return (*digits, node.terminator or TIMEOUT)


def _accepts(node: CollectNode, digits: str) -> bool:
    return rejection(node, digits, len(digits) >= node.min_digits) is None


def _candidates(node: CollectNode, serial: int) -> Iterable[str]:
    for length in range(node.min_digits, node.max_digits + 1):
        if length <= 3:
            yield from (f"{n:0{length}d}" for n in range(10**length))
            continue
        stem = f"1{serial:0{length - 2}d}"[-(length - 1) :]
        for last in "0123456789":
            yield stem + last
        yield "1" * length


def _valid_digits(node: CollectNode, serial: int) -> str | None:
    for digits in _candidates(node, serial):
        if _accepts(node, digits):
            return digits
    return None


def _short_keys(node: CollectNode) -> tuple[str, ...] | None:
    if node.min_digits <= 1:
        return None
    return _with_end(node, "1" * (node.min_digits - 1))


def _rejected_keys(node: CollectNode) -> tuple[str, ...] | None:
    if node.validate_ is None:
        return None
    for digits in _candidates(node, 0):
        if rejection(node, digits, True) is not None:
            return _with_end(node, digits)
    return None


# -- lookup answers ---------------------------------------------------------------------------


def _satisfying(cond: Condition) -> dict[str, Any]:
    """Attribute values under which ``cond`` holds (best effort; empty when unknown)."""
    if cond.all is not None:
        merged: dict[str, Any] = {}
        for part in cond.all:
            merged.update(_satisfying(part))
        return merged
    if cond.any:
        return _satisfying(cond.any[0])
    if cond.attr is None:
        return {}
    op = cond.operator
    value: Any = None
    if op == "equals":
        value = cond.equals
    elif op == "in" and cond.in_:
        value = cond.in_[0]
    elif op == "not_equals":
        value = f"{cond.not_equals}-other"
    elif op == "exists" and cond.exists:
        value = 42
    elif op in ("gt", "ge", "lt", "le"):
        limit = getattr(cond, op)
        value = limit + 1 if op == "gt" else limit - 1 if op == "lt" else limit
    return {} if value is None else {cond.attr: value}


def _put(answer: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    node = answer
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


# -- call settings: clock and caller ----------------------------------------------------------


def _conditions(script: Script) -> list[Condition]:
    found: list[Condition] = []

    def walk(cond: Condition) -> None:
        found.append(cond)
        for part in (cond.all or []) + (cond.any or []) + ([cond.not_] if cond.not_ else []):
            walk(part)

    for node in script.nodes.values():
        if isinstance(node, BranchNode):
            for case in node.cases:
                walk(case.when)
    return found


def _instants(script: Script) -> list[dt.datetime]:
    """Candidate call times: around every opening range, at night, and on every holiday."""
    zone = zoneinfo.ZoneInfo(script.timezone)
    ranges: list[str] = []
    days: list[dt.date] = [BASE_DATE + dt.timedelta(days=n) for n in range(7)]
    for calendar in script.calendars.values():
        for spans in calendar.weekly.values():
            ranges += spans
        for holiday in calendar.holidays:
            days.append(holiday.date)
            ranges += holiday.hours
    ranges += [c.time for c in _conditions(script) if c.time is not None]
    clocks = {dt.time(3, 0), dt.time(12, 0)}
    for span in ranges:
        start, end = (parse_clock(part) for part in span.split("-"))
        for moment in (start, end):
            if moment is not None:
                clocks.add(moment)
    return [
        dt.datetime.combine(day, clock, zone)
        for day in dict.fromkeys(days)
        for clock in sorted(clocks)
    ]


def settings_for(script: Script, caller: str = DEFAULT_CALLER) -> list[Setting]:
    """One call time per distinct combination of business-hours states and time conditions
    (so every ``hours`` state and time case can be met), each with the default caller, plus the
    caller numbers the script's conditions test."""
    hours_nodes = [n for n in script.nodes.values() if isinstance(n, HoursNode)]
    timed = [
        c
        for c in _conditions(script)
        if c.attr is None and c.all is None and c.any is None and c.not_ is None
    ]
    zone = zoneinfo.ZoneInfo(script.timezone)
    seen: dict[tuple[Any, ...], Setting] = {}
    for at in _instants(script):
        states = []
        for node in hours_nodes:
            state, _ = opening(script.calendars[node.calendar], at)
            states.append(state.value)
        local = at.astimezone(zone)
        signature = (*states, *(holds(c, {}, local) for c in timed))
        if signature not in seen:
            label = ", ".join(
                f"{node.calendar} {state}" for node, state in zip(hours_nodes, states, strict=True)
            )
            seen[signature] = Setting(
                at, caller, f"{local:%a %Y-%m-%d %H:%M}" + (f" ({label})" if label else "")
            )
    found = list(seen.values()) or [
        Setting(dt.datetime.combine(BASE_DATE, dt.time(10, 0), zone), caller, "any time")
    ]
    first = found[0]
    numbers: list[str] = []
    for cond in _conditions(script):
        if cond.attr != "caller":
            continue
        value = (
            cond.equals
            if cond.operator == "equals"
            else (cond.in_[0] if cond.operator == "in" and cond.in_ else None)
        )
        if value is not None and str(value) not in numbers and str(value) != caller:
            numbers.append(str(value))
    found += [Setting(first.at, number, f"{first.label}, caller {number}") for number in numbers]
    return found


# -- generation -------------------------------------------------------------------------------


@dataclass
class _Run:
    points: list[_Point]
    session: _ExploringSession
    lookups: list[LookupAnswer]
    outcome: IvrOutcome
    events: list[IvrEvent]
    setting: Setting


async def _explore(walker: _Walker, prefix: Sequence[int]) -> _Run:
    chooser = _Chooser(prefix)
    setting_choice = chooser.choose(
        [_Choice(("call", s.label), setting=s) for s in walker.settings]
    )
    setting = setting_choice.setting
    assert setting is not None
    if setting.caller == DEFAULT_CALLER:
        # Every call its own number: a customer system can answer each path differently.
        setting = dataclasses.replace(setting, caller=f"+4915{next(walker.callers):09d}")
    session = _ExploringSession(walker, chooser, setting)
    lookup = _ExploringLookup(walker, chooser, session)
    events: list[IvrEvent] = []

    def sink(event: IvrEvent) -> None:
        events.append(event)
        if event.kind == "node":
            session.on_node(event.node)

    outcome = await run_script(
        walker.script,
        session,
        IvrContext(  # type: ignore[arg-type]
            prompts=walker.prompts, sink=sink, lookup=lookup, clock=lambda: setting.at
        ),
    )
    return _Run(chooser.points, session, lookup.answers, outcome, events, setting)


class _ScriptedLookup:
    def __init__(self, answers: Sequence[LookupAnswer]) -> None:
        self.answers = deque(answers)

    async def fetch(
        self, method: str, url: str, body: Mapping[str, str] | None, deadline_s: float
    ) -> Any:
        expected = self.answers.popleft()
        if (expected.method, expected.url) != (method, url):
            raise PathError(f"lookup {method} {url}, expected {expected.url}")
        if expected.answer is None:
            raise LookupFailed("the customer system fails (HTTP 404)")
        return dict(expected.answer)


async def walk_offline(
    script: Script, prompts: PromptCatalog, path: CallerPath, sink: Any = None
) -> tuple[IvrOutcome, list[IvrEvent]]:
    """Walk ``path`` with the scripted caller of ``cc-admin ivr try``."""
    events: list[IvrEvent] = []

    def record(event: IvrEvent) -> None:
        events.append(event)
        if sink is not None:
            sink(event)

    session = ScriptedSession(
        list(path.keys), caller_num=path.setting.caller, called_num=CALLED, call_id="paths-1"
    )
    outcome = await run_script(
        script,
        session,
        IvrContext(
            prompts=prompts,
            sink=record,
            lookup=_ScriptedLookup(path.lookups),
            clock=lambda: path.setting.at,
        ),
    )
    return outcome, events


def _steps(events: Iterable[IvrEvent]) -> tuple[tuple[str, str], ...]:
    return tuple((e.kind, e.node) for e in events if e.kind not in ("start", "prompt"))


def _same(a: IvrOutcome, b: IvrOutcome) -> bool:
    keys = (
        "kind",
        "node",
        "queue",
        "skills",
        "priority",
        "language",
        "extension",
        "callback_number",
        "mailbox",
        "csat_score",
        "path",
    )
    return all(getattr(a, k) == getattr(b, k) for k in keys)


async def generate_async(script: Script, prompts: PromptCatalog) -> PathSet:
    walker = _Walker(script, prompts)
    covered: set[tuple[Any, ...]] = set()
    queued: set[tuple[Any, ...]] = set()
    todo: deque[tuple[tuple[int, ...], tuple[Any, ...] | None]] = deque([((), None)])
    paths: list[CallerPath] = []
    edges: set[tuple[str, str]] = set()
    history: list[tuple[tuple[int, ...], _Run]] = []
    runs = 0
    while todo:
        prefix, goal = todo.popleft()
        if goal is not None and goal in covered:
            continue
        runs += 1
        if runs > MAX_RUNS:
            raise PathError(
                f"{script.name}: more than {MAX_RUNS} walks; the script is too large to cover"
            )
        run = await _explore(walker, prefix)
        new = [
            p.choices[p.chosen].label
            for p in run.points
            if p.choices[p.chosen].label not in covered
        ]
        covered.update(new)
        for at, point in enumerate(run.points):
            if at < len(prefix):
                continue
            for index, choice in enumerate(point.choices):
                if choice.label not in covered and choice.label not in queued:
                    queued.add(choice.label)
                    todo.append(((*[p.chosen for p in run.points[:at]], index), choice.label))
        taken = _edges_taken(script, run.events)
        if not new and taken <= edges:
            history.append((tuple(p.chosen for p in run.points), run))
            continue
        edges |= taken
        paths.append(
            await _checked(
                script, prompts, run, len(paths) + 1, [_label_text(label) for label in new]
            )
        )
        history.append((tuple(p.chosen for p in run.points), run))
    # Edges no forced choice reached: a branch on what an earlier choice set (the language
    # for a queue per language). Change one earlier choice of a walk through that node.
    for node_id, where in _missing(script, edges):
        for chosen, old in [
            h for h in history if any(e.kind == "node" and e.node == node_id for e in h[1].events)
        ][:MAX_RETRIES]:
            found = False
            for at, point in enumerate(old.points):
                for index in range(len(point.choices)):
                    if index == chosen[at]:
                        continue
                    run = await _explore(walker, (*chosen[:at], index, *chosen[at + 1 :]))
                    taken = _edges_taken(script, run.events)
                    if (node_id, where) in taken:
                        edges |= taken
                        paths.append(
                            await _checked(
                                script, prompts, run, len(paths) + 1, (f"{node_id}: {where}",)
                            )
                        )
                        found = True
                        break
                if found:
                    break
            if found:
                break
    return PathSet(script.name, tuple(paths), frozenset(edges), tuple(_uncovered(script, edges)))


async def _checked(
    script: Script, prompts: PromptCatalog, run: _Run, index: int, covers: Sequence[str]
) -> CallerPath:
    """The run as a path, once the scripted walk of its keys agrees with it."""
    path = CallerPath(
        script=script.name,
        index=index,
        covers=tuple(covers),
        setting=run.setting,
        keys=_needed(run.session.keys),
        actions=tuple(run.session.actions),
        lookups=tuple(run.lookups),
        outcome=run.outcome,
        steps=_steps(run.events),
    )
    outcome, events = await walk_offline(script, prompts, path)
    if not _same(outcome, run.outcome) or _steps(events) != path.steps:
        raise PathError(
            f"{path.name}: the scripted walk ends {outcome.kind} at "
            f"{outcome.node}, the generator's {run.outcome.kind} at "
            f"{run.outcome.node} (keys {','.join(path.keys)})"
        )
    return path


def generate(script: Script, prompts: PromptCatalog) -> PathSet:
    """Every edge of ``script`` as caller paths (see the module's description)."""
    walk = generate_async(script, prompts)
    # Nothing in a walk waits on I/O, so the coroutine runs to its end in one step; this
    # works inside a running event loop too (tests, the ACD).
    try:
        walk.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    walk.close()
    raise PathError(f"{script.name}: a walk waited on I/O")


def _needed(keys: Sequence[str]) -> tuple[str, ...]:
    """Keys without the ``L`` (listen) entries that no ``H`` follows: only those matter."""
    kept: list[str] = []
    hang_up_next = False
    for key in reversed(keys):
        if key == LISTEN and not hang_up_next:
            continue
        if key != LISTEN:
            hang_up_next = key == HANG_UP
        kept.append(key)
    return tuple(reversed(kept))


def _label_text(label: tuple[Any, ...]) -> str:
    node, kind, *rest = label
    if kind == "listen":
        return f"{node}: listens"
    if kind in ("wrong key", "silence", "rejected"):
        return f"{node}: {kind} (try {rest[0]})"
    return f"{node}: {kind}" + (f" {rest[0]}" if rest else "")


def _edges_taken(script: Script, events: Sequence[IvrEvent]) -> set[tuple[str, str]]:
    """(node, location) of every edge the walk took, e.g. ("menu", "options.2")."""
    taken: set[tuple[str, str]] = set()
    nodes = [e for e in events if e.kind == "node"]
    for event in events:
        node = script.nodes.get(event.node)
        d = event.detail
        if event.kind == "input" and isinstance(node, MenuNode):
            taken.add((event.node, f"options.{d['digits']}"))
        elif event.kind == "input" and isinstance(node, CollectNode):
            taken.add((event.node, "next"))
        elif event.kind == "fallback":
            taken.add((event.node, "fallback"))
        elif event.kind == "branch":
            case = d["case"]
            taken.add(
                (event.node, "default" if case == "default" else f"cases.{int(case) - 1}.next")
            )
        elif event.kind == "hours":
            state = d["state"]
            assert isinstance(node, HoursNode)
            taken.add((event.node, state if state != "holiday" or node.holiday else "closed"))
        elif event.kind == "lookup":
            taken.add((event.node, "next" if d["ok"] == "true" else "fallback"))
    for before, after in itertools.pairwise(nodes):
        node = script.nodes[before.node]
        for location, target in successors(node):
            if (
                location == ("next",)
                and target == after.node
                and not isinstance(node, CollectNode | LookupNode)
            ):
                taken.add((before.node, "next"))
    return taken


def _reachable(script: Script) -> set[str]:
    seen = {script.start}
    todo = [script.start]
    while todo:
        for _, target in successors(script.nodes[todo.pop()]):
            if target not in seen and target in script.nodes:
                seen.add(target)
                todo.append(target)
    return seen


def _missing(script: Script, edges: set[tuple[str, str]]) -> list[tuple[str, str]]:
    missing = []
    for node_id in sorted(_reachable(script)):
        for location, _ in successors(script.nodes[node_id]):
            where = ".".join(str(part) for part in location)
            if (node_id, where) not in edges:
                missing.append((node_id, where))
    return missing


def _uncovered(script: Script, edges: set[tuple[str, str]]) -> list[str]:
    return [f"{node_id}.{where}" for node_id, where in _missing(script, edges)]


# -- text --------------------------------------------------------------------------------------


def describe(path: CallerPath) -> str:
    """One paragraph per path: setting, keys, lookups, expected outcome."""
    outcome = path.outcome
    target = outcome.queue or outcome.extension or outcome.mailbox or outcome.callback_number
    lines = [
        f"{path.name}  covers: {'; '.join(path.covers) or '-'}",
        f"  call: {path.setting.label}, caller {path.setting.caller}",
        f"  keys: {','.join(path.keys) or '(none)'}",
    ]
    for answer in path.lookups:
        query = urllib.parse.urlsplit(answer.url)
        lines.append(
            f"  lookup {answer.node} {query.path}?{query.query}: "
            + ("fails" if answer.answer is None else f"answers {dict(answer.answer)}")
        )
    lines.append(
        f"  expect: {outcome.kind.value}"
        + (f" {target}" if target else "")
        + f" at {outcome.node}"
        + (f", CSAT {outcome.csat_score}" if outcome.csat_score is not None else "")
    )
    return "\n".join(lines)
