"""Seeded call traffic: Poisson arrivals per dialled number, callers who press keys in IVR
menus, wait with limited patience and hang up (abandon) when nobody answers in time."""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pbx.sim.inbound import inbound_call
from pbx.sim.pbx import Interrupted

if TYPE_CHECKING:
    from pbx.sim.channel import Channel
    from pbx.sim.pbx import Pbx

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class KeyPress:
    after: float  # simulated seconds after the call is answered (or after the previous press)
    digits: str


@dataclass(frozen=True, slots=True)
class NumberTraffic:
    number: str
    calls_per_minute: float
    keys: tuple[KeyPress, ...] = ()
    patience_mean: float = 120.0  # exponential; waiting longer than this unbridged -> abandon
    caller_prefix: str = "555"


@dataclass(slots=True)
class TrafficStats:
    offered: int = 0
    answered_by_agent: int = 0
    abandoned: int = 0
    completed: int = 0
    by_number: dict[str, int] = field(default_factory=dict)


class TrafficGenerator:
    def __init__(
        self,
        pbx: Pbx,
        numbers: list[NumberTraffic],
        *,
        context: str,
        trunk: str = "caller",
        seed: int = 1,
        max_calls: int | None = None,
    ) -> None:
        self.pbx = pbx
        self.numbers = numbers
        self.context = context
        self.trunk = trunk
        self.seed = seed
        # One generator per number, so arrivals on one number never shift those of another.
        self._rngs = {n.number: random.Random(f"{seed}:{n.number}") for n in numbers}
        self._seq: dict[str, int] = {}
        self.max_calls = max_calls
        self.stats = TrafficStats()
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self, duration: float | None = None) -> TrafficStats:
        """Generate calls for `duration` simulated seconds (forever when None)."""
        arrivals = [
            asyncio.create_task(self._arrivals(n, duration))
            for n in self.numbers
            if n.calls_per_minute > 0
        ]
        try:
            await asyncio.gather(*arrivals)
        finally:
            for t in arrivals:
                t.cancel()
        return self.stats

    async def _arrivals(self, traffic: NumberTraffic, duration: float | None) -> None:
        rate = traffic.calls_per_minute / 60.0
        rng = self._rngs[traffic.number]
        elapsed = 0.0
        while duration is None or elapsed < duration:
            gap = rng.expovariate(rate)
            elapsed += gap
            if duration is not None and elapsed >= duration:
                return
            await asyncio.sleep(gap * self.pbx.time_scale)
            if self.max_calls is not None and self.stats.offered >= self.max_calls:
                return
            self.place(traffic)

    def place(self, traffic: NumberTraffic) -> Channel:
        seq = self._seq[traffic.number] = self._seq.get(traffic.number, 0) + 1
        num = f"{traffic.caller_prefix}{traffic.number[-3:]:0>3}{seq:04d}"
        chan = inbound_call(
            self.pbx,
            traffic.number,
            context=self.context,
            trunk=self.trunk,
            caller_num=num,
            caller_name=f"Caller {num}",
        )
        self.stats.offered += 1
        self.stats.by_number[traffic.number] = self.stats.by_number.get(traffic.number, 0) + 1
        rng = self._rngs.setdefault(traffic.number, random.Random(f"{self.seed}:{traffic.number}"))
        mean = traffic.patience_mean
        patience = rng.expovariate(1.0 / mean) if mean > 0 else None
        chan.remote = asyncio.get_running_loop().create_task(self._caller(chan, traffic, patience))
        return chan

    async def _caller(self, chan: Channel, traffic: NumberTraffic, patience: float | None) -> None:
        """The person on the line: keys for the IVR, then waiting until served or fed up."""
        pbx = self.pbx
        start = pbx.clock()
        try:
            await chan.answered.wait()
            for press in traffic.keys:
                await _sleep(pbx, press.after)
                for digit in press.digits:
                    pbx.dtmf(chan, digit, "Received", 120)
                    await _sleep(pbx, 0.25)
            # Patience counts from arrival; being bridged to an agent ends the wait.
            while chan.bridge is None:
                if chan.hung_up:
                    return
                waited = (pbx.clock() - start) / max(pbx.time_scale, 1e-9)
                if patience is not None and waited >= patience:
                    self.stats.abandoned += 1
                    pbx.far_end_hangup(chan)  # the caller's BYE
                    return
                await _sleep(pbx, 0.5)
            self.stats.answered_by_agent += 1
            await chan.gone.wait()
            self.stats.completed += 1
        except (Interrupted, asyncio.CancelledError):
            return


async def _sleep(pbx: Pbx, seconds: float) -> None:
    await asyncio.sleep(seconds * pbx.time_scale)
