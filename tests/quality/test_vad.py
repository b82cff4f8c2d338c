"""Voice activity on espeak-ng speech and sox tones: tones are flagged, never called speech."""

from __future__ import annotations

import numpy as np
import pytest
import webrtcvad

from cc_core.quality.frames import AudioFormat
from cc_core.quality.vad import BoolArray, ToneSettings, VoiceDetector
from tests.quality import audio
from tests.quality.audio import Samples
from tests.quality.conftest import Corpus


def frames_of(x: Samples, fmt: AudioFormat) -> Samples:
    n = fmt.samples_per_frame
    return x[: len(x) // n * n].reshape(-1, n)


def detect(x: Samples, fmt: AudioFormat, block: int = 10) -> tuple[BoolArray, BoolArray]:
    vd = VoiceDetector(fmt)
    frames = frames_of(x, fmt)
    flags = [vd.detect(frames[i : i + block]) for i in range(0, len(frames), block)]
    return np.concatenate([f[0] for f in flags]), np.concatenate([f[1] for f in flags])


def raw_vad_ratio(x: Samples, fmt: AudioFormat) -> float:
    vad = webrtcvad.Vad(2)
    return float(np.mean([vad.is_speech(f.tobytes(), fmt.sample_rate) for f in frames_of(x, fmt)]))


@pytest.mark.parametrize("name", ["ringback", "ringback_us", "dtmf"])
@pytest.mark.parametrize("frame_ms", [10, 20, 30])
def test_tones_are_not_speech(corpus: Corpus, name: str, frame_ms: int) -> None:
    x = getattr(corpus, name)
    fmt = AudioFormat(8000, frame_ms=frame_ms)
    # The premise: webrtcvad alone calls these tones speech.
    assert raw_vad_ratio(x, fmt) > 0.9
    speech, tone = detect(x, fmt)
    assert speech.mean() < 0.03
    # Frames are decided a little after they arrive: compare with the decided ones.
    power = (frames_of(x, fmt).astype(np.float64) ** 2).mean(axis=1)[: len(tone)]
    sounding = power > 1e4
    assert tone[sounding].mean() > 0.95
    # Silence is never a tone, except the one frame a tone ends in (its window holds the tone).
    assert np.count_nonzero(tone & ~sounding) <= 0.15 * np.count_nonzero(~sounding)


def test_tone_under_noise_is_still_a_tone(corpus: Corpus) -> None:
    fmt = AudioFormat()
    ring = corpus.ringback.astype(np.float64)
    hiss = audio.fit(corpus.noise["whitenoise", 8000], len(ring)).astype(np.float64)
    hiss *= np.sqrt(audio.power(corpus.ringback) / 10**1.5 / audio.power(hiss.astype(np.int16)))
    speech, tone = detect(audio.to_int16(ring + hiss), fmt)  # tone 15 dB over white noise
    assert tone.mean() > 0.9 and speech.mean() < 0.05


@pytest.mark.parametrize("rate", [8000, 16000])
@pytest.mark.parametrize("frame_ms", [10, 20, 30])
def test_speech_is_speech_not_tone(corpus: Corpus, rate: int, frame_ms: int) -> None:
    fmt = AudioFormat(rate, frame_ms=frame_ms)
    speech, tone = detect(corpus.speech[rate], fmt)
    assert speech.mean() > 0.8
    assert tone.mean() < 0.02


def test_other_voices_are_not_tones(corpus: Corpus) -> None:
    fmt = AudioFormat()
    for voice in ("en+f3", "en-us+m3", "de"):
        path = audio.speak(corpus.folder / f"voice-{voice}.wav", 8000, voice=voice)
        speech, tone = detect(audio.read_wav(path)[0], fmt)
        assert speech.mean() > 0.7, voice
        assert tone.mean() < 0.02, voice


def test_speech_right_after_a_tone_is_heard(corpus: Corpus) -> None:
    fmt = AudioFormat()
    x = np.concatenate([corpus.ringback[:8000], corpus.speech[8000]])
    speech, tone = detect(x, fmt)
    assert not speech[:50].any() and tone[:50].all()  # 1 s of ringback is 50 frames
    # Speech as loud as the tone is not taken for the VAD's hangover after the tone.
    reference, _ = detect(corpus.speech[8000], fmt)
    after = speech[50:]
    assert abs(after.mean() - reference[: len(after)].mean()) < 0.03
    assert not tone[50:].any()


def test_quiet_hangover_after_a_tone_is_not_speech(corpus: Corpus) -> None:
    fmt = AudioFormat()
    gap = np.zeros(4000, dtype=np.int16)  # 0.5 s of silence after the tone
    speech, tone = detect(np.concatenate([corpus.ringback[:8000], gap, gap]), fmt)
    assert tone[:50].all()
    assert not speech.any()  # webrtcvad alone keeps saying "speech" into the silence


def test_flags_do_not_depend_on_block_size(corpus: Corpus) -> None:
    fmt = AudioFormat()
    x = np.concatenate([corpus.dtmf, corpus.speech[8000][:16000], corpus.ringback_us[:8000]])
    speech, tone = detect(x, fmt, block=len(x))
    for block in (1, 3, 7, 50):
        s, t = detect(x, fmt, block)
        assert np.array_equal(s, speech) and np.array_equal(t, tone), block


def test_settings_errors_name_the_field() -> None:
    with pytest.raises(ValueError, match="vad_mode: expected one of"):
        VoiceDetector(AudioFormat(), mode=5)
    with pytest.raises(ValueError, match="concentration"):
        ToneSettings(concentration=1.5)
    with pytest.raises(ValueError, match="lowest_hz"):
        ToneSettings(lowest_hz=-1)
