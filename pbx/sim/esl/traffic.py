"""Generated callers for the FreeSWITCH flavour: seeded Poisson arrivals per number, key
presses once the call is answered, and callers who give up when nobody answers in time."""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass, field

from pbx.sim.esl.channel import FsChannel
from pbx.sim.esl.switch import FsSwitch

log = logging.getLogger("pbx.sim.esl")


@dataclass(frozen=True)
class KeyPress:
    after: float
    digits: str


@dataclass(frozen=True)
class NumberTraffic:
    number: str
    calls_per_minute: float
    keys: tuple[KeyPress, ...] = ()
    patience_mean: float | None = 120.0


@dataclass
class TrafficStats:
    placed: int = 0
    abandoned: int = 0
    bridged: int = 0
    by_number: dict[str, int] = field(default_factory=dict)


class FsTraffic:
    def __init__(
        self,
        sw: FsSwitch,
        numbers: list[NumberTraffic],
        context: str = "ccplane",
        seed: int = 1,
        max_calls: int | None = None,
    ) -> None:
        self.sw = sw
        self.numbers = numbers
        self.context = context
        self.rng = random.Random(seed)
        self.max_calls = max_calls
        self.stats = TrafficStats()
        self._callers: set[asyncio.Task[None]] = set()

    async def run(self, duration: float | None = None) -> TrafficStats:
        await asyncio.gather(*(self._arrivals(n, duration) for n in self.numbers))
        if self._callers:
            await asyncio.gather(*self._callers, return_exceptions=True)
        return self.stats

    async def _arrivals(self, traffic: NumberTraffic, duration: float | None) -> None:
        if traffic.calls_per_minute <= 0:
            return
        elapsed = 0.0
        while True:
            gap = self.rng.expovariate(traffic.calls_per_minute / 60.0)
            elapsed += gap
            if duration is not None and elapsed > duration:
                return
            if self.max_calls is not None and self.stats.placed >= self.max_calls:
                return
            await self.sw.sleep(gap)
            self.place(traffic)

    def place(self, traffic: NumberTraffic) -> FsChannel:
        caller = f"555{self.rng.randrange(10**7):07d}"
        ch = self.sw.inbound_call(traffic.number, caller, context=self.context)
        self.stats.placed += 1
        self.stats.by_number[traffic.number] = self.stats.by_number.get(traffic.number, 0) + 1
        patience = (
            self.rng.expovariate(1 / traffic.patience_mean) if traffic.patience_mean else None
        )
        task = asyncio.ensure_future(self._caller(ch, traffic, patience))
        self._callers.add(task)
        task.add_done_callback(self._callers.discard)
        return ch

    async def _caller(self, ch: FsChannel, traffic: NumberTraffic, patience: float | None) -> None:
        sw = self.sw
        await ch.answered.wait()
        for key in traffic.keys:
            await sw.sleep(key.after)
            if not ch.up:
                return
            sw.send_dtmf(ch, key.digits, 100, "RTP")
        if patience is None:
            return
        await sw.sleep(patience)
        # Still waiting for an agent (not bridged): the caller gives up.
        if ch.up and ch.other is None:
            self.stats.abandoned += 1
            await sw.hangup(ch, "ORIGINATOR_CANCEL")
        elif ch.other is not None:
            self.stats.bridged += 1
