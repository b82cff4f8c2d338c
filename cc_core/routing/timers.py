"""The engine's wake-up list: a heap of due times with lazy invalidation.

Entries are never removed when they go stale (an answered offer, a hung-up call); they are
skipped when they reach the top. Ties at the same instant fire in (kind, ordinal) order so the
outcome never depends on scheduling order.
"""

from __future__ import annotations

import enum
import functools
import heapq
import math
from collections.abc import Callable


class TimerKind(enum.IntEnum):
    OFFER_TIMEOUT = 0  # ordinal: offer id
    WRAP_UP_END = 1  # ordinal: wrap-up id
    STICKY_END = 2  # ordinal: interaction sequence number
    STEP = 3  # ordinal: interaction sequence number
    MAX_WAIT = 4  # ordinal: interaction sequence number


Timer = tuple[float, int, int, int]  # (due, kind, ordinal, epoch)
OFFER_TIMEOUT = int(TimerKind.OFFER_TIMEOUT)


class Timers:
    __slots__ = ("_heap", "heap", "push_entry")

    def __init__(self) -> None:
        self._heap: list[Timer] = []
        # For the engine's hot path: the heap itself (read-only: its top is the next due
        # time) and a C-level push of a ready-made (due, kind, ordinal, epoch) entry.
        self.heap = self._heap
        self.push_entry = functools.partial(heapq.heappush, self._heap)

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, due: float, kind: int, ordinal: int, epoch: int = 0) -> None:
        """``kind``: a ``TimerKind`` or its int value (the heap holds plain ints)."""
        heapq.heappush(self._heap, (due, int(kind), ordinal, epoch))

    def first_due(self) -> float:
        """Due time of the heap's top entry, stale or not (infinity when empty)."""
        heap = self._heap
        return heap[0][0] if heap else math.inf

    def next_due(self, valid: Callable[[Timer], bool]) -> float | None:
        """Earliest due time of a still-valid timer; stale heads are dropped on the way."""
        heap = self._heap
        while heap and not valid(heap[0]):
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def pop_due(self, now: float, valid: Callable[[Timer], bool]) -> Timer | None:
        """Remove and return the earliest valid timer due at or before ``now``."""
        heap = self._heap
        while heap and heap[0][0] <= now:
            timer = heapq.heappop(heap)
            if valid(timer):
                return timer
        return None
