"""Two streams of one call: the agent's and the customer's audio, frame by frame.

Frames of the two sides are paired by position (frame k of each side is the same 20 ms of the
call), so both sides must use the same frame length. A side that is ahead waits for the
other. Dead air: neither side speaks nor plays a tone. Talk-over: both sides speak.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cc_core.quality.frames import AudioFormat
from cc_core.quality.score import call_score
from cc_core.quality.scorer import ScorerConfig, StreamScorer, StreamSnapshot
from cc_core.quality.vad import BoolArray


@dataclass(frozen=True)
class CallSnapshot:
    t: float  # seconds of the call paired on both sides
    agent: StreamSnapshot
    customer: StreamSnapshot
    dead_air_ratio: float  # share of the window with nobody speaking (tones are not dead air)
    dead_air_s: float  # length of the silence going on right now (0 while someone speaks)
    talk_over_ratio: float  # share of the speech time with both sides speaking
    score: float  # call_score(): the agent's stream score plus the conversation parts


class _Side:
    """Flags of one side waiting to be paired with the other side's."""

    def __init__(self) -> None:
        self.speech: list[BoolArray] = []
        self.active: list[BoolArray] = []
        self.count = 0

    def add(self, speech: BoolArray, tone: BoolArray) -> None:
        self.speech.append(speech)
        self.active.append(speech | tone)
        self.count += len(speech)

    def take(self, n: int) -> tuple[BoolArray, BoolArray]:
        speech, active = np.concatenate(self.speech), np.concatenate(self.active)
        self.speech, self.active = [speech[n:]], [active[n:]]
        self.count -= n
        return speech[:n], active[:n]


class CallScorer:
    def __init__(
        self,
        agent: AudioFormat,
        customer: AudioFormat,
        config: ScorerConfig | None = None,
    ) -> None:
        if agent.frame_ms != customer.frame_ms:
            raise ValueError(
                f"frame_ms: both sides of a call need the same frame length, got agent "
                f"{agent.frame_ms} ms and customer {customer.frame_ms} ms"
            )
        self.config = config or ScorerConfig()
        self.agent = StreamScorer(agent, self.config)
        self.customer = StreamScorer(customer, self.config)
        self._frame_s = agent.frame_seconds
        self._sides = (_Side(), _Side())
        self.agent.add_listener(self._sides[0].add)
        self.customer.add_listener(self._sides[1].add)
        self._size = max(1, round(self.config.window_s / self._frame_s))
        self._dead = np.zeros(self._size, dtype=bool)
        self._both = np.zeros(self._size, dtype=bool)
        self._any = np.zeros(self._size, dtype=bool)
        self._paired = 0
        self._dead_run = 0  # dead-air frames at the end of what is paired

    def push_agent(self, data: bytes | bytearray | memoryview) -> None:
        self.agent.push(data)
        self._pair()

    def push_customer(self, data: bytes | bytearray | memoryview) -> None:
        self.customer.push(data)
        self._pair()

    def _pair(self) -> None:
        n = min(self._sides[0].count, self._sides[1].count)
        if n == 0:
            return
        a_speech, a_active = self._sides[0].take(n)
        c_speech, c_active = self._sides[1].take(n)
        dead = ~(a_active | c_active)
        keep = min(n, self._size)
        at = np.arange(self._paired + n - keep, self._paired + n) % self._size
        self._dead[at] = dead[-keep:]
        self._both[at] = (a_speech & c_speech)[-keep:]
        self._any[at] = (a_speech | c_speech)[-keep:]
        self._paired += n
        if dead.all():
            self._dead_run += n
        else:
            self._dead_run = n - 1 - int(np.flatnonzero(~dead)[-1])

    def snapshot(self) -> CallSnapshot:
        agent, customer = self.agent.snapshot(), self.customer.snapshot()
        self._pair()
        n = min(self._paired, self._size)
        speaking = int(np.count_nonzero(self._any[:n]))
        dead_air = float(np.count_nonzero(self._dead[:n])) / n if n else 0.0
        talk_over = float(np.count_nonzero(self._both[:n])) / speaking if speaking else 0.0
        return CallSnapshot(
            t=self._paired * self._frame_s,
            agent=agent,
            customer=customer,
            dead_air_ratio=dead_air,
            dead_air_s=self._dead_run * self._frame_s,
            talk_over_ratio=talk_over,
            score=call_score(agent.score, dead_air, talk_over),
        )
