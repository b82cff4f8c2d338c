"""Offered traffic for the simulation: Poisson arrivals, handle times, caller patience.

Every call is drawn up front from a seeded generator, one independent stream per queue, so
that two routing strategies are compared on exactly the same callers (common random numbers):
the same arrival instants, the same handle times and the same patience.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = ["Call", "HandleTime", "QueueTraffic", "generate_calls"]

Distribution = Literal["exponential", "lognormal", "constant"]


def _positive(where: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{where}: expected a number, got {type(value).__name__}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{where}: expected a finite number > 0, got {value!r}")


@dataclass(frozen=True, slots=True)
class HandleTime:
    """Handle-time distribution with mean `mean` seconds.

    `cv` (coefficient of variation, std / mean) shapes the lognormal; exponential has cv 1 and
    constant has cv 0 by definition, so `cv` is ignored for them.
    """

    kind: Distribution = "exponential"
    mean: float = 180.0
    cv: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in ("exponential", "lognormal", "constant"):
            raise ValueError(
                f"handle_time.kind: expected exponential, lognormal or constant, got {self.kind!r}"
            )
        _positive("handle_time.mean", self.mean)
        _positive("handle_time.cv", self.cv)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        if self.kind == "exponential":
            return rng.exponential(self.mean, size)
        if self.kind == "constant":
            return np.full(size, float(self.mean))
        # Lognormal parameters that give the requested mean and coefficient of variation.
        sigma2 = math.log1p(self.cv**2)
        mu = math.log(self.mean) - sigma2 / 2
        return rng.lognormal(mu, math.sqrt(sigma2), size)


@dataclass(frozen=True, slots=True)
class QueueTraffic:
    """What callers of one queue do: how often they come, how long they talk, how long they
    are willing to wait (exponential patience with mean `patience_mean`; None waits forever)."""

    queue: str
    calls_per_hour: float
    handle_time: HandleTime = HandleTime()
    patience_mean: float | None = None

    def __post_init__(self) -> None:
        if not self.queue:
            raise ValueError("queue: expected a queue name, got an empty string")
        _positive(f"{self.queue}.calls_per_hour", self.calls_per_hour)
        if self.patience_mean is not None:
            _positive(f"{self.queue}.patience_mean", self.patience_mean)

    @property
    def load(self) -> float:
        """Offered load in erlangs."""
        return self.calls_per_hour / 3600.0 * self.handle_time.mean


@dataclass(frozen=True, slots=True)
class Call:
    """One simulated caller: when it arrives, how long it would talk, how long it would wait."""

    id: str
    queue: str
    arrival: float
    handle_time: float
    patience: float  # math.inf when the caller never hangs up while waiting


def generate_calls(traffic: Sequence[QueueTraffic], duration: float, seed: int) -> list[Call]:
    """All calls arriving in [0, duration) for every queue, ordered by arrival time."""
    _positive("duration", duration)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed: expected an int >= 0, got {seed!r}")
    names = [t.queue for t in traffic]
    if len(set(names)) != len(names):
        raise ValueError(f"traffic: each queue may appear once, got {names}")
    calls: list[Call] = []
    for spec in traffic:
        # A stream per queue keyed by its name: adding or reordering queues leaves the calls
        # of the others unchanged (crc32 because str hash() is salted per process).
        rng = np.random.default_rng([seed, zlib.crc32(spec.queue.encode())])
        rate = spec.calls_per_hour / 3600.0
        # Poisson process: exponential gaps. Draw in blocks until past the horizon.
        arrivals: list[float] = []
        now = 0.0
        block = max(16, int(rate * duration * 1.1) + 16)
        while now < duration:
            for gap in rng.exponential(1.0 / rate, block):
                now += float(gap)
                if now >= duration:
                    break
                arrivals.append(now)
        count = len(arrivals)
        handles = spec.handle_time.sample(rng, count)
        if spec.patience_mean is None:
            patiences = np.full(count, math.inf)
        else:
            patiences = rng.exponential(spec.patience_mean, count)
        calls.extend(
            Call(
                id=f"{spec.queue}-{i:06d}",
                queue=spec.queue,
                arrival=arrivals[i],
                handle_time=float(handles[i]),
                patience=float(patiences[i]),
            )
            for i in range(count)
        )
    calls.sort(key=lambda c: (c.arrival, c.id))
    return calls
