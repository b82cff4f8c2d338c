"""``queues.yaml``: queues (requirements, relaxation steps, strategy, SLA, overflow) and numbers."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator

from cc_core.config.value_types import (
    Channel,
    ConfigModel,
    Did,
    Identifier,
    LanguageCode,
    NonEmpty,
    Proficiency,
    Score,
    Seconds,
    in_range,
)

Strategy = Literal[
    "longest_idle", "fewest_contacts", "least_talk_time", "round_robin", "best_skill", "random"
]
Exit = Literal["voicemail", "callback", "hangup"]

QueuePriority = Annotated[int, AfterValidator(in_range(0, 100, "a priority"))]
PriorityRate = Annotated[float, AfterValidator(in_range(0, 100, "a number"))]
Boost = Annotated[float, AfterValidator(in_range(0, 1000, "a number"))]
Percent = Annotated[float, AfterValidator(in_range(1, 100, "a percentage"))]
SlaSeconds = Annotated[int, AfterValidator(in_range(1, 3600, "a whole number of seconds"))]
StickyDays = Annotated[int, AfterValidator(in_range(1, 365, "a number of days"))]
RingTimeout = Annotated[int, AfterValidator(in_range(1, 600, "a whole number of seconds"))]
NoAnswerLimit = Annotated[int, AfterValidator(in_range(0, 20, "an integer"))]
WrapUp = Annotated[int, AfterValidator(in_range(0, 3600, "a whole number of seconds"))]


class Step(ConfigModel):
    """From ``after`` seconds of waiting, agents need at least these proficiencies.

    ``require: {}`` means any member agent; ``any_language`` drops the queue's language.
    """

    after: Seconds
    require: dict[Identifier, Proficiency] = {}
    any_language: bool = False


class Sla(ConfigModel):
    """Answer ``percent`` of contacts within ``seconds`` (e.g. 80/20)."""

    percent: Percent
    seconds: SlaSeconds


class Overflow(ConfigModel):
    """Where a contact goes after ``max_wait_seconds``: another queue or an exit, not both."""

    queue: Identifier | None = None
    exit: Exit | None = None


class Sticky(ConfigModel):
    """Prefer the agent who served this customer in the last ``days``, waiting at most
    ``max_wait_seconds`` for that agent to become free."""

    days: StickyDays
    max_wait_seconds: Seconds


class QualityGate(ConfigModel):
    """Agents whose edge-quality score is below ``min_score`` are skipped; ``weight`` is the
    share of the ranking given to the score (0 = strategy only)."""

    min_score: Score = 0.0
    weight: Score = 0.0


class Queue(ConfigModel):
    id: Identifier
    name: NonEmpty
    channels: list[Channel]
    language: LanguageCode | None = None
    # Either one fixed requirement or relaxation steps.
    require: dict[Identifier, Proficiency] | None = None
    steps: list[Step] | None = None
    strategy: Strategy = "longest_idle"
    seed: int | None = None
    priority: QueuePriority = 0
    aging_rate: PriorityRate = 0.0  # priority points gained per minute of waiting
    vip_boost: Boost = 0.0  # priority points added for VIP customers
    sla: Sla | None = None
    sla_aware: bool = False
    max_wait_seconds: Seconds | None = None
    overflow: Overflow | None = None
    wrap_up_seconds: WrapUp = 0
    sticky: Sticky | None = None
    quality: QualityGate = QualityGate()
    ring_timeout_seconds: RingTimeout | None = None  # None: the PBX's ring_timeout
    no_answer_limit: NoAnswerLimit = 2  # consecutive no-answers before not-ready; 0 = never
    csat_survey: bool = False

    def routing_steps(self) -> list[Step]:
        """The steps in force; a queue with only ``require`` has one step from time 0."""
        if self.steps:
            return list(self.steps)
        return [Step(after=0, require=dict(self.require or {}))]


class Number(ConfigModel):
    """A dialled number (DID) routed straight to a queue or to an IVR script."""

    did: Did
    queue: Identifier | None = None
    ivr: Identifier | None = None


class QueuesFile(ConfigModel):
    queues: list[Queue] = []
    numbers: list[Number] = []
