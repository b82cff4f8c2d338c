"""The stream scorer on espeak-ng speech mixed with sox noise at known SNRs and levels."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from cc_core.quality import g711
from cc_core.quality.frames import AudioFormat, Encoding
from cc_core.quality.scorer import ScorerConfig, StreamScorer, StreamSnapshot
from tests.quality import audio
from tests.quality.audio import Samples
from tests.quality.conftest import Corpus

LADDER = (30, 20, 10, 5, 0)
NOISES = ("whitenoise", "pinknoise", "brownnoise")
WHOLE = ScorerConfig(window_s=60.0)  # the test clips are ~16 s: score all of each


def score(x: Samples, rate: int = 8000, config: ScorerConfig = WHOLE) -> StreamSnapshot:
    scorer = StreamScorer(AudioFormat(rate), config)
    scorer.push(x.tobytes())
    return scorer.snapshot()


@pytest.mark.parametrize("rate", [8000, 16000])
@pytest.mark.parametrize("kind", NOISES)
def test_snr_ladder(corpus: Corpus, kind: str, rate: int) -> None:
    speech = corpus.speech[rate]
    snaps = {}
    for snr in LADDER:
        mix, noise_dbfs = audio.mix_at_snr(speech, corpus.noise[kind, rate], rate, snr)
        snaps[snr] = snap = score(mix, rate)
        assert snap.snr_db is not None
        if snr >= 10:
            assert abs(snap.snr_db - snr) <= 6.0, (snr, snap)
            assert abs(snap.noise_floor_dbfs - noise_dbfs) <= 3.0, (snr, noise_dbfs, snap)
    # More noise, lower score: strictly, all the way down the ladder; likewise the SNR.
    scores = [snaps[s].score for s in LADDER]
    assert all(a > b for a, b in itertools.pairwise(scores)), scores
    estimates = [snaps[s].snr_db for s in LADDER]
    assert all(a > b for a, b in itertools.pairwise(estimates)), estimates  # type: ignore[operator]


@pytest.mark.parametrize("kind", NOISES)
@pytest.mark.parametrize("level", [-60.0, -45.0, -35.0])
def test_noise_floor_of_noise_alone(corpus: Corpus, kind: str, level: float) -> None:
    snap = score(audio.to_int16(audio.scale_to(corpus.noise[kind, 8000], level)))
    assert abs(snap.noise_floor_dbfs - level) <= 3.0
    if level <= -45.0:  # quiet noise is not speech (loud steady noise can be, for webrtcvad)
        assert snap.speech_ratio < 0.05
        assert snap.snr_db is None  # a few VAD slips make no speech level
    # The score follows the noise level.
    assert (
        snap.score
        < score(audio.to_int16(audio.scale_to(corpus.noise[kind, 8000], level - 10))).score
    )


def test_clean_continuous_speech(corpus: Corpus) -> None:
    snap = score(corpus.speech[8000])
    assert snap.speech_ratio > 0.85
    assert snap.tone_ratio == 0.0 and not snap.tone
    assert snap.clipping_ratio == 0.0
    assert snap.snr_db is not None and snap.snr_db > 40
    assert snap.score > 0.9


@pytest.mark.parametrize("name", ["ringback", "ringback_us", "dtmf"])
def test_tone_only_stream_is_flagged_not_speech(corpus: Corpus, name: str) -> None:
    snap = score(getattr(corpus, name))
    assert snap.tone
    assert snap.speech_ratio < 0.03
    assert snap.snr_db is None


def test_clipping_raises_the_ratio_and_lowers_the_score(corpus: Corpus) -> None:
    # Speech 15 dB over pink noise, then the same through sox "gain 20" (clips at full scale).
    mix, _ = audio.mix_at_snr(corpus.speech[8000], corpus.noise["pinknoise", 8000], 8000, 25)
    plain = audio.write_wav(corpus.folder / "mix-25.wav", mix, 8000)
    loud = corpus.folder / "mix-25-gain20.wav"
    audio.run(audio.need("sox"), "-D", str(plain), str(loud), "gain", "20")
    before = score(mix)
    after = score(audio.read_wav(loud)[0])
    assert before.clipping_ratio == 0.0
    assert after.clipping_ratio > 0.01
    assert after.score < before.score
    clipped_clean = score(corpus.clipped)
    assert clipped_clean.clipping_ratio > 0.01
    assert clipped_clean.score < score(corpus.speech[8000]).score


@pytest.mark.parametrize("encoding", [Encoding.ULAW, Encoding.ALAW])
def test_g711_streams_score_like_pcm(corpus: Corpus, encoding: Encoding) -> None:
    mix, _ = audio.mix_at_snr(corpus.speech[8000], corpus.noise["whitenoise", 8000], 8000, 20)
    encode = g711.encode_ulaw if encoding is Encoding.ULAW else g711.encode_alaw
    scorer = StreamScorer(AudioFormat(8000, encoding), WHOLE)
    scorer.push(encode(mix).tobytes())
    coded, pcm = scorer.snapshot(), score(mix)
    assert abs(coded.speech_ratio - pcm.speech_ratio) < 0.03
    assert abs(coded.noise_floor_dbfs - pcm.noise_floor_dbfs) < 1.0
    assert coded.snr_db is not None and pcm.snr_db is not None
    assert abs(coded.snr_db - pcm.snr_db) < 1.5
    assert abs(coded.score - pcm.score) < 0.03


def test_g711_clipping_is_measured_at_the_codec_peak(corpus: Corpus) -> None:
    scorer = StreamScorer(AudioFormat(8000, Encoding.ULAW), WHOLE)
    scorer.push(g711.encode_ulaw(corpus.clipped).tobytes())
    assert scorer.snapshot().clipping_ratio > 0.01


def test_chunking_does_not_change_the_snapshot(corpus: Corpus) -> None:
    mix, _ = audio.mix_at_snr(corpus.speech[8000], corpus.noise["pinknoise", 8000], 8000, 15)
    data = mix.tobytes()
    whole = score(mix)
    scorer = StreamScorer(AudioFormat(), WHOLE)
    rng = np.random.default_rng(7)
    at = 0
    while at < len(data):
        size = int(rng.integers(1, 3000))
        scorer.push(data[at : at + size])
        at += size
    assert scorer.snapshot() == whole


def test_window_follows_a_change(corpus: Corpus) -> None:
    # 16 s of clean speech, then the same speech with noise 10 dB under it: a 5 s window
    # forgets the clean part.
    speech = corpus.speech[8000]
    noisy, noise_dbfs = audio.mix_at_snr(speech, corpus.noise["whitenoise", 8000], 8000, 10)
    scorer = StreamScorer(AudioFormat(), ScorerConfig(window_s=5.0))
    scorer.push(speech.tobytes())
    clean = scorer.snapshot()
    scorer.push(noisy.tobytes())
    later = scorer.snapshot()
    assert later.window_s == pytest.approx(5.0)
    assert later.t == pytest.approx(clean.t + len(noisy) / 8000, abs=0.2)
    assert abs(later.noise_floor_dbfs - noise_dbfs) <= 3.0
    assert later.score < clean.score - 0.3


def test_empty_and_silent_streams() -> None:
    scorer = StreamScorer(AudioFormat())
    empty = scorer.snapshot()
    assert empty.t == 0.0 and empty.speech_ratio == 0.0 and empty.snr_db is None
    scorer.push(bytes(16000))  # 1 s of digital silence
    silent = scorer.snapshot()
    assert silent.speech_ratio == 0.0 and silent.snr_db is None
    assert silent.noise_floor_dbfs == -100.0


def test_config_errors_name_the_field() -> None:
    with pytest.raises(ValueError, match="window_s: expected seconds > 0"):
        ScorerConfig(window_s=0)
    with pytest.raises(ValueError, match=r"noise_percentile: expected a percentile 0\.\.100"):
        ScorerConfig(noise_percentile=120)
    with pytest.raises(ValueError, match="vad_mode"):
        StreamScorer(AudioFormat(), ScorerConfig(vad_mode=7))
    with pytest.raises(TypeError, match="expected bytes"):
        StreamScorer(AudioFormat()).push("pcm")  # type: ignore[arg-type]
