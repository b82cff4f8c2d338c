"""Per-frame levels in dBFS and clipping counts, vectorized over a block of frames.

0 dBFS is the power of a square wave at full scale (RMS 32768), so a full-scale sine reads
-3 dBFS. Digital silence is reported at ``SILENCE_DBFS`` rather than minus infinity.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

SILENCE_DBFS = -100.0
_FULL_SCALE_POWER = 32768.0**2
_SILENCE_POWER = 10.0 ** (SILENCE_DBFS / 10.0)

FloatArray = npt.NDArray[np.float64]


def frame_power(frames: npt.NDArray[np.int16] | FloatArray) -> FloatArray:
    """Mean square of each frame relative to full scale (1.0 == 0 dBFS); the samples may
    come as float64 already."""
    x = frames.astype(np.float64, copy=False)
    return np.einsum("ij,ij->i", x, x) / (frames.shape[1] * _FULL_SCALE_POWER)


def power_to_dbfs(power: FloatArray | float) -> FloatArray:
    return 10.0 * np.log10(np.maximum(power, _SILENCE_POWER))


def scalar_dbfs(power: float) -> float:
    """``power_to_dbfs`` of one number, without numpy's per-call cost."""
    return 10.0 * math.log10(max(power, _SILENCE_POWER))


def dbfs_to_power(dbfs: float) -> float:
    return float(10.0 ** (dbfs / 10.0))


def frame_dbfs(frames: npt.NDArray[np.int16]) -> FloatArray:
    """Level of each frame in dBFS, floored at ``SILENCE_DBFS``."""
    return power_to_dbfs(frame_power(frames))


def clipped_counts(frames: npt.NDArray[np.int16], peak: int) -> npt.NDArray[np.intp]:
    """How many samples of each frame sit at the encoding's peak (either sign)."""
    if not 0 < peak <= 32767:
        raise ValueError(f"peak: expected 1..32767, got {peak!r}")
    # The usual block: nothing clips (two fast reductions), so skip the per-frame count.
    if frames.size == 0 or (frames.max() < peak and frames.min() > -peak):
        return np.zeros(frames.shape[0], dtype=np.intp)
    # Compared in int16: -32768 is beyond -peak, so both signs reach the peak at +-peak.
    hits = (frames >= peak) | (frames <= -peak)
    return np.count_nonzero(hits, axis=1)
