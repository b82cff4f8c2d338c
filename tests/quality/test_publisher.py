"""Publishing at a cadence of audio time and on change, driven by real audio."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from cc_core.quality.call import CallScorer, CallSnapshot
from cc_core.quality.frames import AudioFormat
from cc_core.quality.publisher import CallFeed, Publisher, StreamFeed
from cc_core.quality.scorer import ScorerConfig, StreamScorer, StreamSnapshot
from tests.quality import audio
from tests.quality.conftest import Corpus

CHUNK = 320  # 20 ms of 8 kHz PCM16, as an RTP packet would bring


def feed(target: StreamFeed, data: bytes) -> None:
    for i in range(0, len(data), CHUNK):
        target.push(data[i : i + CHUNK])


def test_cadence_when_steady_then_early_on_change(corpus: Corpus) -> None:
    # 8.6 s: the change falls between two cadence ticks.
    quiet = audio.to_int16(audio.scale_to(corpus.noise["pinknoise", 8000], -65.0))[:68800]
    loud = corpus.clipped[: 3 * 8000]  # speech through sox "gain 20": heavy clipping
    got: list[StreamSnapshot] = []
    stream = StreamFeed(
        StreamScorer(AudioFormat(), ScorerConfig(window_s=2.0)),
        Publisher(got.append, cadence_s=1.0, min_change=0.05),
    )
    feed(stream, quiet.tobytes())
    steady = [s.t for s in got]
    # Steady noise: the first snapshot, then one per second of audio.
    gaps = np.diff(steady)
    assert len(steady) >= 7 and np.allclose(gaps, 1.0, atol=1e-6), steady
    before = len(got)
    feed(stream, loud.tobytes())
    k = next(i for i in range(before, len(got)) if got[i].score < got[before - 1].score - 0.05)
    # The clipping is published within a check interval (0.5 s) plus the decision lag of its
    # start at 8.6 s, before the next cadence tick.
    assert got[k].t - 8.6 <= 0.5 + 0.1
    assert got[k].t - got[k - 1].t < 1.0 - 1e-6
    assert all(b.t > a.t for a, b in itertools.pairwise(got))


def test_tone_flag_change_is_published(corpus: Corpus) -> None:
    got: list[StreamSnapshot] = []
    stream = StreamFeed(
        StreamScorer(AudioFormat(), ScorerConfig(window_s=1.0)),
        Publisher(got.append, cadence_s=10.0, min_change=1.0, flag=lambda s: s.tone),
    )
    speech = corpus.speech[8000][: 3 * 8000]
    feed(stream, np.concatenate([speech, corpus.ringback[: 3 * 8000]]).tobytes())
    flags = [s.tone for s in got]
    # Only the first snapshot and the flag flip: cadence and score change are out of reach.
    assert flags == [False, True]
    assert 3.0 < got[1].t < 4.0


def test_call_feed_publishes_call_snapshots(corpus: Corpus) -> None:
    got: list[CallSnapshot] = []
    call = CallFeed(CallScorer(AudioFormat(), AudioFormat()), Publisher(got.append, cadence_s=1.0))
    agent = corpus.speech[8000][: 4 * 8000].tobytes()
    customer = bytes(len(agent))
    for i in range(0, len(agent), CHUNK):
        call.push_agent(agent[i : i + CHUNK])
        call.push_customer(customer[i : i + CHUNK])
    assert len(got) >= 4
    assert all(isinstance(s, CallSnapshot) for s in got)
    assert got[-1].agent.speech_ratio > 0.5 and got[-1].customer.speech_ratio == 0.0


def test_settings_errors_name_the_field() -> None:
    with pytest.raises(ValueError, match="cadence_s: expected seconds > 0"):
        Publisher(print, cadence_s=0)
    with pytest.raises(ValueError, match="min_change"):
        Publisher(print, min_change=0)
    with pytest.raises(ValueError, match="check_s"):
        StreamFeed(StreamScorer(AudioFormat()), Publisher(print), check_s=-1)
