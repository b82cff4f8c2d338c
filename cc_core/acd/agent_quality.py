"""The agent's edge quality: what the agent's softphone measures (microphone noise floor and
background speech outside calls, the microphone's score during calls, RTP jitter, loss and
round-trip time, CPU load) combined into the 0..1 score the routing engine ranks and gates
agents by (``Engine.set_quality``; queues.yaml ``quality: {min_score, weight}``).

The score is a pure function of one report (`edge_score`), documented below and in
docs/softphone.md. `QualityDesk` applies it through the ACD's serial job loop, together with
the agent-side score the PBX media fork may measure (`on_agent_side_score`), and writes an
``agent_quality`` event with the figures, the score and each of the agent's queues' threshold.

Weights (parts missing from a report are left out and the rest re-weighted to sum to one):

    score = 0.25 * noise + 0.15 * background + 0.15 * mic + 0.35 * network + 0.10 * cpu

- ``noise``: the microphone's noise floor outside calls, ``logistic((-50 - dBFS) / 5)`` (the
  same curve as the stream score): 0.95 at -65 dBFS (quiet room), 0.27 at -45, 0.05 at -35.
- ``background``: share of microphone frames webrtcvad calls speech outside calls (colleagues
  talking nearby, a television): 1 up to 10 %, falling linearly to 0 at 50 %.
- ``mic``: the `cc_core.quality` stream score of the agent's microphone during a call.
- ``network``: the simplified ITU-T G.107 E-model (Cole and Rosenbluth) for G.711 with packet
  loss concealment: effective delay ``d = rtt / 2 + 2 * jitter + 10 ms``,
  ``Id = 0.024 d + 0.11 (d - 177.3) [d > 177.3]``, ``Ie = 95 * p / (p + 25.1)`` with ``p`` the
  loss in percent, ``R = 93.2 - Id - Ie``; the part is ``(R - 50) / 43.2`` clamped to 0..1
  (R 93.2: perfect; R 50: nearly every user dissatisfied).
- ``cpu``: the softphone machine's CPU busy share: 1 up to 70 %, 0 at 95 % (audio underruns).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from cc_core.logs import log_event
from cc_core.quality.score import noise_part
from cc_core.routing import Reason

if TYPE_CHECKING:
    from cc_core.acd.service import AcdService

log = logging.getLogger(__name__)

WEIGHTS: Mapping[str, float] = {
    "noise": 0.25,
    "background": 0.15,
    "mic": 0.15,
    "network": 0.35,
    "cpu": 0.10,
}
# A media-fork score older than this no longer counts (the call it came from is long over).
AGENT_SIDE_TTL_S = 60.0
# The engine is told of a change this large or larger (smaller ones only churn the index).
APPLY_STEP = 0.005
# An agent_quality event is written when the score moved this much, when the agent crossed a
# queue's threshold, or when the last one is this old: not for every report of every agent.
LOG_STEP = 0.05
LOG_EVERY_S = 60.0

# field -> (lowest, highest, what it is); every report figure is optional.
_RANGES: Mapping[str, tuple[float, float, str]] = {
    "noise_floor_dbfs": (-120.0, 0.0, "dBFS"),
    "speech_ratio": (0.0, 1.0, "a share"),
    "mic_score": (0.0, 1.0, "a score"),
    "jitter_ms": (0.0, 10_000.0, "milliseconds"),
    "loss_ratio": (0.0, 1.0, "a share"),
    "rtt_ms": (0.0, 60_000.0, "milliseconds"),
    "cpu_load": (0.0, 1.0, "a share of CPU time"),
}


class ReportError(ValueError):
    """A report field is missing its expected shape; the message names the field."""

    def __init__(self, name: str, expected: str, got: object) -> None:
        super().__init__(f"{name}: expected {expected}, got {got!r}")
        self.field = name


@dataclass(frozen=True, slots=True)
class EdgeReport:
    """What the softphone measured over its last few seconds. None: not measured."""

    noise_floor_dbfs: float | None = None  # microphone, outside calls
    speech_ratio: float | None = None  # microphone, outside calls (background voices)
    mic_score: float | None = None  # microphone stream score, during a call
    jitter_ms: float | None = None  # RTP, received stream of the current or last call
    loss_ratio: float | None = None
    rtt_ms: float | None = None
    cpu_load: float | None = None
    in_call: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None
        }


def parse_report(body: Mapping[str, Any]) -> EdgeReport:
    """An `EdgeReport` from a JSON object; unknown fields and values out of range are refused."""
    unknown = sorted(set(body) - {f.name for f in fields(EdgeReport)})
    if unknown:
        raise ReportError(
            unknown[0], "one of " + ", ".join(f.name for f in fields(EdgeReport)), unknown[0]
        )
    values: dict[str, Any] = {}
    for name, (low, high, what) in _RANGES.items():
        value = body.get(name)
        if value is None:
            continue
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or not low <= value <= high
        ):
            raise ReportError(name, f"{what}, a number in {low:g}..{high:g} or null", value)
        values[name] = float(value)
    in_call = body.get("in_call", False)
    if not isinstance(in_call, bool):
        raise ReportError("in_call", "true or false", in_call)
    return EdgeReport(**values, in_call=in_call)


def _falling(value: float, ok_until: float, zero_at: float) -> float:
    return min(1.0, max(0.0, (zero_at - value) / (zero_at - ok_until)))


def r_factor(rtt_ms: float, jitter_ms: float, loss_ratio: float) -> float:
    """The simplified E-model's R for G.711 with loss concealment (see the module text)."""
    delay = rtt_ms / 2.0 + 2.0 * jitter_ms + 10.0
    impairment_delay = 0.024 * delay + (0.11 * (delay - 177.3) if delay > 177.3 else 0.0)
    loss_pct = loss_ratio * 100.0
    impairment_loss = 95.0 * loss_pct / (loss_pct + 25.1)
    return 93.2 - impairment_delay - impairment_loss


