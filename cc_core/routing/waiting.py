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

from cc_core.domain import ChannelKind

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
