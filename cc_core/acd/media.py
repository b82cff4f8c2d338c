"""Live call scores from the PBX media fork: per call and per side (customer, agent).

The PBX streams each answered call's two directions to the ACD (Asterisk: ``AudioSocket``
forks started by the shipped dialplan, see dialplan/asterisk/README.md; FreeSWITCH: a stereo
recording the ACD follows, `pbx.freeswitch.media_fork`, which opens both sides at once with
`MediaMonitor.open_call`). Each stream names
itself by a UUID both sides can compute: the MD5 of ``<interaction id>:<side>`` written as a
UUID (`fork_uuid`); the dialplan builds the same string with ``${MD5()}``, so no registry is
needed and a stream of an unknown call is refused.

What happens with the audio: a `cc_core.quality.CallScorer` per call; every ``CHECK_S`` of
audio a snapshot; a ``quality`` event (the call's and each side's figures) goes into the
interaction's event log at most every ``event_every_seconds`` unless the score moved by
``min_change``; the latest is published on the live-state channel ``quality`` and kept as
the call's live figures (``LiveState.set_call_quality``, removed when the forks close); a score
(call's or a side's) below ``low_score`` for ``low_score_seconds`` of audio, or
``dead_air_seconds`` of silence, writes a ``quality_alert`` event and publishes it on the
live-state channel ``alerts`` (supervisors). Thresholds: acd.yaml ``quality:``.

The agent side's stream score also goes to `on_agent_side_score(agent_id, score)`, the hook
the agent quality feed (`cc_core.acd.agent_quality`) listens on.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cc_core.config.acd_file import QualityAlerts
from cc_core.logs import log_event
from cc_core.quality import AudioFormat, CallScorer, CallSnapshot, Encoding, Publisher
from cc_core.quality.scorer import StreamSnapshot
from cc_core.store.live import LiveStateError

if TYPE_CHECKING:
    from cc_core.acd.service import AcdService

log = logging.getLogger(__name__)

SIDES = ("customer", "agent")
CHECK_S = 0.5  # audio seconds between two snapshots of a call (the scorer's block)
FRAME_MS = 20  # AudioSocket sends 20 ms frames
QUALITY_CHANNEL = "quality"
# A call's figures in the live state outlive their last update by this much at most (a fork
# that died without closing does not leave them there for ever).
LIVE_TTL_S = 60.0
ALERTS_CHANNEL = "alerts"

AgentSideHook = Callable[[str, float], None]


def fork_uuid(interaction_id: str, side: str) -> uuid.UUID:
    """The UUID the dialplan gives the ``side`` fork of ``interaction_id``."""
    if side not in SIDES:
        raise ValueError(f"side: got {side!r}, expected one of {', '.join(SIDES)}")
    digest = hashlib.md5(f"{interaction_id}:{side}".encode(), usedforsecurity=False)
    return uuid.UUID(hex=digest.hexdigest())


def _side_figures(snap: StreamSnapshot) -> dict[str, Any]:
    def r(value: float | None, digits: int = 3) -> float | None:
        return None if value is None else round(value, digits)

    return {
        "score": r(snap.score),
        "speech_ratio": r(snap.speech_ratio),
        "noise_floor_dbfs": r(snap.noise_floor_dbfs, 1),
        "snr_db": r(snap.snr_db, 1),
        "clipping_ratio": r(snap.clipping_ratio, 4),
        "tone": snap.tone,
        "seconds": r(snap.t, 2),
    }


def figures(snap: CallSnapshot) -> dict[str, Any]:
    """What a ``quality`` event holds: the call's figures and each side's."""
    return {
        "t": round(snap.t, 2),
        "score": round(snap.score, 3),
        "dead_air_s": round(snap.dead_air_s, 2),
        "dead_air_ratio": round(snap.dead_air_ratio, 3),
        "talk_over_ratio": round(snap.talk_over_ratio, 3),
        "customer": _side_figures(snap.customer),
        "agent": _side_figures(snap.agent),
    }


@dataclass
class _Watch:
    """A threshold kept for ``seconds`` of audio before it alerts; re-armed on recovery."""

    since: float | None = None
    alerted: bool = False

    def update(self, low: bool, t: float, seconds: float) -> bool:
        """True once when the condition has held for ``seconds``."""
        if not low:
            self.since, self.alerted = None, False
            return False
        if self.since is None:
            self.since = t
        if not self.alerted and t - self.since >= seconds - 1e-9:
            self.alerted = True
            return True
        return False


@dataclass
class CallMedia:
    """The scorer and alert state of one call's fork."""

    interaction_id: str
    queue: str | None
    agent_id: str | None
    rate: int
    scorer: CallScorer
    publisher: Publisher[CallSnapshot]
    open_sides: set[str] = field(default_factory=set)
    next_check: float = CHECK_S
    watches: dict[str, _Watch] = field(default_factory=dict)
    dead_air_alerted: bool = False
    last: CallSnapshot | None = None

    @property
    def audio_s(self) -> float:
        return max(self.scorer.agent.seconds, self.scorer.customer.seconds)


