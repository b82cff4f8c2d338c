"""Waiting interactions of one queue, grouped for fast lookup by an agent.

Entries are ``(negated key, arrival, seq)``, best first. Interactions are grouped by channel,
then language; inside a group there is one line (a heap) per eligibility class (the skills
needed at the current step) and ``heads`` holds each line's first entry. Each agent keeps, per
queue and channel, the groups of the languages it speaks together with the classes it fits
there, valid until a new group or class line of that channel appears in the queue; looking for
work it compares the heads of those classes only, so classes it cannot take cost nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from heapq import heapify, heappop, heappush
from typing import Any

from cc_core.domain import ChannelKind, Queue
from cc_core.routing.requirements import EligibilityClass, describe, eligibility_class, fits
from cc_core.routing.state import AgentRuntime, InteractionRuntime

Entry = tuple[float, float, int]
_UNSEEN: Any = object()  # a group not looked at yet in this routing pass
GroupKey = tuple[ChannelKind, str | None]


class ClassGroup:
    """The lines of one (channel, language) group, one per eligibility class.

    A line is a binary heap (``heapq``): taking the best, the usual removal, is one C-level pop.
    Any other removal (a hang-up in line, a step change, a transfer) marks the entry dead in
    ``dead`` instead; dead entries are dropped when they reach the top, and the line is
    rebuilt without them when they outnumber half of it. The top of a heap is never dead, so
    ``heads`` (the first live entry of each line) is always its top.
    """

    __slots__ = ("dead", "heads", "lines")

    def __init__(self) -> None:
        self.lines: dict[int, list[Entry]] = {}
        self.heads: dict[int, Entry] = {}  # class id -> first entry of its line
        self.dead: dict[int, set[Entry]] = {}  # class id -> removed entries still in the heap

    def add(self, class_id: int, entry: Entry) -> bool:
        """Add an entry; True when it opens a line for a class the group did not hold."""
        line = self.lines.get(class_id)
        if line is None:
            self.lines[class_id] = [entry]
            self.heads[class_id] = entry
            return True
        dead = self.dead.get(class_id)
        if dead and entry in dead:
            dead.remove(entry)  # back before its old copy left the heap: that copy lives again
        else:
            heappush(line, entry)
        if entry < self.heads[class_id]:
            self.heads[class_id] = entry
        return False

    def remove(self, class_id: int, entry: Entry) -> None:
        line = self.lines[class_id]
        if entry == self.heads[class_id]:
            heappop(line)  # the usual case: the best is taken
            dead = self.dead.get(class_id)
            if dead:
                while line and line[0] in dead:
                    dead.remove(heappop(line))
            if line:
                self.heads[class_id] = line[0]
            else:
                del self.lines[class_id]
                del self.heads[class_id]
                self.dead.pop(class_id, None)
            return
        dead = self.dead.get(class_id)
        if dead is None:
            dead = self.dead[class_id] = set()
        dead.add(entry)
        if 2 * len(dead) > len(line) + 64:
            # Mostly dead: rebuild, so a line nobody takes from cannot grow without bound.
            live = [e for e in line if e not in dead]
            heapify(live)
            self.lines[class_id] = live
            del self.dead[class_id]

    def live(self, class_id: int) -> list[Entry]:
        """The live entries of a line, in heap order (not sorted)."""
        line = self.lines[class_id]
        dead = self.dead.get(class_id)
        return [e for e in line if e not in dead] if dead else list(line)

    def in_order(self, class_id: int) -> Iterator[Entry]:
        """The live entries of a line, best first, produced lazily (k entries cost
        O(k log k)): a walk of the heap's tree in order of its values."""
        line = self.lines[class_id]
        dead = self.dead.get(class_id)
        size = len(line)
        frontier = [(line[0], 0)]
        while frontier:
            entry, i = heappop(frontier)
            if not dead or entry not in dead:
                yield entry
            child = 2 * i + 1
            if child < size:
                heappush(frontier, (line[child], child))
                if child + 1 < size:
                    heappush(frontier, (line[child + 1], child + 1))


