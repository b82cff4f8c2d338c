"""Rules inside one file that pydantic's per-field checks cannot express."""

from __future__ import annotations

from cc_core.config.acd_file import AcdFile
from cc_core.config.problems import Problem, Severity
from cc_core.config.queues_file import Queue, QueuesFile
from cc_core.config.sources import Part, present, raw_items
from cc_core.config.value_types import CALL_CHANNELS
from cc_core.config.yaml_source import Document


def duplicate_ids(doc: Document, section: str, what: str, key: str = "id",
                  severity: Severity = Severity.ERROR) -> list[Problem]:
    """Each ``key`` value once in the list ``section``; the later ones are reported."""
    first: dict[object, int] = {}
    problems = []
    for index, item in raw_items(doc, section):
        value = item.get(key)
        if not isinstance(value, str):
            continue
        if value in first:
            line = doc.mark((section, first[value], key)).line
            message = f"duplicate {what} '{value}' (first defined at line {line}; expected unique)"
            problems.append(doc.problem((section, index, key), message, severity=severity))
        else:
            first[value] = index
    return problems


def acd_rules(part: Part[AcdFile]) -> list[Problem]:
    doc, acd = part.doc, part.partial
    problems = duplicate_ids(doc, "pbx", "PBX name", key="name")
    for i, pbx in present(acd.pbx):
        wanted, unwanted = ("ami", "esl") if pbx.type == "asterisk" else ("esl", "ami")
        if getattr(pbx, wanted) is None:
            problems.append(doc.problem(
                ("pbx", i, wanted),
                f"required field is missing (expected connection settings for {pbx.type})"))
        if getattr(pbx, unwanted) is not None:
            problems.append(doc.problem(
                ("pbx", i, unwanted), f"'{unwanted}' does not apply to type '{pbx.type}'"
                f" (expected '{wanted}')", key=True))
    return problems


def agents_rules(doc: Document) -> list[Problem]:
    problems = []
    for section, what in (("skills", "skill id"), ("languages", "language id"),
                          ("supervisors", "supervisor id"), ("agents", "agent id")):
        problems += duplicate_ids(doc, section, what)
    # Two agents on one phone is legal (a shared desk) but usually a copy-paste slip.
    problems += duplicate_ids(doc, "agents", "endpoint", key="endpoint", severity=Severity.WARNING)
    return problems


def queues_rules(part: Part[QueuesFile]) -> list[Problem]:
    doc, queues = part.doc, part.partial
    problems = duplicate_ids(doc, "queues", "queue id")
    problems += duplicate_ids(doc, "numbers", "dialled number", key="did")
    for i, queue in present(queues.queues):
        problems += _queue_rules(doc, ("queues", i), queue)
    for i, number in present(queues.numbers):
        if (number.queue is None) == (number.ivr is None):
            problems.append(doc.problem(
                ("numbers", i), "give exactly one target (expected 'queue' or 'ivr')"))
    return problems


def _queue_rules(doc: Document, at: tuple[str, int], queue: Queue) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[str] = set()
    for k, channel in enumerate(queue.channels):
        if channel in seen:
            problems.append(doc.problem((*at, "channels", k), f"duplicate channel '{channel}'"))
        seen.add(channel)
    if not queue.channels:
        problems.append(doc.problem((*at, "channels"), "got an empty list (expected at least "
                                    "one of 'voice', 'video', 'chat', 'email')"))
    if queue.require is not None and queue.steps is not None:
        problems.append(doc.problem((*at, "steps"), "give either 'require' or 'steps', not both",
                                    key=True))
    if queue.steps is not None:
        problems += _step_rules(doc, at, queue)
    if queue.seed is not None and queue.strategy != "random":
        problems.append(doc.problem((*at, "seed"), f"seed is only used by strategy 'random' "
                                    f"(this queue uses '{queue.strategy}')", key=True))
    problems += _wait_rules(doc, at, queue)
    if queue.sla_aware and queue.sla is None:
        problems.append(doc.problem((*at, "sla_aware"), "sla_aware needs a target (expected "
                                    "'sla: {percent: 80, seconds: 20}')", key=True))
    return problems


def _step_rules(doc: Document, at: tuple[str, int], queue: Queue) -> list[Problem]:
    steps = queue.steps or []
    if not steps:
        return [doc.problem((*at, "steps"), "got an empty list (expected at least one step)")]
    problems = []
    if steps[0].after != 0:
        problems.append(doc.problem(
            (*at, "steps", 0, "after"),
            f"first step starts at {steps[0].after} (expected 0: a contact is routable at once)"))
    for k in range(1, len(steps)):
        before, step = steps[k - 1], steps[k]
        if step.after <= before.after:
            problems.append(doc.problem(
                (*at, "steps", k, "after"),
                f"got {step.after} after {before.after} in the step before (expected a time "
                f"later than {before.after} seconds: steps must increase in time)"))
        stricter = [f"{s} {before.require.get(s, 0)}->{p}" for s, p in step.require.items()
                    if p > before.require.get(s, 0)]
        if stricter:
            problems.append(doc.problem(
                (*at, "steps", k, "require"),
                f"stricter than the step before ({', '.join(stricter)}); steps should relax "
                "as the wait grows", severity=Severity.WARNING))
    return problems


def _wait_rules(doc: Document, at: tuple[str, int], queue: Queue) -> list[Problem]:
    problems = []
    overflow, max_wait = queue.overflow, queue.max_wait_seconds
    if overflow is not None:
        if (overflow.queue is None) == (overflow.exit is None):
            problems.append(doc.problem((*at, "overflow"), "give exactly one target (expected "
                                        "'queue: <id>' or 'exit: voicemail|callback|hangup')"))
        if overflow.queue == queue.id:
            problems.append(doc.problem((*at, "overflow", "queue"),
                                        "a queue cannot overflow to itself"))
        if overflow.exit in ("voicemail", "callback") and not CALL_CHANNELS & set(queue.channels):
            problems.append(doc.problem(
                (*at, "overflow", "exit"), f"exit '{overflow.exit}' applies to calls "
                f"(this queue takes {', '.join(queue.channels)}; expected 'hangup' or a queue)"))
        if max_wait is None:
            problems.append(doc.problem((*at, "overflow"), "overflow needs 'max_wait_seconds' "
                                        "(expected the wait after which it applies)", key=True))
    elif max_wait is not None:
        problems.append(doc.problem((*at, "max_wait_seconds"), "max_wait_seconds needs "
                                    "'overflow' (expected a queue or an exit)", key=True))
    if max_wait is not None and queue.sla is not None and queue.sla.seconds > max_wait:
        problems.append(doc.problem(
            (*at, "sla", "seconds"), f"SLA window {queue.sla.seconds} s is longer than "
            f"max_wait_seconds {max_wait} s", severity=Severity.WARNING))
    sticky = queue.sticky
    if max_wait is not None and sticky is not None and sticky.max_wait_seconds >= max_wait:
        problems.append(doc.problem(
            (*at, "sticky", "max_wait_seconds"), f"sticky wait {sticky.max_wait_seconds} s "
            f"is not shorter than max_wait_seconds {max_wait} s", severity=Severity.WARNING))
    return problems
