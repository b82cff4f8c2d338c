"""The capture dialplan (recorded with a real Asterisk 22.10.1) loads completely, and replaying
every ``Newexten`` event of the captures through it gives the same application and the same
substituted ``AppData`` Asterisk reported."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

from pbx.sim.dialplan import (
    REGISTERED_APPLICATIONS,
    Dialplan,
    canonical_application,
    channel_functions,
    channel_scope,
    substitute,
)
from tests.paths import ASTERISK_CAPTURES as CAPTURES

CAPTURE_CONF = CAPTURES / "conf" / "extensions.conf"


@pytest.fixture(scope="module")
def plan() -> Dialplan:
    return Dialplan.load(str(CAPTURE_CONF))


def _raw_steps(path: Path) -> list[tuple[str, int]]:
    """(context, line number) of every exten/same line, read naively as an oracle."""
    context = ""
    found = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.split(";", 1)[0].strip()
        if line.startswith("["):
            context = line.strip("[]")
        elif re.match(r"^(exten|same)\s*=>", line):
            found.append((context, number))
    return found


def test_every_line_becomes_a_step(plan: Dialplan) -> None:
    raw = _raw_steps(CAPTURE_CONF)
    steps = list(plan.steps())
    assert sorted((s.context, s.line) for s in steps) == sorted(raw)
    assert {s.file for s in steps} == {str(CAPTURE_CONF)}
    assert plan.general == {"static": "yes", "writeprotect": "no", "clearglobalvars": "no"}
    assert dict(plan.globals) == {"FASTAGI": "agi://127.0.0.1:4573", "SIM_AGENT_TALK": "5"}
    assert plan.warnings == []


def test_contexts_and_extensions_in_asterisk_order(plan: Dialplan) -> None:
    order = {name: [e.name.text for e in plan.extensions(name)] for name in plan.contexts}
    assert order == {
        "from-pstn": ["200", "300", "301", "302", "s", "_X.", "_X", "_[a-zA-Z]."],
        "hold": ["s", "silent"],
        "queues": ["_[a-z]."],
        "agents": [
            "300", "301", "302", "8000", "8001", "_100X", "_55XXXX", "_56XXXX", "_57XXXX",
        ],
        "local-test": [
            "agi", "echo", "hold", "local", "play", "redirected", "wait", "_wX.", "_wX",
        ],
        "local-agents": ["_tX.", "_tX", "_[a-z0-9]."],
        "sim-caller": ["_wX.", "_wX", "_X.", "_X"],
    }  # fmt: skip


def test_priorities_of_the_inbound_extension(plan: Dialplan) -> None:
    got = [(s.priority, s.app, s.raw_args) for s in plan.steps() if s.exten == "_X."
           and s.context == "from-pstn"]  # fmt: skip
    assert got == [
        (1, "NoOp", "Inbound ${CALLERID(all)} -> ${EXTEN} on ${CHANNEL}"),
        (2, "Answer", ""),
        (3, "Set", "__ACD_DNIS=${EXTEN}"),
        (4, "AGI", "${FASTAGI}/inbound,${EXTEN}"),
        (5, "NoOp", "AGISTATUS=${AGISTATUS}"),
        (6, "Goto", "hold,s,1"),
    ]
    assert plan.next_priority("from-pstn", "100", 5) == 6
    assert plan.next_priority("from-pstn", "100", 6) is None


@pytest.mark.parametrize(
    ("context", "exten", "expected"),
    [
        ("from-pstn", "200", "200"),  # literal beats _X.
        ("from-pstn", "100", "_X."),
        ("from-pstn", "7", "_X"),  # _X. needs two characters or more
        ("from-pstn", "s", "s"),
        ("from-pstn", "abc", "_[a-zA-Z]."),
        ("from-pstn", "a", None),  # _[a-zA-Z]. needs two characters or more
        ("local-test", "w5", "_wX"),
        ("local-test", "w30", "_wX."),
        ("local-test", "wait", "wait"),
        ("local-agents", "t5", "_tX"),  # _tX is more specific than _[a-z0-9].
        ("local-agents", "sim1", "_[a-z0-9]."),
        ("sim-caller", "5551234", "_X."),
        ("sim-caller", "w9", "_wX"),
        ("agents", "1002", "_100X"),
        ("agents", "561001", "_56XXXX"),
        ("agents", "1010", None),
        ("nope", "100", None),
    ],
)
def test_match(plan: Dialplan, context: str, exten: str, expected: str | None) -> None:
    ext = plan.match(context, exten)
    assert (ext.name.text if ext else None) == expected


def test_applications_used(plan: Dialplan) -> None:
    assert plan.applications_used() == {
        "AGI", "Answer", "ChanSpy", "Dial", "Echo", "Goto", "Hangup", "MusicOnHold", "NoOp",
        "Playback", "Playtones", "Queue", "Set", "Wait",
    }  # fmt: skip
    assert ("agents", "_55XXXX", 2, "ChanSpy") in list(plan.applications())
    assert all(a.lower() in REGISTERED_APPLICATIONS for a in plan.applications_used())


def _events(path: Path) -> list[dict[str, str]]:
    blocks = path.read_bytes().decode().replace("\r\n", "\n").split("\n\n")
    events = []
    for block in blocks:
        headers: dict[str, str] = {}
        for line in block.split("\n"):
            key, sep, value = line.partition(": ")
            if sep:
                headers.setdefault(key, value)
            elif line.endswith(":"):
                headers.setdefault(line[:-1], "")
        if "Event" in headers:
            events.append(headers)
    return events


@dataclass(frozen=True)
class _Chan:
    name: str
    uniqueid: str
    context: str
    exten: str
    priority: int
    caller_num: str
    caller_name: str
    language: str
    accountcode: str


def _unknown(value: str) -> str:
    return "" if value == "<unknown>" else value


# Flow 01 (login, Ping) runs no dialplan; every other flow does.
FLOWS = [p for p in sorted(CAPTURES.glob("*.raw")) if "_01_" not in p.name]


@pytest.mark.parametrize("raw", FLOWS, ids=lambda p: p.name[17:40])
def test_newexten_events_replay(plan: Dialplan, raw: Path) -> None:
    """Asterisk's own Newexten events: same application at that place, same AppData."""
    variables: dict[str, dict[str, str]] = defaultdict(dict)
    checked = 0
    for ev in _events(raw):
        chan = ev.get("Channel", "")
        if ev["Event"] == "VarSet":
            name = ev["Variable"].lstrip("_")
            variables[chan][name] = ev["Value"]
            continue
        if ev["Event"] != "Newexten" or ev["Application"] in ("AppDial2", "AppQueue"):
            continue
        step = plan.find(ev["Context"], ev["Extension"], int(ev["Priority"]))
        assert step is not None, ev
        assert canonical_application(step.app) == ev["Application"], ev
        info = _Chan(
            name=chan,
            uniqueid=ev["Uniqueid"],
            context=ev["Context"],
            exten=ev["Extension"],
            priority=int(ev["Priority"]),
            caller_num=_unknown(ev["CallerIDNum"]),
            caller_name=_unknown(ev["CallerIDName"]),
            language=ev["Language"],
            accountcode=ev["AccountCode"],
        )
        scope = channel_scope(info, variables[chan], plan.globals)
        assert substitute(step.raw_args, scope, channel_functions(info)) == ev["AppData"], ev
        checked += 1
    assert checked > 0


# The project's own Asterisk dialplan templates must load and call only real applications.
# The shipped extensions.conf #includes extensions_cc.conf (which extends its [globals]), so
# loading the top-level file loads every shipped context.
SHIPPED = [Path(__file__).resolve().parents[3] / "dialplan" / "asterisk" / "extensions.conf"]


@pytest.mark.parametrize("conf", SHIPPED, ids=lambda p: p.name)
def test_shipped_dialplan_loads(conf: Path) -> None:
    plan = Dialplan.load(str(conf))
    assert {"cc-inbound", "cc-hold", "cc-connect", "cc-spy"} <= set(plan.contexts)
    unknown = {a for a in plan.applications_used() if a.lower() not in REGISTERED_APPLICATIONS}
    assert not unknown, f"{conf}: applications Asterisk does not have: {sorted(unknown)}"