def network_part(rtt_ms: float, jitter_ms: float, loss_ratio: float) -> float:
    return min(1.0, max(0.0, (r_factor(rtt_ms, jitter_ms, loss_ratio) - 50.0) / 43.2))


@dataclass(frozen=True, slots=True)
class EdgeScore:
    score: float
    parts: Mapping[str, float]  # the parts that were measured, each 0..1


def edge_score(report: EdgeReport) -> EdgeScore | None:
    """The 0..1 score of one report; None when it measured nothing."""
    parts: dict[str, float] = {}
    if report.noise_floor_dbfs is not None:
        parts["noise"] = noise_part(report.noise_floor_dbfs)
    if report.speech_ratio is not None:
        parts["background"] = _falling(report.speech_ratio, 0.10, 0.50)
    if report.mic_score is not None:
        parts["mic"] = report.mic_score
    network = (report.rtt_ms, report.jitter_ms, report.loss_ratio)
    if any(v is not None for v in network):
        # A figure the phone could not measure (RTT needs RTCP) counts as perfect.
        rtt, jitter, loss = (v or 0.0 for v in network)
        parts["network"] = network_part(rtt, jitter, loss)
    if report.cpu_load is not None:
        parts["cpu"] = _falling(report.cpu_load, 0.70, 0.95)
    if not parts:
        return None
    weight = sum(WEIGHTS[k] for k in parts)
    score = sum(WEIGHTS[k] * v for k, v in parts.items()) / weight
    return EdgeScore(min(1.0, max(0.0, score)), parts)


def combined(edge: float | None, agent_side: float | None) -> float | None:
    """The engine's score: the worse of the edge score and the media fork's agent-side score
    (either one alone is enough to keep a noisy agent from a demanding queue)."""
    known = [s for s in (edge, agent_side) if s is not None]
    return min(known) if known else None


def agent_token(secret: str, agent_id: str) -> str:
    """The agent's own bearer token for edge reports: HMAC-SHA256 of its id under the secret
    in acd.yaml (``api.agent_secret``). A token speaks for one agent only, and the ACD keeps
    no token list: an admin hands each softphone its token (``cc-phone token``)."""
    return hmac.new(secret.encode(), b"cc-agent:" + agent_id.encode(), hashlib.sha256).hexdigest()


def token_valid(secret: str, agent_id: str, presented: str) -> bool:
    return hmac.compare_digest(agent_token(secret, agent_id), presented)


def supervisor_token(secret: str) -> str:
    """The supervisors' (and channel desks') bearer token for any interaction's context; a
    different HMAC message than any agent's, so no agent token can pass for it."""
    return hmac.new(secret.encode(), b"cc-supervisor", hashlib.sha256).hexdigest()


def supervisor_token_valid(secret: str, presented: str) -> bool:
    return hmac.compare_digest(supervisor_token(secret), presented)


