"""Expected wait of a caller in line, and the average handle time it is estimated from.

Pure: the ACD feeds observed handle times in and reads estimates out (hold announcements).

    expected wait = ceil(position * average handle time / max(1, agents serving the queue))

The average is a moving one per queue: the mean of the last ``window`` handle times (talk
plus wrap-up) observed, the configured default until the queue has any.
"""

from __future__ import annotations

import math
from collections import deque

DEFAULT_WINDOW = 20


def expected_wait(position: int, handle_seconds: float, agents: int) -> int:
    """Whole seconds until the caller at ``position`` (1 = next) is likely served."""
    if position < 1:
        raise ValueError(f"position must be 1 or more, got {position!r}")
    if not math.isfinite(handle_seconds) or handle_seconds <= 0:
        raise ValueError(f"handle time must be positive seconds, got {handle_seconds!r}")
    return math.ceil(position * handle_seconds / max(1, agents))


def spoken_minutes(seconds: int) -> int:
    """Seconds as the hold announcement says them: whole minutes, rounded up."""
    return -(-seconds // 60)


class HandleTimes:
    """Per queue, the moving average of observed handle times (seconds)."""

    __slots__ = ("_default", "_seen", "_window")

    def __init__(self, default_seconds: float, window: int = DEFAULT_WINDOW) -> None:
        if not math.isfinite(default_seconds) or default_seconds <= 0:
            raise ValueError(f"default handle time must be positive, got {default_seconds!r}")
        if window < 1:
            raise ValueError(f"window must be 1 or more, got {window!r}")
        self._default = float(default_seconds)
        self._window = window
        self._seen: dict[str, deque[float]] = {}

    def observe(self, queue_id: str, seconds: float) -> bool:
        """Count one handled call; a negative or non-finite time (a clock step) is ignored
        and answers False."""
        if not math.isfinite(seconds) or seconds < 0:
            return False
        seen = self._seen.get(queue_id)
        if seen is None:
            seen = self._seen[queue_id] = deque(maxlen=self._window)
        seen.append(float(seconds))
        return True

    def average(self, queue_id: str) -> float:
        """The queue's moving average, the default before any observation. Never below one
        second: a run of zero-length calls must not promise an instant answer."""
        seen = self._seen.get(queue_id)
        if not seen:
            return self._default
        return max(1.0, sum(seen) / len(seen))
