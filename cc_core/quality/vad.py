"""Voice activity per frame: webrtcvad, with steady tones kept out of "speech".

webrtcvad calls ringback, dial tone and DTMF speech, and keeps saying so for a 100-200 ms
hangover after they stop. ``ToneDetector`` flags frames whose energy sits in one or two narrow
spectral peaks that hold still for several frames (speech pitch and formants move, and
voiced speech spreads its energy over many harmonics). ``VoiceDetector`` combines both: a tone
frame is never speech, and neither is the VAD's hangover right after a tone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import webrtcvad

from cc_core.quality.frames import AudioFormat

BoolArray = npt.NDArray[np.bool_]

VAD_MODES = (0, 1, 2, 3)


@dataclass(frozen=True)
class ToneSettings:
    """Thresholds of the tone detector (defaults tuned on sox tones and espeak-ng speech)."""

    concentration: float = 0.85  # share of frame energy in the two strongest peaks
    second_peak: float = 0.1  # a second peak weaker than this (vs the first) is ignored
    min_ms: int = 60  # a tone must hold still this long
    hangover_ms: int = 300  # how long after a tone the VAD's "speech" is not believed
    lowest_hz: float = 200.0  # call-progress and DTMF tones are all above this

    def __post_init__(self) -> None:
        if not 0.0 < self.concentration <= 1.0:
            raise ValueError(f"concentration: expected 0 < x <= 1, got {self.concentration!r}")
        if not 0.0 <= self.second_peak <= 1.0:
            raise ValueError(f"second_peak: expected 0 <= x <= 1, got {self.second_peak!r}")
        if not 0.0 <= self.lowest_hz < 4000.0:
            raise ValueError(f"lowest_hz: expected 0 <= x < 4000, got {self.lowest_hz!r}")
        if self.min_ms < 0 or self.hangover_ms < 0:
            raise ValueError("min_ms, hangover_ms: expected non-negative milliseconds")


class ToneDetector:
    """Stateful, block-vectorized detector of steady one- or two-frequency tones."""

    def __init__(self, fmt: AudioFormat, settings: ToneSettings | None = None) -> None:
        self.settings = settings or ToneSettings()
        n = fmt.samples_per_frame
        self._window = np.hanning(n)
        self._bins = np.arange(n // 2 + 1)
        self._lowest = int(self.settings.lowest_hz * fmt.frame_ms // 1000)  # bins are 1/frame
        self._min_frames = max(1, -(-self.settings.min_ms // fmt.frame_ms))
        # Carried across blocks: was the last frame tonal, its peaks, and its run length.
        self._prev_tonal = False
        self._prev_peaks = (-10, -10)
        self._run = 0

    def _peaks(
        self, frames: npt.NDArray[np.int16]
    ) -> tuple[BoolArray, npt.NDArray[np.intp], npt.NDArray[np.intp]]:
        spec = np.fft.rfft(frames * self._window, axis=1)
        power = spec.real**2 + spec.imag**2
        total = power.sum(axis=1) + 1e-9
        # Signalling tones live in the voice band; DC, hum and rumble are not tones.
        k1 = power[:, self._lowest :].argmax(axis=1) + self._lowest
        near1 = np.abs(self._bins[None, :] - k1[:, None])
        e1 = np.where(near1 <= 1, power, 0.0).sum(axis=1)
        rest = np.where(near1 <= 2, 0.0, power)[:, self._lowest :]
        k2 = rest.argmax(axis=1) + self._lowest
        e2 = np.where(np.abs(self._bins[None, :] - k2[:, None]) <= 1, power, 0.0).sum(axis=1)
        tonal = (e1 + e2) >= self.settings.concentration * total
        # A weak second peak is noise around a single tone; -10 never matches a real bin.
        k2 = np.where(e2 >= self.settings.second_peak * e1, k2, -10)
        return tonal, k1, k2

    def detect(self, frames: npt.NDArray[np.int16]) -> BoolArray:
        """Flag the tone frames of a block (consecutive to the previous block)."""
        n = frames.shape[0]
        if n == 0:
            return np.zeros(0, dtype=bool)
        tonal, k1, k2 = self._peaks(frames)
        p1 = np.concatenate(([self._prev_peaks[0]], k1))
        p2 = np.concatenate(([self._prev_peaks[1]], k2))
        t = np.concatenate(([self._prev_tonal], tonal))
        # The strongest peak must hold still; a second peak only counts where both frames
        # have one (the two tones of a beating pair trade places in the weaker frames).
        no_second = (p2[1:] < 0) | (p2[:-1] < 0)
        same = (np.abs(p1[1:] - p1[:-1]) <= 1) & (no_second | (np.abs(p2[1:] - p2[:-1]) <= 1))
        link = t[1:] & t[:-1] & same  # frame continues the previous frame's tone
        run_id = np.cumsum(~link)  # id 0: frames continuing the run carried from before
        lengths = np.bincount(run_id, minlength=1)
        lengths[0] += self._run
        run_len = lengths[run_id]
        tone = tonal & (run_len >= self._min_frames)
        last = run_id[-1]
        self._run = int(lengths[last]) if tonal[-1] else 0
        self._prev_tonal = bool(tonal[-1])
        self._prev_peaks = (int(k1[-1]), int(k2[-1]))
        return tone


class VoiceDetector:
    """One stateful webrtcvad per stream plus the tone detector and the tone hangover."""

    def __init__(
        self,
        fmt: AudioFormat,
        mode: int = 2,
        tones: ToneSettings | None = None,
        emphasis: float = 0.95,
    ) -> None:
        if mode not in VAD_MODES:
            raise ValueError(f"vad_mode: expected one of {VAD_MODES}, got {mode!r}")
        self.format = fmt
        self._vad = webrtcvad.Vad(mode)
        self._tones = ToneDetector(fmt, tones)
        self._hangover = -(-self._tones.settings.hangover_ms // fmt.frame_ms)
        self._emphasis = emphasis
        self._prev_sample = 0.0
        self._frame = 0  # absolute index of the next frame
        self._last_tone = -(10**9)
        self._last_quiet = -(10**9)  # last frame the VAD called non-speech

    def _emphasise(self, frames: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
        # y[n] = x[n] - a*x[n-1]: the VAD hears less DC, hum and rumble (which it otherwise
        # takes for a loud background and then misses speech over it).
        x = frames.reshape(-1).astype(np.float32)
        y = x.copy()
        y[0] -= self._emphasis * self._prev_sample
        y[1:] -= self._emphasis * x[:-1]
        self._prev_sample = float(x[-1])
        return np.clip(y, -32768, 32767).astype("<i2")

    def detect(self, frames: npt.NDArray[np.int16]) -> tuple[BoolArray, BoolArray]:
        """(speech, tone) flags for each frame of the block."""
        n = frames.shape[0]
        if n == 0:
            empty = np.zeros(0, dtype=bool)
            return empty, empty
        pcm = memoryview(self._emphasise(frames).tobytes())
        step = frames.shape[1] * 2  # bytes of one 16-bit frame
        rate = self.format.sample_rate
        is_speech = self._vad.is_speech
        vad = np.fromiter(
            (is_speech(pcm[i : i + step], rate) for i in range(0, n * step, step)),
            dtype=bool,
            count=n,
        )
        tone = self._tones.detect(frames)
        idx = np.arange(self._frame, self._frame + n)
        last_tone = np.maximum.accumulate(np.where(tone, idx, self._last_tone))
        last_quiet = np.maximum.accumulate(np.where(vad, self._last_quiet, idx))
        # The VAD's speech right after a tone, before it has once said "quiet", is hangover.
        after_tone = (idx - last_tone <= self._hangover) & (last_quiet < last_tone)
        speech = vad & ~tone & ~after_tone
        self._frame += n
        self._last_tone = int(last_tone[-1])
        self._last_quiet = int(last_quiet[-1])
        return speech, tone