def offer_quality_fields(reason: Reason) -> dict[str, float]:
    """The quality side of an offer's reason, for the offer's journal entry."""
    return {"quality": round(reason.quality, 4), "min_quality": reason.min_quality}


@dataclass
class AgentQuality:
    """What the ACD knows of one agent's quality."""

    report: EdgeReport | None = None
    edge: EdgeScore | None = None
    reported_at: float | None = None
    agent_side: float | None = None
    agent_side_at: float | None = None
    applied: float | None = None  # last score given to the engine
    logged: float | None = None  # score in the last agent_quality event
    logged_at: float = float("-inf")
    eligible: dict[str, bool] = field(default_factory=dict)  # queue -> score >= minimum

    def as_json(self) -> dict[str, Any]:
        return {
            "score": self.applied,
            "edge_score": None if self.edge is None else round(self.edge.score, 4),
            "parts": {}
            if self.edge is None
            else {k: round(v, 4) for k, v in self.edge.parts.items()},
            "agent_side_score": self.agent_side,
            "report": None if self.report is None else self.report.to_json(),
            "reported_at": self.reported_at,
            "eligible": dict(self.eligible),
        }


class QualityDesk:
    """Edge reports and agent-side scores of one ACD, applied to its engine in job order."""

    def __init__(self, acd: AcdService) -> None:
        self.acd = acd
        self.agents: dict[str, AgentQuality] = {}
        self._minimums = {q.id: q.min_quality for q in acd.centre.queues}
        self._queues_of = {a.id: tuple(a.queues) for a in acd.centre.agents}

    async def report(self, agent_id: str, report: EdgeReport) -> dict[str, Any]:
        """Take one edge report (from the API); returns the agent's quality afterwards."""

        async def job() -> dict[str, Any]:
            entry = self.agents.setdefault(agent_id, AgentQuality())
            entry.report, entry.edge = report, edge_score(report)
            entry.reported_at = self.acd.now()
            await self._apply(agent_id, entry, "edge")
            return {"agent_id": agent_id, **entry.as_json()}

        return await self.acd.serial(job)

    def on_agent_side_score(self, agent_id: str, score: float) -> None:
        """The media fork's score of the agent's voice as the PBX hears it (0..1)."""
        if agent_id not in self._queues_of or not 0.0 <= score <= 1.0:
            log_event(
                log,
                "agent_quality.bad_agent_side_score",
                logging.WARNING,
                agent=agent_id,
                score=score,
            )
            return

        async def job() -> None:
            entry = self.agents.setdefault(agent_id, AgentQuality())
            entry.agent_side, entry.agent_side_at = float(score), self.acd.now()
            await self._apply(agent_id, entry, "agent_side")

        self.acd.submit(job)

    def snapshot(self, agent_id: str) -> dict[str, Any]:
        entry = self.agents.get(agent_id)
        return {"agent_id": agent_id, **(entry or AgentQuality()).as_json()}

    async def _apply(self, agent_id: str, entry: AgentQuality, source: str) -> None:
        now = self.acd.now()
        side = entry.agent_side
        if entry.agent_side_at is not None and now - entry.agent_side_at > AGENT_SIDE_TTL_S:
            side = None
        score = combined(None if entry.edge is None else entry.edge.score, side)
        if score is None:
            return
        score = round(score, 4)
        if entry.applied is None or abs(score - entry.applied) >= APPLY_STEP:
            entry.applied = score
            await self.acd.apply(self.acd.engine.set_quality(agent_id, score, now))
        eligible = {q: score >= self._minimums.get(q, 0.0) for q in self._queues_of[agent_id]}
        flipped = eligible != entry.eligible
        entry.eligible = eligible
        if (
            flipped
            or entry.logged is None
            or abs(score - entry.logged) >= LOG_STEP
            or now - entry.logged_at >= LOG_EVERY_S
        ):
            entry.logged, entry.logged_at = score, now
            await self.acd.journal.agent_event(
                agent_id,
                "quality",
                now,
                score=score,
                source=source,
                edge_score=None if entry.edge is None else round(entry.edge.score, 4),
                agent_side_score=side,
                parts={k: round(v, 4) for k, v in (entry.edge.parts if entry.edge else {}).items()},
                figures=None if entry.report is None else entry.report.to_json(),
                queues={
                    q: {"min_score": self._minimums.get(q, 0.0), "eligible": ok}
                    for q, ok in eligible.items()
                },
            )
