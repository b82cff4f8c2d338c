"""The batched paths (many streams per numpy call, one C call per VAD frame) give what one
stream alone gives, on real espeak-ng speech and sox tones."""

from __future__ import annotations

import numpy as np
import pytest
import webrtcvad

from cc_core.quality import levels
from cc_core.quality.bank import GROUP_FRAMES, ScorerBank
from cc_core.quality.frames import AudioFormat
from cc_core.quality.scorer import StreamScorer, snapshots
from cc_core.quality.vad import ToneDetector, ToneSettings, VoiceDetector, run_vads
from tests.quality import audio
from tests.quality.conftest import Corpus


def _clips(corpus: Corpus, length: int) -> list[np.ndarray]:
    speech = corpus.speech[8000]
    mix, _ = audio.mix_at_snr(speech, corpus.noise["brownnoise", 8000], 8000, 15)
    return [
        audio.fit(speech, length),
        audio.fit(mix, length),
        audio.fit(np.concatenate([corpus.dtmf, speech]), length),
        audio.fit(corpus.ringback, length),
        audio.fit(corpus.clipped, length),
    ]


@pytest.mark.parametrize("frame_ms", [10, 20, 30])
def test_run_vads_is_webrtcvad_frame_by_frame(corpus: Corpus, frame_ms: int) -> None:
    # Without pre-emphasis the audio reaches the VAD unchanged, so each stream's flags must
    # be those of its own webrtcvad.Vad fed frame by frame through the public call.
    fmt = AudioFormat(8000, frame_ms=frame_ms)
    clips = _clips(corpus, 4 * 8000)
    n = fmt.samples_per_frame
    frames = np.stack([c[: len(c) // n * n].reshape(-1, n) for c in clips])
    detectors = [VoiceDetector(fmt, emphasis=0.0) for _ in clips]
    block = 17  # blocks that do not divide the clip: state must carry across them
    got = np.concatenate(
        [run_vads(detectors, frames[:, i : i + block]) for i in range(0, frames.shape[1], block)],
        axis=1,
    )
    for stream, flags in zip(frames, got, strict=True):
        vad = webrtcvad.Vad(2)
        want = [vad.is_speech(f.tobytes(), fmt.sample_rate) for f in stream]
        assert flags.tolist() == want
    assert got[0].mean() > 0.5 and got[3].mean() > 0.9  # speech and a tone: mostly "speech"


def test_run_vads_of_many_streams_equals_each_alone(corpus: Corpus) -> None:
    fmt = AudioFormat()
    clips = _clips(corpus, 3 * 8000)
    frames = np.stack([c.reshape(-1, 160) for c in clips])
    together = run_vads([VoiceDetector(fmt) for _ in clips], frames)
    for stream, flags in zip(frames, together, strict=True):
        alone = VoiceDetector(fmt)
        parts = [run_vads([alone], stream[None, i : i + 7])[0] for i in range(0, len(stream), 7)]
        assert np.array_equal(np.concatenate(parts), flags)


def test_bank_of_several_groups_matches_single_scorers(corpus: Corpus) -> None:
    fmt = AudioFormat()
    clips = _clips(corpus, 5 * 8000)
    bank = ScorerBank(fmt)
    block = StreamScorer(fmt).block_bytes // fmt.bytes_per_frame
    streams = 2 * max(1, GROUP_FRAMES // block) + 3  # three groups, the last one short
    ids = [bank.open() for _ in range(streams)]
    step = fmt.bytes_per_frame
    data = [clips[i % len(clips)].tobytes() for i in range(streams)]
    lag = [(i * 7 % 13) * step for i in range(streams)]  # out of step, like real calls
    for at in range(0, len(data[0]), step):
        for sid in ids:
            start = at - lag[sid]
            bank.push(sid, data[sid][start : start + step] if start >= 0 else b"")
        bank.tick()
    for i, sid in enumerate(ids):
        alone = StreamScorer(fmt)
        alone.push(data[i][: len(data[i]) - lag[i]])
        assert bank.snapshot(sid) == alone.snapshot(), sid


@pytest.mark.parametrize("lowest_hz", [0.0, 300.0])
def test_tone_peaks_match_the_full_lobe_search(corpus: Corpus, lowest_hz: float) -> None:
    # The plain form of the peak search: every lobe summed, the first lobe hidden in place.
    fmt = AudioFormat()
    tones = ToneDetector(fmt, ToneSettings(lowest_hz=lowest_hz))
    windows = np.concatenate(
        [c.reshape(-1, 160) for c in _clips(corpus, 2 * 8000)] + [np.zeros((3, 160), np.int16)]
    )
    spec = np.fft.rfft(windows * np.hanning(160), axis=1)
    power = np.square(spec.real) + np.square(spec.imag)
    total = power.sum(axis=1) + 1e-9
    lobe = power[:, :-2] + power[:, 1:-1] + power[:, 2:]
    rows = np.arange(len(power))
    low = int(lowest_hz * 20 // 1000)
    k1 = power[:, low:-1].argmax(axis=1) + low
    e1 = lobe[rows, k1 - 1]
    power[rows[:, None], np.minimum(k1[:, None] + np.arange(-2, 3), power.shape[1] - 1)] = 0.0
    k2 = power[:, low:-1].argmax(axis=1) + low
    e2 = lobe[rows, k2 - 1]
    tonal, got1, got2 = tones.peaks(windows)
    assert np.array_equal(tonal, (e1 + e2) >= 0.9 * total)
    assert np.array_equal(got1, k1)
    assert np.array_equal(got2, np.where(e2 >= 0.1 * e1, k2, -10))
    assert tonal.any() and not tonal.all()


def test_clipped_counts_both_signs_and_quiet_blocks() -> None:
    frames = np.zeros((3, 160), dtype=np.int16)
    assert levels.clipped_counts(frames, 32767).tolist() == [0, 0, 0]
    frames[1, :4] = [-32768, 32767, -32767, 32766]
    frames[2, 0] = 32124
    assert levels.clipped_counts(frames, 32767).tolist() == [0, 3, 0]
    assert levels.clipped_counts(frames, 32124).tolist() == [0, 4, 1]
    with pytest.raises(ValueError, match=r"peak: expected 1\.\.32767, got 40000"):
        levels.clipped_counts(frames, 40000)


def test_snapshots_of_many_equal_each_alone(corpus: Corpus) -> None:
    # Windows empty, filling and full, with and without clipping, counted together.
    fmt = AudioFormat()
    clips = _clips(corpus, 12 * 8000)
    scorers = [StreamScorer(fmt) for _ in range(6)]
    lengths = [0, 3 * 8000, 12 * 8000, 12 * 8000, 12 * 8000, 7 * 8000]
    for scorer, clip, length in zip(scorers, [clips[0], *clips], lengths, strict=True):
        scorer.push(clip[:length].tobytes())
    together = snapshots(scorers)
    assert together == [s.snapshot() for s in scorers]
    # Decisions lag the audio by 60 ms (3 frames).
    assert together[0].t == 0.0 and together[1].window_s == pytest.approx(2.94)
    assert together[2].window_s == 10.0
    assert together[5].clipping_ratio > 0.001 and together[4].tone
