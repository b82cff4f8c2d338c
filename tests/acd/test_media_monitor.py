"""The media monitor on its own: which streams it takes, when alerts fire and re-arm, and what a
`quality` event holds. Real audio, fed straight into the monitor (no PBX, no sockets)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from cc_core.acd.media import MediaMonitor, _Watch, fork_uuid
from cc_core.config.acd_file import QualityAlerts
from tests.quality.audio import read_wav, speak

FRAME = 320  # 20 ms of 8 kHz slin


@dataclass
class Record:
    interaction_id: str
    queue: str = "sales"
    agent_id: str | None = "ann"


class Calls(list[Record]):
    def get(self, interaction_id: str) -> Record | None:
        return next((r for r in self if r.interaction_id == interaction_id), None)


@dataclass
class Journal:
    facts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def fact(self, event: str, data: dict[str, Any], **where: Any) -> None:
        self.facts.append((event, data))

    async def publish(self, channel: str, data: dict[str, Any]) -> None:
        return None


@dataclass
class Acd:
    """What the monitor uses of the service: its calls, journal, clock and job queue."""

    calls: Calls
    journal: Journal = field(default_factory=Journal)
    jobs: int = 0

    def now(self) -> float:
        return 1_763_700_000.0

    def submit(self, job: Any) -> None:
        self.jobs += 1
        job().close()  # the live-state writes are the e2e test's business


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    samples, _ = read_wav(speak(tmp_path_factory.mktemp("mon") / "speech.wav"))
    return np.resize(samples, 8000 * 8).astype("<i2").tobytes()  # 8 s


def test_a_watch_fires_once_after_its_time_and_rearms_on_recovery() -> None:
    w = _Watch()
    assert [w.update(True, t, 2.0) for t in (0.0, 1.0, 1.5)] == [False, False, False]
    assert w.update(True, 2.0, 2.0) is True
    assert w.update(True, 5.0, 2.0) is False  # once per episode
    assert w.update(False, 5.5, 2.0) is False
    assert w.update(True, 6.0, 2.0) is False
    assert w.update(True, 8.0, 2.0) is True  # a new episode alerts again


def test_streams_of_unknown_calls_and_second_streams_of_a_side_are_refused() -> None:
    acd = Acd(Calls([Record("01JA")]))
    monitor = MediaMonitor(acd)  # type: ignore[arg-type]
    assert monitor.open_stream(uuid.uuid4(), None) is None
    assert monitor.open_stream(fork_uuid("01JB", "agent"), None) is None
    first = monitor.open_stream(fork_uuid("01JA", "agent"), None)
    assert first is not None
    assert monitor.open_stream(fork_uuid("01JA", "agent"), None) is None
    assert monitor.open_stream(fork_uuid("01JA", "customer"), None) is not None
    with pytest.raises(ValueError, match="16000 Hz; expected 8000 Hz"):
        first.audio(bytes(FRAME * 2), 16000)


def test_silence_on_both_sides_is_dead_air_once_and_a_final_event_closes(speech: bytes) -> None:
    acd = Acd(Calls([Record("01JA")]))
    settings = QualityAlerts(event_every_seconds=2, dead_air_seconds=3, low_score=0.0)
    monitor = MediaMonitor(acd, settings)  # type: ignore[arg-type]
    scores: list[tuple[str, float]] = []
    monitor.on_agent_side_score = lambda agent, score: scores.append((agent, score))
    customer = monitor.open_stream(fork_uuid("01JA", "customer"), None)
    agent = monitor.open_stream(fork_uuid("01JA", "agent"), None)
    assert customer is not None and agent is not None
    one_second = speech[: 8000 * 2]
    silence = bytes(8000 * 2 * 8)
    for pcm in (one_second, silence):  # both talk for a second, then 8 s of silence
        for k in range(0, len(pcm), FRAME):
            customer.audio(pcm[k : k + FRAME], 8000)
            agent.audio(pcm[k : k + FRAME], 8000)
    alerts = [d for e, d in acd.journal.facts if e == "quality_alert"]
    assert [a["kind"] for a in alerts] == ["dead_air"]
    assert 3.0 <= alerts[0]["dead_air_s"] < 4.0
    agent.closed("hangup")
    assert "01JA" in monitor.calls  # the customer's stream is still open
    customer.closed("hangup")
    quality = [d for e, d in acd.journal.facts if e == "quality"]
    assert quality[-1]["final"] is True and "01JA" not in monitor.calls
    assert not any(d.get("final") for d in quality[:-1])
    # Cadence: 9 s of audio at one event per 2 s (plus changes), not one per 0.5 s check.
    assert 4 <= len(quality) <= 10
    # Decisions lag the audio by the tone detector's 60 ms.
    assert quality[-1]["dead_air_s"] >= 7.5 and 8.9 <= quality[-1]["customer"]["seconds"] <= 9.0
    assert scores and all(agent == "ann" and 0 <= s <= 1 for agent, s in scores)
