"""G.711 tables against the ITU-T G.711 definition and against sox's own codec."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest

from cc_core.quality import g711
from tests.quality import audio
from tests.quality.audio import Samples
from tests.quality.conftest import Corpus


def _itu_ulaw(code: int) -> int:
    """G.711 Table 2a, mu-law: segment s, step q -> (2q + 33) * 2**s - 33, 14-bit units."""
    inverted = ~code & 0xFF
    s, q = (inverted >> 4) & 7, inverted & 15
    value = (2 * q + 33) * 2**s - 33
    return (-value if inverted & 0x80 else value) * 4  # 14-bit -> 16-bit scale


def _itu_alaw(code: int) -> int:
    """G.711 Table 1a, A-law: segment 0 -> 2q + 1, segment s -> (2q + 33) * 2**(s-1), 13-bit."""
    even_inverted = code ^ 0x55
    s, q = (even_inverted >> 4) & 7, even_inverted & 15
    value = 2 * q + 1 if s == 0 else (2 * q + 33) * 2 ** (s - 1)
    return (value if even_inverted & 0x80 else -value) * 8  # 13-bit -> 16-bit scale


def test_tables_follow_the_itu_definition() -> None:
    assert [int(v) for v in g711.ULAW_DECODE] == [_itu_ulaw(c) for c in range(256)]
    assert [int(v) for v in g711.ALAW_DECODE] == [_itu_alaw(c) for c in range(256)]


def test_landmark_codes() -> None:
    # Silence and the peaks as printed in G.711 (mu-law 0xFF/0x7F are +0/-0; A-law 0xD5/0x55).
    assert g711.decode_ulaw(bytes([0xFF, 0x7F, 0x80, 0x00])).tolist() == [0, 0, 32124, -32124]
    assert g711.decode_alaw(bytes([0xD5, 0x55, 0xAA, 0x2A])).tolist() == [8, -8, 32256, -32256]
    assert g711.ULAW_PEAK == 32124 and g711.ALAW_PEAK == 32256


def test_encoders_invert_the_decoders() -> None:
    codes = np.arange(256, dtype=np.uint8)
    u = g711.encode_ulaw(g711.ULAW_DECODE)
    # 0x7F is mu-law's negative zero, which the encoder writes as positive zero (0xFF).
    assert (u == codes)[codes != 0x7F].all() and u[0x7F] == 0xFF
    assert (g711.encode_alaw(g711.ALAW_DECODE) == codes).all()


def test_quantisation_error_is_at_most_half_a_step() -> None:
    x = np.arange(-32768, 32768, dtype=np.int32).astype(np.int16)
    for encode, table in (
        (g711.encode_ulaw, g711.ULAW_DECODE),
        (g711.encode_alaw, g711.ALAW_DECODE),
    ):
        decoded = table[encode(x)].astype(np.int32)
        inside = np.abs(x.astype(np.int32)) <= int(table.max())
        err = np.abs(decoded - x)[inside]
        # The largest step is 1024 on the 16-bit scale; rounding to 13/14 bits adds a little.
        assert err.max() <= 1024 // 2 + 4
        # Relative error stays in the companding law's few percent above the first segments.
        big = np.abs(x[inside].astype(np.float64)) > 1024
        assert (err[big] / np.abs(x[inside][big])).max() < 0.035
        # Beyond the loudest code, samples saturate at it (they do not wrap around).
        peak = int(table.max())
        assert (decoded[x > peak] == peak).all() and (decoded[x < -peak] == -peak).all()


@pytest.mark.parametrize(("encoding", "decode", "encode"), [
    ("u-law", g711.decode_ulaw, g711.encode_ulaw),
    ("a-law", g711.decode_alaw, g711.encode_alaw),
])  # fmt: skip
def test_against_sox(
    corpus: Corpus,
    encoding: str,
    decode: Callable[[bytes], Samples],
    encode: Callable[[Samples], npt.NDArray[np.uint8]],
) -> None:
    src = corpus.wav("speech-8000.wav")
    raw = corpus.folder / f"speech.{encoding}.raw"
    back = corpus.folder / f"speech.{encoding}.back.wav"
    sox = audio.need("sox")
    audio.run(sox, "-D", str(src), "-t", "raw", "-e", encoding, "-b", "8", str(raw))
    audio.run(
        sox, "-D", "-t", "raw", "-r", "8000", "-c", "1", "-e", encoding, "-b", "8", str(raw),
        "-e", "signed", "-b", "16", str(back),
    )  # fmt: skip
    codes = np.frombuffer(raw.read_bytes(), dtype=np.uint8)
    sox_decoded, _ = audio.read_wav(back)
    ours = decode(raw.read_bytes())
    # Decoding: sox's tables are G.711 too, so every sample must agree exactly.
    assert len(ours) == len(sox_decoded) == len(corpus.speech[8000])
    assert np.array_equal(ours, sox_decoded)
    # Encoding: both round 16-bit samples to the codec's 14/13-bit PCM first, so they agree.
    mine = encode(corpus.speech[8000])
    assert np.array_equal(mine, codes)
    # And the decoded speech is close to the original (G.711's SNR on speech is ~35 dB+).
    err = audio.power(ours.astype(np.int32) - corpus.speech[8000].astype(np.int32))
    assert 10 * np.log10(audio.power(corpus.speech[8000]) / err) > 30


def test_bad_input_is_named() -> None:
    with pytest.raises(TypeError, match="expected bytes, got str"):
        g711.decode_ulaw("abc")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="uint8"):
        g711.decode_alaw(np.zeros(3, dtype=np.int16))  # type: ignore[arg-type]
