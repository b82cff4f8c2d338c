"""Two sides of one call: dead air and talk-over, on espeak-ng speech over sox noise."""

from __future__ import annotations

import numpy as np
import pytest

from cc_core.quality import g711
from cc_core.quality.call import CallScorer
from cc_core.quality.frames import AudioFormat, Encoding
from cc_core.quality.scorer import ScorerConfig, StreamScorer
from cc_core.quality.vad import BoolArray
from tests.quality import audio
from tests.quality.audio import Samples
from tests.quality.conftest import Corpus

RATE = 8000
WHOLE = ScorerConfig(window_s=60.0)


def silence(seconds: float) -> Samples:
    return np.zeros(int(seconds * RATE), dtype=np.int16)


def with_room_noise(corpus: Corpus, x: Samples, seed_shift: int) -> Samples:
    """Add pink noise at -60 dBFS, as a quiet line would carry."""
    hiss = np.roll(audio.fit(corpus.noise["pinknoise", RATE], len(x)), seed_shift)
    return audio.to_int16(x + audio.scale_to(hiss, -60.0))


def sides(corpus: Corpus, agent_parts: list[Samples], customer_parts: list[Samples]):  # type: ignore[no-untyped-def]
    agent = with_room_noise(corpus, np.concatenate(agent_parts), 0)
    customer = with_room_noise(corpus, np.concatenate(customer_parts), 12345)
    assert len(agent) == len(customer)
    return agent, customer


def flags_of(x: Samples) -> BoolArray:
    """Speech-or-tone flags of one side scored on its own."""
    got: list[BoolArray] = []
    scorer = StreamScorer(AudioFormat(RATE), WHOLE)
    scorer.add_listener(lambda speech, tone: got.append(speech | tone))
    scorer.push(x.tobytes())
    scorer.flush()
    return np.concatenate(got)


def run_call(agent: Samples, customer: Samples, chunk: int = 320) -> CallScorer:
    call = CallScorer(AudioFormat(RATE), AudioFormat(RATE), WHOLE)
    a, c = agent.tobytes(), customer.tobytes()
    for i in range(0, len(a), chunk):  # 20 ms of each side in turn, as RTP would come
        call.push_agent(a[i : i + chunk])
        call.push_customer(c[i : i + chunk])
    return call


def test_dead_air_between_turns(corpus: Corpus) -> None:
    speech = corpus.speech[RATE]
    first, second = speech[: 4 * RATE], speech[4 * RATE : 8 * RATE]
    agent, customer = sides(
        corpus,
        [first, silence(3), silence(4), silence(2)],
        [silence(4), silence(3), second, silence(2)],
    )
    snap = run_call(agent, customer).snapshot()
    a, c = flags_of(agent), flags_of(customer)
    n = min(len(a), len(c))
    expected = float(np.mean(~(a[:n] | c[:n])))
    assert snap.dead_air_ratio == pytest.approx(expected, abs=0.01)
    # 3 s of silence between the turns and 2 s at the end, of 13 s; VAD hangover eats a bit.
    assert 0.3 < snap.dead_air_ratio < 0.5
    assert 1.5 < snap.dead_air_s <= 2.0  # the silence going on at the end
    assert snap.talk_over_ratio < 0.02
    assert snap.agent.speech_ratio > 0.2 and snap.customer.speech_ratio > 0.2


def test_talk_over(corpus: Corpus) -> None:
    speech = corpus.speech[RATE]
    agent, customer = sides(
        corpus, [speech[: 4 * RATE], silence(2)], [silence(2), speech[6 * RATE : 10 * RATE]]
    )
    snap = run_call(agent, customer).snapshot()
    a, c = flags_of(agent), flags_of(customer)
    n = min(len(a), len(c))
    both, either = a[:n] & c[:n], a[:n] | c[:n]
    assert snap.talk_over_ratio == pytest.approx(both.sum() / either.sum(), abs=0.01)
    assert 0.2 < snap.talk_over_ratio < 0.4  # 2 s of 6 s of speech, less the pauses
    assert snap.dead_air_s < 0.5


def test_call_score_prefers_a_conversation(corpus: Corpus) -> None:
    speech = corpus.speech[RATE]
    turns = run_call(
        *sides(corpus, [speech[: 5 * RATE], silence(5)], [silence(5), speech[5 * RATE : 10 * RATE]])
    )
    silent = run_call(*sides(corpus, [speech[: 2 * RATE], silence(8)], [silence(10)]))
    assert silent.snapshot().dead_air_ratio > 0.7
    assert turns.snapshot().score > silent.snapshot().score


def test_sides_are_paired_by_frame_whatever_the_arrival(corpus: Corpus) -> None:
    speech = corpus.speech[RATE]
    agent, customer = sides(
        corpus, [speech[: 6 * RATE], silence(4)], [silence(3), speech[6 * RATE : 13 * RATE]]
    )
    interleaved = run_call(agent, customer).snapshot()
    # All of the agent first, then the customer in odd-sized pieces.
    call = CallScorer(AudioFormat(RATE), AudioFormat(RATE, Encoding.PCM16), WHOLE)
    call.push_agent(agent.tobytes())
    assert call.snapshot().t == 0.0  # nothing paired while the customer side is missing
    data = customer.tobytes()
    for i in range(0, len(data), 999):
        call.push_customer(data[i : i + 999])
    late = call.snapshot()
    assert late.dead_air_ratio == interleaved.dead_air_ratio
    assert late.talk_over_ratio == interleaved.talk_over_ratio
    assert late.t == interleaved.t
    mixed = CallScorer(AudioFormat(RATE, Encoding.ULAW), AudioFormat(RATE), WHOLE)
    mixed.push_agent(g711.encode_ulaw(agent).tobytes())
    mixed.push_customer(customer.tobytes())
    # And with the agent side in u-law.
    assert abs(mixed.snapshot().dead_air_ratio - interleaved.dead_air_ratio) < 0.02


def test_tones_are_not_dead_air(corpus: Corpus) -> None:
    agent, customer = sides(corpus, [corpus.ringback[: 3 * RATE]], [silence(3)])
    snap = run_call(agent, customer).snapshot()
    assert snap.agent.tone and snap.dead_air_ratio < 0.05 and snap.talk_over_ratio == 0.0


def test_frame_lengths_must_match() -> None:
    with pytest.raises(
        ValueError, match="frame_ms: both sides of a call need the same frame length"
    ):
        CallScorer(AudioFormat(8000, frame_ms=20), AudioFormat(16000, frame_ms=30))