class ChannelFit:
    """What one agent fits in one queue for one channel: the groups (one per language it
    speaks, plus "any language") with the ids of their classes it fits. Hashed by identity:
    the routing pass memoizes the best entry per ChannelFit."""

    __slots__ = ("channel", "groups")

    def __init__(
        self, channel: ChannelKind, groups: tuple[tuple[ClassGroup, tuple[int, ...]], ...]
    ) -> None:
        self.channel = channel
        self.groups = groups


# What the agent-side search returns: the record, its line entry, the group holding it and the
# agent's ChannelFit it was found through (both None for a sticky interaction, in no line).
Found = tuple[InteractionRuntime, Entry, ClassGroup | None, ChannelFit | None]


class QueueLines:
    """All waiting (non-sticky) interactions of one queue, per channel and language."""

    __slots__ = ("by_channel", "versions")

    def __init__(self) -> None:
        self.by_channel: dict[ChannelKind, dict[str | None, ClassGroup]] = {}
        # Per channel, bumped whenever a group or a class line of that channel appears: an
        # agent's view of what it fits in this queue on a channel is valid while the
        # channel's version is unchanged (lines that empty only shrink it). Never reset.
        self.versions: dict[ChannelKind, int] = {}

    def add(self, key: GroupKey, class_id: int, entry: Entry) -> None:
        channel, language = key
        groups = self.by_channel.get(channel)
        if groups is None:
            groups = self.by_channel[channel] = {}
        group = groups.get(language)
        if group is None:
            group = groups[language] = ClassGroup()
        if group.add(class_id, entry):
            self.versions[channel] = self.versions.get(channel, 0) + 1

    def remove(self, key: GroupKey, class_id: int, entry: Entry) -> None:
        channel, language = key
        groups = self.by_channel[channel]
        group = groups[language]
        group.remove(class_id, entry)
        if not group.lines:
            del groups[language]
            if not groups:
                del self.by_channel[channel]


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

    def lined(self, queue_id: str) -> list[Entry]:
        """The entries of every waiting interaction of the queue held in a line (sticky ones
        are not), unsorted."""
        entries: list[Entry] = []
        for groups in self._queues[queue_id].by_channel.values():
            for group in groups.values():
                for class_id in group.lines:
                    entries.extend(group.live(class_id))
        return entries

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
        memo: dict[ChannelFit, tuple[Entry, ClassGroup] | None],
    ) -> Found | None:
        """The waiting interaction this agent should take next, if any (see ``Found``).

        Queues in the agent's priority order; within one priority, each queue's best entry it
        can take, then the highest score now, then earliest arrival, then arrival order.
        ``memo`` keeps the best per queue and channel for this agent across the picks of one
        routing pass (only this agent acts meanwhile; the caller drops the one it took from).
        """
        takeable = rt.takeable
        if not takeable:
            return None
        agent = rt.agent
        agent_id = agent.id
        plan = rt.plan
        if plan is None:
            plan = rt.plan = self._plan(rt, queues)
        sticky = rt.sticky
        best_key: tuple | None = None
        best: Found | None = None
        best_prio = 0
        for prio, queue, lines, queue_fit in plan:
            if best is not None and prio > best_prio:
                break
            entry: Entry | None = None
            entry_group: ClassGroup | None = None
            entry_fit: ChannelFit | None = None
            by_channel = lines.by_channel
            if by_channel:
                for channel in takeable:
                    groups = by_channel.get(channel)
                    if groups is None:
                        continue
                    version = lines.versions[channel]
                    cached = queue_fit.get(channel)
                    if cached is None or cached[0] != version:
                        cached = queue_fit[channel] = (version, self._fitting(channel, groups, rt))
                    fit = cached[1]
                    if fit is None:
                        continue
                    found = memo.get(fit, _UNSEEN)
                    if found is _UNSEEN:
                        found = memo[fit] = _fit_best(fit, agent_id, by_seq)
                    if found is not None and (entry is None or found[0] < entry):
                        entry, entry_group = found
                        entry_fit = fit
            if sticky:
                for seq in sticky:
                    rec = by_seq[seq]
                    if rec.queue is queue and not rec.excludes(agent_id):
                        _cid, cls = self.rec_class(rec)
                        if cls.channel in takeable and fits(agent, cls):
                            sticky_entry = rec.line_entry()
                            if entry is None or sticky_entry < entry:
                                entry = sticky_entry
                                entry_group = entry_fit = None
            if entry is None:
                continue
            rec = by_seq[entry[2]]
            # (-score now, arrival, seq): -score_at(neg_key, rate, now) is neg_key - rate * now
            score_key = (rec.neg_key - rec.rate * now, entry[1], entry[2])
            if best_key is None or score_key < best_key:
                best_key, best, best_prio = score_key, (rec, entry, entry_group, entry_fit), prio
        return best

    def take(self, rec: InteractionRuntime, entry: Entry, group: ClassGroup) -> None:
        """Remove ``rec`` (``entry``, in ``group``, as found by ``best_for``) from its line."""
        class_id = rec.cls
        assert class_id is not None
        group.remove(class_id, entry)
        if not group.lines:
            cls = self.classes[class_id]
            by_channel = self._queues[rec.queue.id].by_channel
            groups = by_channel[cls.channel]
            del groups[cls.language]
            if not groups:
                del by_channel[cls.channel]
        rec.cls = None

    def _plan(self, rt: AgentRuntime, queues: dict[str, Queue]) -> tuple[Any, ...]:
        """The agent's served queues in its order, resolved, without those whose minimum
        quality it is below (queues and their lines are never replaced): (priority, queue,
        lines, the agent's per-channel view of what it fits there, filled as it looks)."""
        quality = rt.agent.quality
        return tuple(
            (prio, queue, self._queues[queue_id], rt.queue_fit.setdefault(queue_id, {}))
            for queue_id, prio in rt.queue_order
            if quality >= (queue := queues[queue_id]).min_quality
        )

    def _fitting(
        self, channel: ChannelKind, groups: dict[str | None, ClassGroup], rt: AgentRuntime
    ) -> ChannelFit | None:
        """The queue's groups of ``channel`` in the languages the agent speaks (and "any
        language"), each with the classes the agent fits; None when it fits none."""
        agent = rt.agent
        fit_cache = rt.fit_cache
        classes = self.classes
        fitting = []
        for language in rt.language_keys:
            group = groups.get(language)
            if group is None:
                continue
            class_ids = []
            for class_id in group.lines:
                ok = fit_cache.get(class_id)
                if ok is None:
                    ok = fit_cache[class_id] = fits(agent, classes[class_id])
                if ok:
                    class_ids.append(class_id)
            if class_ids:
                fitting.append((group, tuple(class_ids)))
        return ChannelFit(channel, tuple(fitting)) if fitting else None


