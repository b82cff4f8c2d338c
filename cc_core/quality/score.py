"""The combined 0..1 quality scores and their weights.

Stream (one direction of audio, e.g. the agent's microphone):

    score = 0.50 * snr_part + 0.30 * noise_part + 0.20 * clipping_part

- ``snr_part`` = logistic((snr_db - 15) / 5): 0.05 at 0 dB, 0.5 at 15 dB, 0.95 at 30 dB. It
  never saturates inside the 0..30 dB range, so more noise always means a lower score.
- ``noise_part`` = logistic((-50 - noise_floor_dbfs) / 5): 0.5 at -50 dBFS, 0.95 at -65.
- ``clipping_part`` = exp(-clipping_ratio / 0.005): 0.37 when 0.5 % of samples clip.

Until speech has been heard there is no SNR; the other two parts are then re-weighted to sum
to one. A call adds its conversation (both directions):

    call = 0.70 * agent_stream + 0.15 * dead_air_part + 0.15 * talk_over_part

- ``dead_air_part`` = 1 until 20 % of the window is dead air, falling to 0 at 70 %.
- ``talk_over_part`` = 1 until 5 % of the speech is talk-over, falling to 0 at 30 %.
"""

from __future__ import annotations

import math

STREAM_WEIGHTS = {"snr": 0.50, "noise": 0.30, "clipping": 0.20}
CALL_WEIGHTS = {"agent": 0.70, "dead_air": 0.15, "talk_over": 0.15}


def _logistic(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _falling(value: float, ok_until: float, zero_at: float) -> float:
    """1 up to ``ok_until``, then linearly down to 0 at ``zero_at``."""
    return min(1.0, max(0.0, (zero_at - value) / (zero_at - ok_until)))


def snr_part(snr_db: float) -> float:
    return _logistic((snr_db - 15.0) / 5.0)


def noise_part(noise_floor_dbfs: float) -> float:
    return _logistic((-50.0 - noise_floor_dbfs) / 5.0)


def clipping_part(clipping_ratio: float) -> float:
    return math.exp(-clipping_ratio / 0.005)


def stream_score(snr_db: float | None, noise_floor_dbfs: float, clipping_ratio: float) -> float:
    # The weighted mean of the parts present, added in this order (noise, clipping, snr);
    # written out rather than through a dict: it runs for every snapshot of every stream.
    w_noise, w_clipping = STREAM_WEIGHTS["noise"], STREAM_WEIGHTS["clipping"]
    total = w_noise * noise_part(noise_floor_dbfs) + w_clipping * clipping_part(clipping_ratio)
    if snr_db is None:
        return total / (w_noise + w_clipping)
    w_snr = STREAM_WEIGHTS["snr"]
    return (total + w_snr * snr_part(snr_db)) / (w_noise + w_clipping + w_snr)


def call_score(agent_stream: float, dead_air_ratio: float, talk_over_ratio: float) -> float:
    return (
        CALL_WEIGHTS["agent"] * agent_stream
        + CALL_WEIGHTS["dead_air"] * _falling(dead_air_ratio, 0.20, 0.70)
        + CALL_WEIGHTS["talk_over"] * _falling(talk_over_ratio, 0.05, 0.30)
    )
