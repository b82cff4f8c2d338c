"""Checks across files: every id referred to exists, and every queue can be served."""

from __future__ import annotations

from collections.abc import Iterable

from cc_core.config.agents_file import Agent, AgentsFile
from cc_core.config.problems import Problem, Severity, did_you_mean
from cc_core.config.queues_file import Queue, QueuesFile
from cc_core.config.sources import Part, Sources, present, raw_ids
from cc_core.config.value_types import CALL_CHANNELS
from cc_core.config.yaml_source import Document, Loc

WARNING = Severity.WARNING


class Catalogue:
    """Known ids of one kind and where they are defined, for "unknown X" messages."""

    def __init__(self, what: str, where: str, ids: Iterable[str]) -> None:
        self.what, self.where, self.ids = what, where, set(ids)

    def check(self, doc: Document, loc: Loc, value: str, *, key: bool = False) -> list[Problem]:
        if value in self.ids:
            return []
        hint = did_you_mean(value, self.ids) or f" (expected {self._choices()})"
        return [doc.problem(loc, f"unknown {self.what} '{value}'{hint}", key=key)]

    def _choices(self) -> str:
        if not self.ids:
            return f"an id listed in {self.where}, which lists none"
        known = sorted(self.ids)
        shown = ", ".join(known[:8]) + (", ..." if len(known) > 8 else "")
        return f"an id listed in {self.where}: {shown}"


def cross_references(src: Sources) -> list[Problem]:
    problems: list[Problem] = []
    agents, queues = src.agents, src.queues
    queue_ids = _catalogue(queues, "queues", "queue", "queues.yaml")
    if agents is not None:
        problems += _agent_references(agents, queue_ids)
    if queues is not None:
        problems += _queue_references(queues, agents, src)
    problems += _channel_references(src, queue_ids)
    problems += _pbx_needed(src)
    return problems


def _catalogue(part: Part[AgentsFile] | Part[QueuesFile] | None, section: str, what: str,
               where: str) -> Catalogue | None:
    """None when the file or the section cannot be read: references to it are not checked."""
    if part is None or not isinstance(part.doc.data, dict):
        return None
    if not isinstance(part.doc.data.get(section, []), list):
        return None
    return Catalogue(what, f"{where} '{section}'", raw_ids(part.doc, section))


def _agent_references(part: Part[AgentsFile], queue_ids: Catalogue | None) -> list[Problem]:
    doc, agents = part.doc, part.partial
    skills = _catalogue(part, "skills", "skill", "agents.yaml")
    languages = _catalogue(part, "languages", "language", "agents.yaml")
    supervisors = _catalogue(part, "supervisors", "supervisor", "agents.yaml")
    raw_profiles = doc.data.get("capacity_profiles") if isinstance(doc.data, dict) else None
    profiles = Catalogue("capacity profile", "agents.yaml 'capacity_profiles'",
                         ["default", *(raw_profiles if isinstance(raw_profiles, dict) else [])])
    problems: list[Problem] = []
    for i, agent in present(agents.agents):
        at = ("agents", i)
        problems += profiles.check(doc, (*at, "profile"), agent.profile)
        for skill in agent.skills:
            if skills is not None:
                problems += skills.check(doc, (*at, "skills", skill), skill, key=True)
        for k, language in enumerate(agent.languages):
            if languages is not None:
                problems += languages.check(doc, (*at, "languages", k), language)
        if agent.supervisor is not None and supervisors is not None:
            problems += supervisors.check(doc, (*at, "supervisor"), agent.supervisor)
        if not agent.queues:
            problems.append(doc.problem((*at, "queues"), f"agent '{agent.id}' serves no queue "
                                        "(expected a mapping of queue id to priority)"))
        for queue_id in agent.queues:
            if queue_ids is not None:
                problems += queue_ids.check(doc, (*at, "queues", queue_id), queue_id, key=True)
        if not any(agent.limits(agents.profiles()).values()):
            problems.append(doc.problem((*at, "capacity"), f"agent '{agent.id}' can take no "
                                        "interaction on any channel", severity=WARNING))
    return problems


