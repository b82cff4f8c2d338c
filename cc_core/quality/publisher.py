"""When to publish scores: at a fixed cadence of audio time, and early on a real change.

Plain callbacks, no I/O: whoever owns the stream decides where a published snapshot goes
(the routing engine's ``set_quality``, a wallboard, a metrics gauge).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

from cc_core.quality.call import CallScorer, CallSnapshot
from cc_core.quality.scorer import StreamScorer, StreamSnapshot


class Scored(Protocol):
    @property
    def t(self) -> float: ...
    @property
    def score(self) -> float: ...


S = TypeVar("S", bound=Scored)


class Publisher(Generic[S]):
    """Emits a snapshot when ``cadence_s`` of audio passed since the last emission, or when
    the score moved by ``min_change`` or more, or when ``flag`` of the snapshot changed."""

    def __init__(
        self,
        emit: Callable[[S], None],
        cadence_s: float = 1.0,
        min_change: float = 0.05,
        flag: Callable[[S], object] | None = None,
    ) -> None:
        if not cadence_s > 0:
            raise ValueError(f"cadence_s: expected seconds > 0, got {cadence_s!r}")
        if not 0 < min_change <= 1:
            raise ValueError(f"min_change: expected 0 < x <= 1, got {min_change!r}")
        self._emit = emit
        self.cadence_s = cadence_s
        self.min_change = min_change
        self._flag = flag
        self.last: S | None = None

    def offer(self, snap: S) -> bool:
        """Emit ``snap`` if it is due; returns whether it was emitted."""
        last = self.last
        due = (
            last is None
            or snap.t - last.t >= self.cadence_s - 1e-9
            or abs(snap.score - last.score) >= self.min_change
            or (self._flag is not None and self._flag(snap) != self._flag(last))
        )
        if due:
            self.last = snap
            self._emit(snap)
        return due


class StreamFeed:
    """A stream scorer whose snapshots go through a publisher as audio arrives.

    A snapshot is taken every ``check_s`` of audio (at most once per analysed block, so
    ``ScorerConfig.analysis_ms`` bounds it too): on-change emissions lag a change by about
    that much.
    """

    def __init__(
        self, scorer: StreamScorer, publisher: Publisher[StreamSnapshot], check_s: float = 0.5
    ) -> None:
        if not check_s > 0:
            raise ValueError(f"check_s: expected seconds > 0, got {check_s!r}")
        self.scorer = scorer
        self.publisher = publisher
        self._check_s = check_s
        self._next = 0.0

    def push(self, data: bytes | bytearray | memoryview) -> None:
        if self.scorer.push(data) and self.scorer.seconds >= self._next - 1e-9:
            self._next = self.scorer.seconds + self._check_s
            self.publisher.offer(self.scorer.snapshot())


class CallFeed:
    """A call scorer whose snapshots go through a publisher as either side's audio arrives."""

    def __init__(
        self, scorer: CallScorer, publisher: Publisher[CallSnapshot], check_s: float = 0.5
    ) -> None:
        if not check_s > 0:
            raise ValueError(f"check_s: expected seconds > 0, got {check_s!r}")
        self.scorer = scorer
        self.publisher = publisher
        self._check_s = check_s
        self._next = 0.0

    def push_agent(self, data: bytes | bytearray | memoryview) -> None:
        self.scorer.push_agent(data)
        self._check()

    def push_customer(self, data: bytes | bytearray | memoryview) -> None:
        self.scorer.push_customer(data)
        self._check()

    def _check(self) -> None:
        paired = min(self.scorer.agent.seconds, self.scorer.customer.seconds)
        if paired >= self._next - 1e-9 and paired > 0:
            self._next = paired + self._check_s
            self.publisher.offer(self.scorer.snapshot())
