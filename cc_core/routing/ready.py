"""Agents with a free slot, indexed per (queue, channel) in each queue's strategy order.

An agent's entries are recomputed after every change to its presence, slots or counters and only
rewritten when they differ. An interaction looking for an agent walks one sorted list in
ranking order and takes the first agent with its language and skills.

A line is a plain list kept sorted with ``bisect`` while it is short (the usual case: the agents
of one queue with a free slot for one channel), and becomes a ``SortedList`` past ``BIG_LINE``
entries, where moving the list's memory on each insert would cost more than SortedList's
bookkeeping (measured: about 5,000 entries).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from sortedcontainers import SortedList

from cc_core.domain import AgentState, ChannelKind, Queue, Strategy
from cc_core.routing import ranking
from cc_core.routing.requirements import EligibilityClass, fits
from cc_core.routing.state import AgentRuntime, InteractionRuntime

Line = list[tuple] | SortedList
BIG_LINE = 2048


class ReadyAgents:
    __slots__ = ("_by_rank", "_index", "_primaries", "_queues", "_seed", "picks", "rr_last")

    def __init__(self, queues: dict[str, Queue], by_rank: list[AgentRuntime], seed: int) -> None:
        self._queues = queues  # shared with the engine
        self._by_rank = by_rank  # shared with the engine
        self._seed = seed
        self._index: dict[tuple, Line] = {}
        # Skills a best-skill queue ranks by that get their own (queue, channel, skill) index.
        self._primaries: dict[str, frozenset[str]] = {}
        # Both kept up by the engine at each offer:
        self.rr_last: dict[str, int] = {}  # rank of the agent each queue offered to last
        self.picks: dict[str, int] = {}  # offers made per queue: the random strategy's counter

    def add_queue(self, queue: Queue) -> None:
        self.rr_last[queue.id] = -1
        self.picks[queue.id] = 0
        self._primaries[queue.id] = frozenset(
            step.requirements[0].skill for step in queue.steps if step.requirements
        )

    def _plan(self, rt: AgentRuntime) -> tuple[tuple[Any, ...], bool, bool, bool]:
        """What the agent's entries are made of, per served queue it is good enough for:
        (index key per channel, strategy, quality term, best-skill keys per channel with the
        skill's ranking value), and which counters its entries depend on. Kept on the agent
        until its profile changes (queues never change)."""
        agent = rt.agent
        plan = []
        uses: set[Strategy] = set()
        for queue_id, _prio in rt.queue_order:
            queue = self._queues[queue_id]
            if agent.quality < queue.min_quality:
                continue
            strategy = queue.strategy
            uses.add(strategy)
            wq = queue.quality_weight * agent.quality
            keys = {channel: (queue_id, channel) for channel in rt.channels}
            skill_keys: dict[ChannelKind, tuple[tuple[tuple, float], ...]] = {}
            if strategy is Strategy.BEST_SKILL:
                levels = [
                    (skill, level)
                    for skill in self._primaries[queue_id]
                    if (level := agent.skills.get(skill)) is not None
                ]
                for channel in rt.channels:
                    skill_keys[channel] = tuple(
                        ((queue_id, channel, skill), -level - wq) for skill, level in levels
                    )
            plan.append((keys, strategy, wq, skill_keys))
        uses_idle = bool(uses - {Strategy.ROUND_ROBIN, Strategy.RANDOM})
        return (
            tuple(plan),
            uses_idle,
            Strategy.FEWEST_CONTACTS in uses,
            Strategy.LEAST_TALK_TIME in uses,
        )

    def _wanted(self, rt: AgentRuntime, plan: tuple[Any, ...]) -> list[tuple[tuple, tuple]]:
        """(index key, entry) pairs of a READY agent with a free slot: for each channel it
        has a free slot for, in each queue of its plan. The entries are ``ranking.agent_entry``
        written out per strategy (this runs after every offer and free)."""
        takeable = rt.takeable
        last, contacts, talk, rank = rt.last_activity, rt.contacts, rt.talk, rt.rank
        wanted: list[tuple[tuple, tuple]] = []
        add = wanted.append
        for keys, strategy, wq, skill_keys in plan:
            if strategy is Strategy.LONGEST_IDLE:
                entry: tuple = (last - wq, rank)
            elif strategy is Strategy.FEWEST_CONTACTS:
                entry = (contacts - wq, last, rank)
            elif strategy is Strategy.LEAST_TALK_TIME:
                entry = (talk - wq, last, rank)
            elif strategy is Strategy.BEST_SKILL:
                entry = (0 - wq, last, rank)  # agent_entry's level 0: -0 - wq
            else:  # ROUND_ROBIN, RANDOM
                entry = (rank,)
            for channel in takeable:
                add((keys[channel], entry))
                if skill_keys:
                    for key, value in skill_keys[channel]:
                        add((key, (value, last, rank)))
        return wanted

    def refresh(self, rt: AgentRuntime) -> None:
        """Bring the agent's index entries in line with its state (no-op when unchanged)."""
        if rt.presence is not AgentState.READY or not rt.takeable:
            if rt.entries:  # nothing wanted: the common case of an agent that just got busy
                self.unindex(rt)
            return
        plan = rt.ready_plan
        if plan is None:
            plan = rt.ready_plan = self._plan(rt)
        queues, uses_idle, uses_contacts, uses_talk = plan
        # The entries depend on these inputs only: unchanged (an accept, say), nothing to do.
        sig = (
            rt.takeable,
            rt.last_activity if uses_idle else None,
            rt.contacts if uses_contacts else None,
            rt.talk if uses_talk else None,
        )
        if sig == rt.ready_sig:
            return
        wanted = self._wanted(rt, queues)
        rt.ready_sig = sig
        if wanted == rt.entries:
            return
        self.unindex(rt)
        rt.ready_sig = sig
        ready = self._index
        for key, entry in wanted:
            line = ready.get(key)
            if line is None:
                ready[key] = [entry]
            elif type(line) is list:
                insort(line, entry)
                if len(line) > BIG_LINE:
                    ready[key] = SortedList(line)
            else:
                line.add(entry)
        rt.entries = wanted

    def unindex(self, rt: AgentRuntime) -> None:
        ready = self._index
        for key, entry in rt.entries:
            line = ready[key]
            if type(line) is list:
                i = bisect_left(line, entry)
                assert line[i] == entry, "ready index out of step with the agent's entries"
                del line[i]
            else:
                line.remove(entry)
            if not line:
                del ready[key]
        rt.entries = []
        rt.ready_sig = None

    def ranked(self, rec: InteractionRuntime, cls: EligibilityClass) -> Iterator[tuple]:
        queue = rec.queue
        skill_index = False
        if queue.strategy is Strategy.BEST_SKILL and cls.primary is not None:
            skill_index = cls.primary in self._primaries[queue.id]
        if skill_index:
            line = self._index.get((queue.id, cls.channel, cls.primary))
        else:
            line = self._index.get((queue.id, cls.channel))
        if not line:
            return iter(())
        if queue.strategy is Strategy.BEST_SKILL and cls.primary is not None and not skill_index:
            # The primary skill came from the interaction, not from a step: rank the queue's
            # ready agents by it on the spot (bounded by the agents ready right now).
            primary = cls.primary
            ranked = []
            for entry in line:
                rt = self._by_rank[entry[-1]]
                ranked.append(
                    ranking.agent_entry(
                        Strategy.BEST_SKILL,
                        queue.quality_weight,
                        rt.agent.quality,
                        rt.rank,
                        rt.last_activity,
                        0,
                        0.0,
                        rt.agent.skills.get(primary, 0),
                    )
                )
            ranked.sort()
            return iter(ranked)
        if queue.strategy is Strategy.RANDOM:
            return iter(self._random_pick(rec, cls, line))
        if queue.strategy is Strategy.ROUND_ROBIN:
            after = (self.rr_last[queue.id] + 1,)
            if type(line) is list:
                start = bisect_left(line, after)
                return _chain(islice(line, start, None), islice(line, start))
            start = line.bisect_left(after)
            return _chain(line.islice(start), line.islice(0, start))
        return iter(line)

    def _random_pick(
        self, rec: InteractionRuntime, cls: EligibilityClass, line: Line
    ) -> list[tuple]:
        """Uniform choice among the eligible agents in ``line`` (ready agents by rank).

        Draw positions; the first eligible agent drawn wins. After RANDOM_TRIES misses, the
        eligible agent with the smallest draw of its own id wins. Both are uniform over the
        eligible agents and fixed by the seed and the queue's pick count.
        """
        queue_id = rec.queue.id
        seed, pick = self._seed, self.picks[queue_id]
        size = len(line)
        for k in range(ranking.RANDOM_TRIES):
            entry = line[int(ranking.random_draw(seed, queue_id, pick, f"#{k}") * size)]
            rt = self._by_rank[entry[-1]]
            if fits(rt.agent, cls) and not rec.excludes(rt.agent.id):
                return [entry]
        drawn = [
            (ranking.random_draw(seed, queue_id, pick, rt.agent.id), entry)
            for entry in line
            if fits((rt := self._by_rank[entry[-1]]).agent, cls) and not rec.excludes(rt.agent.id)
        ]
        return [min(drawn)[1]] if drawn else []


def _chain(*parts: Iterable[tuple]) -> Iterator[tuple]:
    for part in parts:
        yield from part