def _queue_references(part: Part[QueuesFile], agents_part: Part[AgentsFile] | None,
                      src: Sources) -> list[Problem]:
    doc, queues = part.doc, part.partial
    skills = _catalogue(agents_part, "skills", "skill", "agents.yaml")
    languages = _catalogue(agents_part, "languages", "language", "agents.yaml")
    queue_ids = _catalogue(part, "queues", "queue", "queues.yaml")
    by_id = {q.id: q for _, q in present(queues.queues)}
    problems: list[Problem] = []
    for i, queue in present(queues.queues):
        at = ("queues", i)
        if skills is not None:
            for loc, skill in _required_skills(at, queue):
                problems += skills.check(doc, loc, skill, key=True)
        if queue.language is not None and languages is not None:
            problems += languages.check(doc, (*at, "language"), queue.language)
        target = queue.overflow.queue if queue.overflow else None
        if target is not None and target != queue.id and queue_ids is not None:
            problems += queue_ids.check(doc, (*at, "overflow", "queue"), target)
            if target in by_id:
                problems += _overflow_channels(doc, at, queue, by_id[target])
        if agents_part is not None:
            problems += _servable(doc, at, queue, agents_part.partial)
    problems += _overflow_cycles(doc, queues)
    written = (s.doc.data.get("name") for s in src.ivr if isinstance(s.doc.data, dict))
    ivr_names = Catalogue("IVR script", "the 'name' of ivr/*.yaml",
                          [*(n for n in written if isinstance(n, str)), *src.ivr_unnamed])
    for i, number in present(queues.numbers):
        if number.queue is not None and queue_ids is not None:
            problems += queue_ids.check(doc, ("numbers", i, "queue"), number.queue)
        if number.ivr is not None:
            problems += ivr_names.check(doc, ("numbers", i, "ivr"), number.ivr)
    return problems


def _required_skills(at: Loc, queue: Queue) -> list[tuple[Loc, str]]:
    found: list[tuple[Loc, str]] = [((*at, "require", s), s) for s in queue.require or {}]
    for k, step in enumerate(queue.steps or []):
        found += [((*at, "steps", k, "require", s), s) for s in step.require]
    return found


def _overflow_channels(doc: Document, at: Loc, queue: Queue, target: Queue) -> list[Problem]:
    missing = [c for c in queue.channels if c not in target.channels]
    if not missing:
        return []
    return [doc.problem((*at, "overflow", "queue"), f"overflow target '{target.id}' does not "
                        f"take {', '.join(missing)} (it takes {', '.join(target.channels)})")]


def _overflow_cycles(doc: Document, queues: QueuesFile) -> list[Problem]:
    index = {q.id: (i, q) for i, q in present(queues.queues)}
    reported: set[frozenset[str]] = set()
    problems = []
    for start, (i, _) in index.items():
        chain, current = [start], start
        while True:
            entry = index.get(current)
            overflow = entry[1].overflow if entry else None
            nxt = overflow.queue if overflow else None
            if nxt is None or nxt == current or nxt not in index:
                break
            if nxt in chain:
                cycle = frozenset(chain[chain.index(nxt):])
                if nxt == start and cycle not in reported:
                    reported.add(cycle)
                    path = " -> ".join([*chain, nxt])
                    problems.append(doc.problem(("queues", i, "overflow", "queue"),
                                                f"overflow cycle {path}", severity=WARNING))
                break
            chain.append(nxt)
            current = nxt
    return problems


