"""Waiting interactions of one queue, grouped for fast lookup by an agent.

Entries are ``(negated key, arrival, seq)``, best first. Interactions are grouped by
(channel, language); inside a group there is one sorted line per eligibility class (the skills
needed at the current step) and ``heads`` holds each line's first entry. An agent looking for
work visits only the groups of channels it can take and languages it speaks, walks each
group's heads best first and stops at the first class it fits.
"""

from __future__ import annotations

from bisect import insort

from sortedcontainers import SortedList

from cc_core.domain import ChannelKind, Queue
from cc_core.routing import ranking
from cc_core.routing.requirements import EligibilityClass, describe, eligibility_class, fits
from cc_core.routing.state import AgentRuntime, InteractionRuntime

Entry = tuple[float, float, int]
GroupKey = tuple[ChannelKind, str | None]


class ClassGroup:
    __slots__ = ("heads", "lines")

    def __init__(self) -> None:
        self.lines: dict[int, SortedList] = {}
        # (head entry, class id), sorted; a plain list: a group holds few classes and the
        # agent-side walk over it is the engine's hottest loop.
        self.heads: list[tuple[Entry, int]] = []

    def add(self, class_id: int, entry: Entry) -> None:
        line = self.lines.get(class_id)
        if line is None:
            self.lines[class_id] = SortedList((entry,))
            insort(self.heads, (entry, class_id))
            return
        old = line[0]
        line.add(entry)
        if entry < old:
            self.heads.remove((old, class_id))
            insort(self.heads, (entry, class_id))

    def remove(self, class_id: int, entry: Entry) -> None:
        line = self.lines[class_id]
        old = line[0]
        line.remove(entry)
        if entry == old:
            self.heads.remove((old, class_id))
            if line:
                insort(self.heads, (line[0], class_id))
            else:
                del self.lines[class_id]


class QueueLines:
    """All waiting (non-sticky) interactions of one queue."""

    __slots__ = ("groups",)

    def __init__(self) -> None:
        self.groups: dict[GroupKey, ClassGroup] = {}

    def add(self, key: GroupKey, class_id: int, entry: Entry) -> None:
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = ClassGroup()
        group.add(class_id, entry)

    def remove(self, key: GroupKey, class_id: int, entry: Entry) -> None:
        group = self.groups[key]
        group.remove(class_id, entry)
        if not group.lines:
            del self.groups[key]