class _Sink:
    """One side's AudioSocket stream feeding its call."""

    def __init__(self, monitor: MediaMonitor, call: CallMedia, side: str) -> None:
        self.monitor, self.call, self.side = monitor, call, side

    def audio(self, pcm: bytes, rate: int) -> None:
        self.monitor.audio(self.call, self.side, pcm, rate)

    def closed(self, reason: str) -> None:
        self.monitor.side_closed(self.call, self.side, reason)


@dataclass
class _CallSinks:
    """Both sides of one call fed together (a stereo source)."""

    customer: _Sink
    agent: _Sink

    def audio(self, customer: bytes, agent: bytes, rate: int) -> None:
        self.customer.monitor.audio_pair(self.customer.call, customer, agent, rate)

    def closed(self, reason: str) -> None:
        self.customer.closed(reason)
        self.agent.closed(reason)


class MediaMonitor:
    """Scores the forked audio of the ACD's calls; plugged into an AudioSocket server as its
    ``open_stream``. Runs on the ACD's event loop; journal writes go through the service."""

    def __init__(self, acd: AcdService, settings: QualityAlerts | None = None) -> None:
        self.acd = acd
        self.settings = settings or QualityAlerts()
        self.calls: dict[str, CallMedia] = {}
        self.latest: dict[str, dict[str, Any]] = {}  # interaction id -> last quality figures
        self.on_agent_side_score: AgentSideHook | None = None
        self._known: dict[uuid.UUID, tuple[str, str]] = {}
        self.events = 0
        self.alerts = 0

    # ------------------------------------------------------------------ streams

    def _lookup(self, stream_id: uuid.UUID) -> tuple[str, str] | None:
        found = self._known.get(stream_id)
        if found is not None:
            return found
        # Rebuilt from the calls in progress: two hashes per call, only when a stream is new
        # to the cache, and ended calls drop out instead of piling up.
        self._known = {
            fork_uuid(record.interaction_id, side): (record.interaction_id, side)
            for record in self.acd.calls
            for side in SIDES
        }
        return self._known.get(stream_id)

    def open_stream(self, stream_id: uuid.UUID, peer: object) -> _Sink | None:
        found = self._lookup(stream_id)
        if found is None:
            return None
        interaction_id, side = found
        call = self.calls.get(interaction_id)
        if call is None:
            record = self.acd.calls.get(interaction_id)
            call = self._new_call(
                interaction_id,
                record.queue if record is not None else None,
                record.agent_id if record is not None else None,
            )
        if side in call.open_sides:
            log_event(
                log, "media.duplicate_fork", logging.WARNING, interaction=interaction_id, side=side
            )
            return None
        call.open_sides.add(side)
        log_event(log, "media.fork_opened", interaction=interaction_id, side=side)
        return _Sink(self, call, side)

    def open_call(self, interaction_id: str, rate: int) -> _CallSinks | None:
        """Both sides of a call at once, from one source that keeps them in step (the
        FreeSWITCH fork's stereo recording, `pbx.freeswitch.media_fork`). None: no such
        call here, or it is already being scored."""
        record = self.acd.calls.get(interaction_id)
        if record is None or interaction_id in self.calls:
            if record is not None:
                log_event(log, "media.duplicate_fork", logging.WARNING, interaction=interaction_id)
            return None
        call = self._new_call(interaction_id, record.queue, record.agent_id, rate)
        call.open_sides.update(SIDES)
        log_event(log, "media.fork_opened", interaction=interaction_id, side="both", rate=rate)
        return _CallSinks(_Sink(self, call, "customer"), _Sink(self, call, "agent"))

    def call_alive(self, interaction_id: str) -> bool:
        return self.acd.calls.get(interaction_id) is not None

    def _new_call(
        self, interaction_id: str, queue: str | None, agent_id: str | None, rate: int = 8000
    ) -> CallMedia:
        s = self.settings
        fmt = AudioFormat(rate, Encoding.PCM16, FRAME_MS)
        call = CallMedia(
            interaction_id, queue, agent_id, rate, CallScorer(fmt, fmt),
            Publisher(lambda snap: self._emit(call, snap), cadence_s=s.event_every_seconds,
                      min_change=s.min_change),
            watches={"call": _Watch(), "customer": _Watch(), "agent": _Watch()},
        )  # fmt: skip
        self.calls[interaction_id] = call
        return call

    def audio(self, call: CallMedia, side: str, pcm: bytes, rate: int) -> None:
        if rate != call.rate:
            # The scorer pairs both sides frame by frame in one format; Asterisk's AudioSocket
            # application sends 8 kHz slin unless the channel was set up otherwise.
            raise ValueError(f"{side} audio at {rate} Hz; expected {call.rate} Hz (slin)")
        if side == "agent":
            call.scorer.push_agent(pcm)
        else:
            call.scorer.push_customer(pcm)
        if call.audio_s >= call.next_check - 1e-9:
            call.next_check = call.audio_s + CHECK_S
            self._check(call, call.scorer.snapshot())

    def audio_pair(self, call: CallMedia, customer: bytes, agent: bytes, rate: int) -> None:
        """Both sides in step: pushed together, checked every ``CHECK_S`` of audio however
        much arrives at once (a recording read after a pause)."""
        if rate != call.rate:
            raise ValueError(f"audio at {rate} Hz; expected {call.rate} Hz")
        if len(customer) != len(agent):
            raise ValueError(f"customer {len(customer)} bytes, agent {len(agent)}: not in step")
        step = int(rate * CHECK_S) * 2
        for at in range(0, len(customer), step):
            call.scorer.push_customer(customer[at : at + step])
            call.scorer.push_agent(agent[at : at + step])
            if call.audio_s >= call.next_check - 1e-9:
                call.next_check = call.audio_s + CHECK_S
                self._check(call, call.scorer.snapshot())

    def side_closed(self, call: CallMedia, side: str, reason: str) -> None:
        call.open_sides.discard(side)
        log_event(
            log,
            "media.fork_closed",
            interaction=call.interaction_id,
            side=side,
            reason=reason,
            seconds=round(call.audio_s, 2),
        )
        if call.open_sides:
            return
        self.calls.pop(call.interaction_id, None)
        if call.audio_s > 0:
            snap = call.scorer.snapshot()
            if call.publisher.last is None or snap.t > call.publisher.last.t:
                self._emit(call, snap, final=True)
        self.latest.pop(call.interaction_id, None)

    # ------------------------------------------------------------------ scores and alerts

    def _check(self, call: CallMedia, snap: CallSnapshot) -> None:
        call.last = snap
        call.publisher.offer(snap)
        s = self.settings
        t = call.audio_s
        for scope, score, heard in (
            ("call", snap.score, snap.t > 0),
            ("customer", snap.customer.score, snap.customer.t > 0),
            ("agent", snap.agent.score, snap.agent.t > 0),
        ):
            low = heard and score < s.low_score
            if call.watches[scope].update(low, t, s.low_score_seconds):
                self._alert(
                    call,
                    snap,
                    "low_score",
                    scope=scope,
                    score=round(score, 3),
                    threshold=s.low_score,
                    seconds=s.low_score_seconds,
                )
        if snap.dead_air_s >= s.dead_air_seconds:
            if not call.dead_air_alerted:
                call.dead_air_alerted = True
                self._alert(
                    call,
                    snap,
                    "dead_air",
                    dead_air_s=round(snap.dead_air_s, 2),
                    threshold=s.dead_air_seconds,
                )
        else:
            call.dead_air_alerted = False

    def _who(self, call: CallMedia) -> tuple[str | None, str | None]:
        record = self.acd.calls.get(call.interaction_id)
        if record is not None:
            call.queue, call.agent_id = record.queue, record.agent_id or call.agent_id
        return call.queue, call.agent_id

    def _emit(self, call: CallMedia, snap: CallSnapshot, *, final: bool = False) -> None:
        data = figures(snap)
        if final:
            data["final"] = True
        queue, agent_id = self._who(call)
        self.latest[call.interaction_id] = data
        self.events += 1
        self._record("quality", call, data, queue, agent_id)
        if self.on_agent_side_score is not None and agent_id and snap.agent.t > 0:
            try:
                self.on_agent_side_score(agent_id, snap.agent.score)
            except Exception:
                log.exception("agent-side score hook failed for %s", agent_id)

    def _alert(self, call: CallMedia, snap: CallSnapshot, kind: str, **details: Any) -> None:
        queue, agent_id = self._who(call)
        data = {"kind": kind, "t": round(snap.t, 2), "score": round(snap.score, 3), **details}
        self.alerts += 1
        log_event(
            log,
            "media.quality_alert",
            logging.WARNING,
            interaction=call.interaction_id,
            kind=kind,
            agent=agent_id or "",
        )
        self._record("quality_alert", call, data, queue, agent_id)

    def _record(
        self,
        event: str,
        call: CallMedia,
        data: dict[str, Any],
        queue: str | None,
        agent_id: str | None,
    ) -> None:
        acd = self.acd
        at = acd.now()
        acd.journal.fact(
            event, data, interaction_id=call.interaction_id, queue=queue, agent_id=agent_id, at=at
        )
        message = {
            "event": event,
            "interaction_id": call.interaction_id,
            "queue": queue,
            "agent_id": agent_id,
            "at": at,
            **data,
        }
        channel = ALERTS_CHANNEL if event == "quality_alert" else QUALITY_CHANNEL
        interaction_id = call.interaction_id
        final = bool(data.get("final"))

        async def publish() -> None:
            await acd.journal.publish(channel, message)
            if event != "quality":
                return
            # The latest figures of calls being scored, for the wallboard and other nodes.
            try:
                if final:
                    await acd.live.remove_call_quality(interaction_id)
                else:
                    await acd.live.set_call_quality(interaction_id, message, LIVE_TTL_S)
            except LiveStateError as exc:
                log_event(
                    log,
                    "media.live_failed",
                    logging.WARNING,
                    interaction=interaction_id,
                    error=str(exc),
                )

        acd.submit(publish)