def _fit_best(
    fit: ChannelFit, agent_id: str, by_seq: dict[int, InteractionRuntime]
) -> tuple[Entry, ClassGroup] | None:
    """The best entry for this agent among its fitting classes of one queue and channel, and
    its group: the smallest head that does not exclude the agent (an excluded head sends the
    search down that line)."""
    best: Entry | None = None
    best_group: ClassGroup | None = None
    for group, class_ids in fit.groups:
        heads = group.heads
        for class_id in class_ids:
            head = heads.get(class_id)
            if head is None or (best is not None and head > best):
                continue  # the line emptied since the list was made, or cannot win
            excluded = by_seq[head[2]].excluded
            if excluded is None or agent_id not in excluded:
                best, best_group = head, group
                continue
            candidate = _past_excluded(group.in_order(class_id), best, agent_id, by_seq)
            if candidate is not best:
                best, best_group = candidate, group
    if best is None:
        return None
    assert best_group is not None
    return best, best_group


def _past_excluded(
    line: Iterable[Entry],
    best: Entry | None,
    agent_id: str,
    by_seq: dict[int, InteractionRuntime],
) -> Entry | None:
    """The first entry of ``line`` that does not exclude the agent if it beats ``best``,
    else ``best`` (the line's head excludes the agent: rare, after a reject or no-answer)."""
    for candidate in line:
        if best is not None and candidate > best:
            break
        if not by_seq[candidate[2]].excludes(agent_id):
            return candidate
    return best
