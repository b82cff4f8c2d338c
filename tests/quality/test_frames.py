"""Framing of byte streams and per-frame levels, on sox-rendered audio."""

from __future__ import annotations

import numpy as np
import pytest

from cc_core.quality import g711, levels
from cc_core.quality.frames import AudioFormat, Encoding, Framer
from tests.quality import audio
from tests.quality.conftest import Corpus


@pytest.mark.parametrize("frame_ms", [10, 20, 30])
@pytest.mark.parametrize("rate", [8000, 16000])
def test_any_chunking_gives_the_same_frames(corpus: Corpus, rate: int, frame_ms: int) -> None:
    fmt = AudioFormat(rate, Encoding.PCM16, frame_ms)
    data = corpus.speech[rate].tobytes()
    whole = Framer(fmt)
    whole.push(data)
    expected = whole.take()
    assert expected.shape == (
        len(corpus.speech[rate]) // fmt.samples_per_frame,
        fmt.samples_per_frame,
    )
    pieces = Framer(fmt)
    got = []
    for size in (1, 7, 333, 4096):  # odd sizes split samples and frames anywhere
        for i in range(0, len(data), size * 50):
            pieces.push(data[i : i + size * 50])
            got.append(pieces.take(3))
        got.append(pieces.take())
        assert np.array_equal(np.concatenate(got), expected)
        got.clear()
        pieces = Framer(fmt)
    # A trailing partial frame stays buffered.
    tail = Framer(fmt)
    tail.push(data[: fmt.bytes_per_frame + 3])
    assert tail.take().shape[0] == 1 and tail.pending_frames == 0


def test_g711_frames_decode_through_the_tables(corpus: Corpus) -> None:
    codes = g711.encode_alaw(corpus.speech[8000]).tobytes()
    framer = Framer(AudioFormat(8000, Encoding.ALAW, 20))
    framer.push(codes)
    frames = framer.take()
    assert frames.shape[1] == 160
    assert np.array_equal(frames.reshape(-1), g711.decode_alaw(codes[: frames.size]))


def test_format_errors_name_the_field() -> None:
    with pytest.raises(
        ValueError, match=r"sample_rate: expected one of \(8000, 16000\), got 44100"
    ):
        AudioFormat(44100)
    with pytest.raises(ValueError, match="frame_ms: expected one of"):
        AudioFormat(8000, Encoding.PCM16, 25)
    with pytest.raises(ValueError, match="encoding: expected one of pcm16, ulaw, alaw"):
        AudioFormat(8000, "gsm")  # type: ignore[arg-type]
    assert AudioFormat(8000, "ulaw").encoding is Encoding.ULAW  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="expected bytes, got list"):
        Framer(AudioFormat()).push([1, 2])  # type: ignore[arg-type]


def test_sine_levels_match_their_amplitude(corpus: Corpus) -> None:
    # sox "vol 0.5" sine: peak 0.5 of full scale, RMS 0.5/sqrt(2) -> -9.03 dBFS.
    path = audio.synth(corpus.folder / "sine-1k.wav", "synth", "1", "sine", "1000", "vol", "0.5")
    x, _ = audio.read_wav(path)
    db = levels.frame_dbfs(x[: len(x) // 160 * 160].reshape(-1, 160))
    assert np.allclose(db, 20 * np.log10(0.5 / np.sqrt(2)), atol=0.1)
    silence = np.zeros((3, 160), dtype=np.int16)
    assert (levels.frame_dbfs(silence) == levels.SILENCE_DBFS).all()


def test_clipping_counts_samples_at_the_peak(corpus: Corpus) -> None:
    frames = corpus.clipped[: len(corpus.clipped) // 160 * 160].reshape(-1, 160)
    clean = corpus.speech[8000][: frames.size].reshape(-1, 160)
    clipped = levels.clipped_counts(frames, 32767)
    assert clipped.sum() > 0.01 * frames.size  # +20 dB on speech at -20 dBFS clips a lot
    assert levels.clipped_counts(clean, 32767).sum() == 0
    # Counted samples really are at either rail.
    rails = np.count_nonzero((frames == 32767) | (frames == -32768))
    assert clipped.sum() == rails
