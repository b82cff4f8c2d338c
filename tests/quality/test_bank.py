"""A bank of streams gives each stream exactly what its own StreamScorer gives."""

from __future__ import annotations

import numpy as np
import pytest

from cc_core.quality.bank import ScorerBank
from cc_core.quality.frames import AudioFormat
from cc_core.quality.scorer import ScorerConfig, StreamScorer, StreamSnapshot
from tests.quality import audio
from tests.quality.conftest import Corpus


@pytest.mark.parametrize("frame_ms", [10, 20])
def test_bank_matches_single_scorers(corpus: Corpus, frame_ms: int) -> None:
    fmt = AudioFormat(8000, frame_ms=frame_ms)
    speech = corpus.speech[8000][: 6 * 8000]
    mix, _ = audio.mix_at_snr(speech, corpus.noise["pinknoise", 8000], 8000, 10)
    clips = [
        speech,
        mix,
        np.concatenate([corpus.dtmf, speech])[: len(speech)],
        audio.fit(corpus.ringback_us, len(speech)),
        corpus.clipped[: len(speech)],
    ]
    got: dict[int, list[StreamSnapshot]] = {}
    bank = ScorerBank(fmt, on_snapshot=lambda sid, snap: got.setdefault(sid, []).append(snap))
    ids = [bank.open() for _ in clips]
    step = fmt.bytes_per_frame
    lag = [0, 0, 0, 0, 3 * step]  # streams start out of step: the last one 3 packets late
    data = [c.tobytes() for c in clips]
    for at in range(0, len(data[0]), step):
        for sid, d in zip(ids, data, strict=True):
            start = at - lag[sid]
            bank.push(sid, d[start : start + step] if start >= 0 else b"")
        bank.tick()
    for sid in ids:
        alone = StreamScorer(fmt)
        alone.push(data[sid][: len(data[sid]) - lag[sid]])
        assert bank.snapshot(sid) == alone.snapshot(), sid
        assert len(got[sid]) >= 10  # a snapshot every 0.5 s of audio
    assert bank.close(ids[0]).speech_ratio > 0.8
    assert len(bank) == len(clips) - 1
    with pytest.raises(KeyError, match="stream 0: not open in this bank"):
        bank.push(ids[0], b"")


def test_snapshots_between_odd_chunks(corpus: Corpus) -> None:
    # Snapshots taken while a partial frame is buffered must not shift the audio after it.
    data = corpus.speech[8000][: 3 * 8000].tobytes()
    bank = ScorerBank(AudioFormat())
    sid = bank.open()
    times = []
    for k, at in enumerate(range(0, len(data), 1001)):
        bank.push(sid, data[at : at + 1001])
        bank.tick()
        if k % 10 == 3:  # now and then, so that whole blocks also go through the bank
            times.append(bank.snapshot(sid).t)
    alone = StreamScorer(AudioFormat())
    alone.push(data)
    assert bank.snapshot(sid) == alone.snapshot()
    assert times == sorted(times) and len(times) >= 3


def test_rows_of_closed_streams_start_empty_and_scorers_stay_whole(corpus: Corpus) -> None:
    # A bank keeps its streams' rings as rows of shared arrays and decides quiet blocks of
    # many streams together: a row used again must start empty, more streams than rows must
    # grow the arrays, and a scorer read in mid-stream must hold all of its own state.
    fmt = AudioFormat()
    speech = corpus.speech[8000][: 4 * 8000]
    mix, _ = audio.mix_at_snr(speech, corpus.noise["whitenoise", 8000], 8000, 15)
    tone_then_speech = np.concatenate([corpus.dtmf, speech])[: len(speech)]
    bank = ScorerBank(fmt)
    step = fmt.bytes_per_frame
    first = [bank.open() for _ in range(20)]
    longer = np.tile(speech, 2).tobytes()  # the rows hold more than the later streams write
    for at in range(0, len(longer), step):
        for sid in first:
            bank.push(sid, longer[at : at + step])
        bank.tick()
    for sid in first[:5]:
        bank.close(sid)
    clips = [mix, tone_then_speech, speech]
    later = [bank.open() for _ in clips] + [
        bank.open() for _ in range(20)
    ]  # rows reused, then grown
    data = [c.tobytes() for c in clips] + [mix.tobytes()] * 20
    for k, at in enumerate(range(0, len(data[0]), step)):
        for sid, d in zip(later, data, strict=True):
            bank.push(sid, d[at : at + step])
        bank.tick()
        if k % 40 == 39:  # a scorer taken out in mid-stream (its state handed back to it)
            assert bank.scorer(later[k % 3]).frames_analysed > 0
    for sid, d in zip(later, data, strict=True):
        alone = StreamScorer(fmt)
        alone.push(d)
        assert bank.snapshot(sid) == alone.snapshot(), sid


def test_pushed_buffers_are_copied(corpus: Corpus) -> None:
    # A media server may read every packet into the same bytearray: what was pushed must not
    # change when that buffer is reused.
    data = corpus.speech[8000][: 2 * 8000].tobytes()
    bank = ScorerBank(AudioFormat())
    sid = bank.open()
    packet = bytearray(320)
    for at in range(0, len(data), 320):
        packet[:] = data[at : at + 320]
        bank.push(sid, packet if at % 640 else memoryview(packet))
        bank.tick()
    packet[:] = bytes(320)
    alone = StreamScorer(AudioFormat())
    alone.push(data)
    assert bank.snapshot(sid) == alone.snapshot()
    with pytest.raises(TypeError, match="audio data: expected bytes, got str"):
        bank.push(sid, "not audio")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("rate", "frame_ms", "analysis_ms", "window_s"),
    [
        (16000, 20, 500, 10.0),
        (8000, 20, 60, 10.0),  # a block as long as the decision lag
        (8000, 20, 40, 10.0),  # shorter than the lag: every block alone
        (8000, 10, 500, 0.2),  # a window shorter than a block
        (8000, 30, 1000, 3.0),
    ],
)
def test_bank_matches_single_scorers_in_other_shapes(
    corpus: Corpus, rate: int, frame_ms: int, analysis_ms: int, window_s: float
) -> None:
    fmt = AudioFormat(rate, frame_ms=frame_ms)
    config = ScorerConfig(analysis_ms=analysis_ms, window_s=window_s)
    speech = corpus.speech[rate]
    length = 4 * rate // fmt.samples_per_frame * fmt.samples_per_frame
    ring = np.repeat(corpus.ringback, rate // 8000)  # tones at either rate
    dtmf = np.repeat(corpus.dtmf, rate // 8000)
    clips = [
        audio.fit(speech, length),
        audio.fit(np.concatenate([dtmf[: rate // 2], speech, ring[: rate // 2], speech]), length),
        audio.fit(np.concatenate([ring[:rate], speech]), length),
    ]
    bank = ScorerBank(fmt, config)
    ids = [bank.open() for _ in clips]
    step = fmt.bytes_per_frame
    data = [c.tobytes() for c in clips]
    for at in range(0, len(data[0]), step):
        for sid, d in zip(ids, data, strict=True):
            bank.push(sid, d[at : at + step])
        bank.tick()
    for sid, d in zip(ids, data, strict=True):
        alone = StreamScorer(fmt, config)
        alone.push(d)
        assert bank.snapshot(sid) == alone.snapshot(), sid