def _servable(doc: Document, at: Loc, queue: Queue, agents: AgentsFile) -> list[Problem]:
    """Warnings: a queue nobody serves, or whose last step no member can ever meet."""
    members = [a for _, a in present(agents.agents) if queue.id in a.queues]
    if not members:
        return [doc.problem((*at, "id"), f"no agent serves queue '{queue.id}'",
                            severity=WARNING)]
    problems = []
    last_index = len(queue.steps) - 1 if queue.steps else None
    last = queue.routing_steps()[-1]
    language = None if last.any_language else queue.language
    if not any(_meets(a, last.require, language) for a in members):
        wants = [f"{s}>={p}" for s, p in last.require.items()]
        if language:
            wants.append(f"language '{language}'")
        loc = (*at, "steps", last_index) if last_index is not None else (*at, "require")
        problems.append(doc.problem(
            loc, f"no agent serving queue '{queue.id}' can ever meet its most relaxed "
            f"requirement ({', '.join(wants)})", severity=WARNING))
    profiles = agents.profiles()
    for k, channel in enumerate(queue.channels):
        if not any(a.limits(profiles)[channel] > 0 for a in members):
            problems.append(doc.problem((*at, "channels", k), f"no agent serving queue "
                                        f"'{queue.id}' can take {channel}", severity=WARNING))
    return problems


def _meets(agent: Agent, require: dict[str, int], language: str | None) -> bool:
    if language is not None and language not in agent.languages:
        return False
    return all(agent.skills.get(skill, 0) >= level for skill, level in require.items())


def _channel_references(src: Sources, queue_ids: Catalogue | None) -> list[Problem]:
    part = src.channels
    queues = src.queues
    by_id = {q.id: q for _, q in present(queues.partial.queues)} if queues else {}
    fed: dict[str, set[str]] = {"email": set(), "chat": set()}
    problems: list[Problem] = []
    if part is not None:
        doc, channels = part.doc, part.partial
        email, chat = channels.email, channels.chat
        if email is not None:
            for address, queue_id in (email.addresses or {}).items():
                loc = ("email", "addresses", address)
                fed["email"].add(queue_id)
                problems += _feeds(doc, loc, queue_id, "email", queue_ids, by_id)
                domain = address.rpartition("@")[2].lower()
                allowed = [d.lower() for d in email.allowed_domains or []]
                if email.allowed_domains is not None and domain not in allowed:
                    problems.append(doc.problem(loc, f"domain '{domain}' is not in "
                                                "allowed_domains", key=True))
        if chat is not None and chat.queue is not None:
            fed["chat"].add(chat.queue)
            problems += _feeds(doc, ("chat", "queue"), chat.queue, "chat", queue_ids, by_id)
    if queues is not None:
        for i, queue in present(queues.partial.queues):
            for k, channel in enumerate(queue.channels):
                if channel in fed and queue.id not in fed[channel]:
                    problems.append(queues.doc.problem(
                        ("queues", i, "channels", k), f"queue '{queue.id}' takes {channel} but "
                        f"nothing in channels.yaml feeds it", severity=WARNING))
    return problems


def _feeds(doc: Document, loc: Loc, queue_id: str, channel: str, queue_ids: Catalogue | None,
           by_id: dict[str, Queue]) -> list[Problem]:
    if queue_ids is None:
        return []
    problems = queue_ids.check(doc, loc, queue_id)
    queue = by_id.get(queue_id)
    if queue is not None and channel not in queue.channels:
        problems.append(doc.problem(loc, f"queue '{queue_id}' does not take {channel} "
                                    f"(it takes {', '.join(queue.channels)})"))
    return problems


def _pbx_needed(src: Sources) -> list[Problem]:
    acd, queues = src.acd, src.queues
    if acd is None or queues is None or acd.partial.pbx is None or acd.partial.pbx:
        return []
    calls = [q.id for _, q in present(queues.partial.queues)
             if CALL_CHANNELS & set(q.channels)]
    if not calls:
        return []
    return [acd.doc.problem(("pbx",), "no PBX configured, but queues "
                            f"{', '.join(calls)} take calls (expected at least one PBX)")]