class WaitingLines:
    """Every queue's waiting lines, the eligibility classes met so far, and the agent-side
    search. Sticky interactions are kept on their preferred agents, not in lines."""

    __slots__ = ("_class_ids", "_queues", "class_text", "classes")

    def __init__(self) -> None:
        self._queues: dict[str, QueueLines] = {}
        self._class_ids: dict[EligibilityClass, int] = {}
        self.classes: list[EligibilityClass] = []
        self.class_text: list[str] = []  # describe() of each class, for offer reasons

    def add_queue(self, queue_id: str) -> None:
        self._queues[queue_id] = QueueLines()

    def enqueue(self, rec: InteractionRuntime, agents: dict[str, AgentRuntime]) -> None:
        """Put a waiting interaction where agents will find it."""
        if rec.sticky_agents:
            for agent_id in rec.sticky_agents:
                rt = agents.get(agent_id)
                if rt is not None:
                    rt.sticky.add(rec.seq)
            return
        class_id, cls = self.rec_class(rec)
        self._queues[rec.queue.id].add((cls.channel, cls.language), class_id, rec.line_entry())
        rec.cls = class_id

    def unqueue(self, rec: InteractionRuntime, agents: dict[str, AgentRuntime]) -> None:
        """Take a waiting interaction out of its line or sticky sets."""
        if rec.cls is not None:
            cls = self.classes[rec.cls]
            self._queues[rec.queue.id].remove(
                (cls.channel, cls.language), rec.cls, rec.line_entry()
            )
            rec.cls = None
        for agent_id in rec.sticky_agents:
            rt = agents.get(agent_id)
            if rt is not None:
                rt.sticky.discard(rec.seq)

    def class_id(self, cls: EligibilityClass) -> int:
        class_id = self._class_ids.get(cls)
        if class_id is None:
            class_id = self._class_ids[cls] = len(self.classes)
            self.classes.append(cls)
            self.class_text.append(describe(cls))
        return class_id

    def rec_class(self, rec: InteractionRuntime) -> tuple[int, EligibilityClass]:
        """The interaction's eligibility class at its current step (cached per step)."""
        if rec.class_step != rec.step:
            cls = eligibility_class(rec.queue, rec.step, rec.interaction)
            rec.class_id = self.class_id(cls)
            rec.class_step = rec.step
        return rec.class_id, self.classes[rec.class_id]

    def best_for(
        self,
        rt: AgentRuntime,
        queues: dict[str, Queue],
        by_seq: dict[int, InteractionRuntime],
        now: float,
        memo: dict[tuple, Entry | None],
    ) -> InteractionRuntime | None:
        """The waiting interaction this agent should take next, if any.

        Queues in the agent's priority order; within one priority, each queue's best entry it
        can take, then the highest score now, then earliest arrival, then arrival order.
        ``memo`` keeps each group's best for this agent across the picks of one routing pass
        (only this agent acts meanwhile; the caller drops the group it took from).
        """
        agent = rt.agent
        agent_id = agent.id
        takeable = rt.takeable
        if not takeable:
            return None
        best_key: tuple | None = None
        best_rec: InteractionRuntime | None = None
        best_prio = 0
        for queue_id, prio in rt.queue_order:
            if best_rec is not None and prio > best_prio:
                break
            queue = queues[queue_id]
            if agent.quality < queue.min_quality:
                continue
            entry: Entry | None = None
            groups = self._queues[queue_id].groups
            if groups:
                for channel in takeable:
                    for language in rt.language_keys:
                        key = (queue_id, channel, language)
                        if key in memo:
                            found = memo[key]
                        else:
                            group = groups.get((channel, language))
                            found = None if group is None else self._group_best(group, rt, by_seq)
                            memo[key] = found
                        if found is not None and (entry is None or found < entry):
                            entry = found
            for seq in rt.sticky:
                rec = by_seq[seq]
                if rec.queue is queue and not rec.excludes(agent_id):
                    _cid, cls = self.rec_class(rec)
                    if cls.channel in takeable and fits(agent, cls):
                        sticky_entry = rec.line_entry()
                        if entry is None or sticky_entry < entry:
                            entry = sticky_entry
            if entry is None:
                continue
            rec = by_seq[entry[2]]
            score_key = (-ranking.score_at(rec.neg_key, rec.rate, now), entry[1], entry[2])
            if best_key is None or score_key < best_key:
                best_key, best_rec, best_prio = score_key, rec, prio
        return best_rec

    def _group_best(
        self, group: ClassGroup, rt: AgentRuntime, by_seq: dict[int, InteractionRuntime]
    ) -> Entry | None:
        """The group's best entry for this agent: walk the class heads best first; the first
        class the agent fits gives it, unless the agent is excluded from that head, then that
        line is walked on and later heads still compete."""
        agent = rt.agent
        agent_id = agent.id
        fit_cache = rt.fit_cache
        classes = self.classes
        best: Entry | None = None
        for head, class_id in group.heads:
            if best is not None and head > best:
                break
            ok = fit_cache.get(class_id)
            if ok is None:
                ok = fit_cache[class_id] = fits(agent, classes[class_id])
            if not ok:
                continue
            excluded = by_seq[head[2]].excluded
            if excluded is None or agent_id not in excluded:
                return head if best is None or head < best else best
            for candidate in group.lines[class_id]:
                if best is not None and candidate > best:
                    break
                if not by_seq[candidate[2]].excludes(agent_id):
                    best = candidate
                    break
        return best
