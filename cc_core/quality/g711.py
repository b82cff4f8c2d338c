"""G.711 (ITU-T G.711) mu-law and A-law codecs as numpy lookup tables.

Decoding is one table lookup per byte (``audioop`` is deprecated and gone in Python 3.13).
Decoded samples are on the 16-bit PCM scale: mu-law's 14-bit and A-law's 13-bit linear codes
shifted left, so the loudest mu-law code decodes to +-32124 and the loudest A-law code to
+-32256.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Int16Array = npt.NDArray[np.int16]
Codes = bytes | bytearray | memoryview | npt.NDArray[np.uint8]

_MU_BIAS = 0x84  # 33 in 14-bit units, scaled to 16 bits: the offset that makes segments align


def _ulaw_table() -> Int16Array:
    code = ~np.arange(256, dtype=np.int32) & 0xFF  # mu-law bytes are sent with all bits inverted
    exponent = (code >> 4) & 0x07
    mantissa = code & 0x0F
    magnitude = (((mantissa << 3) + _MU_BIAS) << exponent) - _MU_BIAS
    return np.where(code & 0x80, -magnitude, magnitude).astype(np.int16)


def _alaw_table() -> Int16Array:
    code = np.arange(256, dtype=np.int32) ^ 0x55  # A-law bytes have the even bits inverted
    exponent = (code >> 4) & 0x07
    mantissa = code & 0x0F
    linear = (mantissa << 4) + 8  # mid-point of the step, in 16-bit units
    magnitude = np.where(exponent == 0, linear, (linear + 0x100) << np.maximum(exponent - 1, 0))
    # In A-law a set sign bit means a positive sample.
    return np.where(code & 0x80, magnitude, -magnitude).astype(np.int16)


ULAW_DECODE: Int16Array = _ulaw_table()
ALAW_DECODE: Int16Array = _alaw_table()
ULAW_PEAK = int(ULAW_DECODE.max())
ALAW_PEAK = int(ALAW_DECODE.max())


def _as_codes(data: Codes) -> npt.NDArray[np.uint8]:
    if isinstance(data, np.ndarray):
        if data.dtype != np.uint8:
            raise TypeError(f"G.711 codes: expected a uint8 array, got dtype {data.dtype}")
        return data
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"G.711 codes: expected bytes, got {type(data).__name__}")
    return np.frombuffer(data, dtype=np.uint8)


def decode_ulaw(data: Codes) -> Int16Array:
    """Decode mu-law bytes to 16-bit linear samples."""
    return ULAW_DECODE[_as_codes(data)]


def decode_alaw(data: Codes) -> Int16Array:
    """Decode A-law bytes to 16-bit linear samples."""
    return ALAW_DECODE[_as_codes(data)]


def _segment(magnitude: npt.NDArray[np.int32], first_top: int) -> npt.NDArray[np.int32]:
    # Segment s covers magnitudes below first_top << s; 8 segments per sign.
    tops = first_top << np.arange(8, dtype=np.int32)
    return np.minimum(np.searchsorted(tops, magnitude, side="right"), 7).astype(np.int32)


def _to_bits(samples: npt.NDArray[np.int16], bits: int) -> npt.NDArray[np.int32]:
    """Round 16-bit samples to the codec's uniform PCM (14 bits mu-law, 13 bits A-law)."""
    shift = 16 - bits
    x = (np.asarray(samples, dtype=np.int32) + (1 << (shift - 1))) >> shift
    return np.minimum(x, (1 << (bits - 1)) - 1)


def encode_ulaw(samples: npt.NDArray[np.int16]) -> npt.NDArray[np.uint8]:
    """Encode 16-bit linear samples to mu-law bytes (G.711 on 14-bit PCM, vectorized)."""
    x = _to_bits(samples, 14)
    sign = np.where(x < 0, 0x80, 0)
    magnitude = np.minimum(np.abs(x), 8158) + 33  # 8158 + 33 = 8191: the last segment's top
    exponent = _segment(magnitude, 0x40)
    mantissa = (magnitude >> (exponent + 1)) & 0x0F
    return (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8)


def encode_alaw(samples: npt.NDArray[np.int16]) -> npt.NDArray[np.uint8]:
    """Encode 16-bit linear samples to A-law bytes (G.711 on 13-bit PCM, vectorized)."""
    x = _to_bits(samples, 13)
    sign = np.where(x >= 0, 0x80, 0)
    # Negative values are one's-complemented so -1 lands in the first step.
    magnitude = np.where(x >= 0, x, -x - 1)
    exponent = _segment(magnitude, 0x20)
    mantissa = (magnitude >> np.maximum(exponent, 1)) & 0x0F
    return ((sign | (exponent << 4) | mantissa) ^ 0x55).astype(np.uint8)
