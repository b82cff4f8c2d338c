"""Voice activity per frame: webrtcvad, with steady tones kept out of "speech".

webrtcvad calls ringback, dial tone and DTMF speech, and keeps saying so for a 100-200 ms
hangover after they stop. ``ToneDetector`` marks frames whose energy sits in one or two narrow
spectral peaks (``tonal``) and counts how long the same peaks have held still; a run of
``min_ms`` or more is a tone (speech pitch and formants move, and voiced speech spreads its
energy over many harmonics). ``VoiceDetector`` combines both: a tone frame is never speech,
and neither is the VAD's quiet hangover right after a tone.

So that a tone's first frames are flagged too, decisions lag the input by ``min_ms`` (rounded
up to whole frames): a frame is decided once it is known whether its run grows long enough
and whether a tone starts in the next frame. The lag does not depend on how the stream is cut
into blocks, so neither do the flags.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import repeat

import _webrtcvad
import numpy as np
import numpy.typing as npt
import webrtcvad

from cc_core.quality import levels
from cc_core.quality.frames import AudioFormat

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.intp]
Peaks = tuple[BoolArray, IntArray, IntArray]

VAD_MODES = (0, 1, 2, 3)


@dataclass(frozen=True)
class ToneSettings:
    """Thresholds of the tone detector (tuned on sox tones and six espeak-ng voices)."""

    concentration: float = 0.90  # share of frame energy in the two strongest peaks
    second_peak: float = 0.1  # a second peak weaker than this (vs the first) is ignored
    min_ms: int = 60  # a tone must hold still this long (DTMF digits last 40-100 ms)
    hangover_ms: int = 300  # after a tone, quieter "speech" this long is the VAD's hangover
    hangover_drop_db: float = 10.0  # ... quieter by this much than the tone
    lowest_hz: float = 300.0  # call-progress and DTMF tones are all above (from 350 Hz)

    def __post_init__(self) -> None:
        if not 0.0 < self.concentration <= 1.0:
            raise ValueError(f"concentration: expected 0 < x <= 1, got {self.concentration!r}")
        if not 0.0 <= self.second_peak <= 1.0:
            raise ValueError(f"second_peak: expected 0 <= x <= 1, got {self.second_peak!r}")
        if not 0.0 <= self.lowest_hz < 4000.0:
            raise ValueError(f"lowest_hz: expected 0 <= x < 4000, got {self.lowest_hz!r}")
        if self.min_ms < 0 or self.hangover_ms < 0:
            raise ValueError(
                f"min_ms, hangover_ms: expected milliseconds >= 0, got {self.min_ms!r}, "
                f"{self.hangover_ms!r}"
            )


class ToneDetector:
    """Causal, block-vectorized measure of steady one- or two-frequency tones."""

    def __init__(self, fmt: AudioFormat, settings: ToneSettings | None = None) -> None:
        self.settings = settings or ToneSettings()
        # 10 ms frames are measured with the previous frame too: 100 Hz bins are too coarse
        # for two close tones, and their beating empties single 10 ms frames.
        self._span = 2 if fmt.frame_ms < 20 else 1
        n = fmt.samples_per_frame * self._span
        self._window = np.hanning(n)
        self._around = np.arange(-2, 3)  # the first peak's main lobe, hidden to find a second
        span_ms = fmt.frame_ms * self._span
        self._lowest = int(self.settings.lowest_hz * span_ms // 1000)  # bins are 1/span
        self._prev_frame = np.zeros(fmt.samples_per_frame, dtype=np.int16)
        self.min_frames = max(1, -(-self.settings.min_ms // fmt.frame_ms))
        # Carried across blocks: was the last frame tonal, its peaks, its place in its run.
        self._prev_tonal = False
        self._prev_peaks = (-10, -10)
        self._run = 0

    @property
    def span(self) -> int:
        """Frames in one analysis window (2 for 10 ms frames, else 1)."""
        return self._span

    @property
    def prev_tonal(self) -> bool:
        """Whether the last frame measured was tonal."""
        return self._prev_tonal

    @property
    def prev_peaks(self) -> tuple[int, int]:
        """The peaks of the last frame measured (-10: none)."""
        return self._prev_peaks

    @prev_peaks.setter
    def prev_peaks(self, peaks: tuple[int, int]) -> None:
        self._prev_peaks = peaks

    def windows(self, frames: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
        """The analysis window of each frame (10 ms frames: with their previous frame)."""
        if self._span == 1:
            return frames
        previous = np.concatenate((self._prev_frame[None, :], frames[:-1]))
        self._prev_frame = frames[-1].copy()
        return np.hstack((previous, frames))

    def peaks(self, windows: npt.NDArray[np.int16] | npt.NDArray[np.float64]) -> Peaks:
        """(tonal, peak1, peak2) of each window (int16 samples, or the same as float64);
        stateless, so many streams can share a call."""
        spec = np.fft.rfft(windows * self._window, axis=1)
        power = np.square(spec.real)
        power += np.square(spec.imag)
        total = power.sum(axis=1) + 1e-9
        width = power.shape[1]
        flat = power.reshape(-1)
        row_at = np.arange(0, power.size, width)

        def lobe(k: IntArray) -> npt.NDArray[np.float64]:
            # Energy within one bin of bin k: where a tone's main lobe sits. (A peak in bin 0,
            # possible with lowest_hz below one bin, reads the top three bins, as it always has.)
            at = row_at + (k - 1) % (width - 2) + 1
            return flat[at - 1] + flat[at] + flat[at + 1]

        # Signalling tones live in the voice band (DC, hum and rumble are not tones); the
        # top bin is left out so that every peak has a neighbour on either side.
        k1 = power[:, self._lowest : -1].argmax(axis=1) + self._lowest
        e1 = lobe(k1)
        # The first peak's main lobe is hidden to find the second; the lobes are measured
        # on the spectrum as it was. Indices wrap like numpy's negative ones.
        hidden = power.copy()
        lobe_at = np.minimum(k1[:, None] + self._around, width - 1) % width
        hidden.reshape(-1)[(row_at[:, None] + lobe_at).reshape(-1)] = 0.0
        k2 = hidden[:, self._lowest : -1].argmax(axis=1) + self._lowest
        e2 = lobe(k2)
        tonal = (e1 + e2) >= self.settings.concentration * total
        # A weak second peak is noise around a single tone; -10 never matches a real bin.
        k2 = np.where(e2 >= self.settings.second_peak * e1, k2, -10)
        return tonal, k1, k2

    def measure(
        self, frames: npt.NDArray[np.int16], peaks: Peaks | None = None
    ) -> tuple[BoolArray, IntArray, IntArray, IntArray]:
        """(tonal, position, peak1, peak2) of each frame of a block after the previous block.

        ``position`` is the frame's place (1, 2, ...) in its run of tonal frames with the same
        peaks, counting frames of earlier blocks; meaningless where ``tonal`` is false.
        ``peak2`` is -10 where there is no second peak. ``peaks``: ``peaks(windows(frames))``
        when the caller computed it already (for many streams at once).
        """
        n = frames.shape[0]
        tonal, k1, k2 = peaks if peaks is not None else self.peaks(self.windows(frames))
        before = self._prev_peaks
        self._prev_peaks = (int(k1[-1]), int(k2[-1]))
        if not self._prev_tonal and not tonal.any():  # the usual block: speech or noise
            return tonal, np.ones(n, dtype=np.intp), k1, k2
        p1 = np.empty(n + 1, dtype=np.intp)
        p2 = np.empty(n + 1, dtype=np.intp)
        t = np.empty(n + 1, dtype=bool)
        p1[0], p2[0], t[0] = before[0], before[1], self._prev_tonal
        p1[1:], p2[1:], t[1:] = k1, k2, tonal
        link = t[1:] & t[:-1] & same_peaks(k1, k2, p1[:-1], p2[:-1])
        idx = np.arange(n)
        start = np.maximum.accumulate(np.where(link, -1, idx))
        position = np.where(start >= 0, idx - start + 1, idx + 1 + self._run)
        self._run = int(position[-1]) if tonal[-1] else 0
        self._prev_tonal = bool(tonal[-1])
        return tonal, position, k1, k2


def same_peaks(a1: IntArray, a2: IntArray, b1: IntArray, b2: IntArray) -> BoolArray:
    """Whether frames a and b show the same tone, peak by peak within a bin.

    A second peak only counts where both frames have one, and the two peaks may trade
    places (the tones of a dual-tone pair are nearly as strong as each other).
    """
    no_second = (a2 < 0) | (b2 < 0)
    straight = (np.abs(a1 - b1) <= 1) & (no_second | (np.abs(a2 - b2) <= 1))
    crossed = (np.abs(a1 - b2) <= 1) & (np.abs(a2 - b1) <= 1) & ~no_second
    return straight | crossed


class VoiceDetector:
    """One stateful webrtcvad per stream, the tone detector and the tone hangover.

    ``detect`` takes each new block and returns the flags of the frames decided so far, in
    order: ``delay`` frames fewer than given in total, the rest come with later blocks.
    """

    def __init__(
        self,
        fmt: AudioFormat,
        mode: int = 2,
        tones: ToneSettings | None = None,
        emphasis: float = 0.95,
    ) -> None:
        if mode not in VAD_MODES:
            raise ValueError(f"vad_mode: expected one of {VAD_MODES}, got {mode!r}")
        if not 0.0 <= emphasis < 1.0:
            raise ValueError(f"emphasis: expected 0 <= x < 1, got {emphasis!r}")
        self.format = fmt
        self._vad = webrtcvad.Vad(mode)
        self.tones = ToneDetector(fmt, tones)
        settings = self.tones.settings
        # One frame more than the tone's length, to see the frame a tone starts in.
        self.delay = self.tones.min_frames
        self._hangover = -(-settings.hangover_ms // fmt.frame_ms)
        self._hangover_drop = 10.0 ** (-settings.hangover_drop_db / 10.0)
        self._emphasis = emphasis
        self._prev_sample = 0.0
        self._pending = Pending.empty()  # frames measured but not yet decided
        self._edge = (False, -10, -10)  # the last decided frame: (tone run, peak1, peak2)
        self._decided = 0  # absolute index of the next frame to decide
        self._last_tone = -(10**9)
        self._tone_power = 0.0

    @property
    def pending(self) -> Pending:
        """The frames measured but not decided yet (``delay`` of them once running)."""
        return self._pending

    @pending.setter
    def pending(self, pending: Pending) -> None:
        self._pending = pending

    @property
    def quiet_after_tone(self) -> bool:
        """Whether the next frame to decide is past the hangover of the last tone."""
        return self._decided - self._last_tone > self._hangover

    @property
    def tone_edge(self) -> bool:
        """Whether the last frame decided was a tone frame (the next may be its edge)."""
        return self._edge[0]

    def count_decided(self, n: int) -> None:
        """Count ``n`` frames decided elsewhere as "the VAD's word, no tone" (a bank decides
        such blocks for many streams at once)."""
        self._decided += n

    def _run_vad(self, frames: npt.NDArray[np.int16]) -> BoolArray:
        return run_vads([self], frames[None])[0]

    def detect(
        self,
        frames: npt.NDArray[np.int16],
        power: npt.NDArray[np.float64] | None = None,
        peaks: Peaks | None = None,
        vad: BoolArray | None = None,
    ) -> tuple[BoolArray, BoolArray]:
        """(speech, tone) of the frames decided by this block (see the class docstring).

        ``power`` (``levels.frame_power(frames)``), ``peaks`` (``ToneDetector.peaks``) and
        ``vad`` (``run_vads``) may come precomputed, for many streams at once.
        """
        if frames.shape[0] == 0:
            empty = np.zeros(0, dtype=bool)
            return empty, empty
        if power is None:
            power = levels.frame_power(frames)
        tonal, position, k1, k2 = self.tones.measure(frames, peaks)
        p = self._pending
        if vad is None:
            vad = self._run_vad(frames)
        quiet_tone = self._decided - self._last_tone > self._hangover
        n, d = len(vad), self.delay
        if quiet_tone and not self._edge[0] and n >= d and not (tonal.any() or p.tonal.any()):
            # No tone anywhere near: the VAD's word stands (most blocks take this path). The
            # last ``delay`` frames wait, all of them from this block.
            speech = np.concatenate((p.vad, vad[: n - d]))
            self._decided += len(speech)
            waiting = slice(n - d, n)
            self._pending = Pending(
                vad[waiting], tonal[waiting], position[waiting], k1[waiting], k2[waiting],
                power[waiting],
            )  # fmt: skip
            return speech, np.zeros(len(speech), dtype=bool)
        vad = np.concatenate((p.vad, vad))
        tonal = np.concatenate((p.tonal, tonal))
        position = np.concatenate((p.position, position))
        k1 = np.concatenate((p.k1, k1))
        k2 = np.concatenate((p.k2, k2))
        power = np.concatenate((p.power, power))
        need = self.tones.min_frames
        m = max(0, len(vad) - self.delay)
        if quiet_tone and not self._edge[0] and not tonal.any():
            # No tone anywhere near: the VAD's word stands (most blocks take this path).
            self._decided += m
            self._pending = Pending(vad[m:], tonal[m:], position[m:], k1[m:], k2[m:], power[m:])
            return vad[:m], np.zeros(m, dtype=bool)
        # A tonal frame is a tone if its run is, or will be within the lookahead, long enough;
        # known for one frame beyond those decided now.
        c = max(0, len(vad) - need + 1)
        ahead = np.arange(c) + np.maximum(0, need - position[:c])
        core = tonal[:c] & (position[ahead] >= need)
        # The frames a tone starts and stops in are part tone, part not: not tonal enough,
        # but with the same peaks. Count them as tone too (else the VAD calls them speech).
        before = np.zeros(m, dtype=bool)
        after = np.zeros(m, dtype=bool)
        if m:
            nxt = slice(1, m + 1)
            before = core[nxt] & same_peaks(k1[:m], k2[:m], k1[nxt], k2[nxt])
            prev_core = np.concatenate(([self._edge[0]], core[: m - 1]))
            prev_k1 = np.concatenate(([self._edge[1]], k1[: m - 1]))
            prev_k2 = np.concatenate(([self._edge[2]], k2[: m - 1]))
            after = prev_core & same_peaks(k1[:m], k2[:m], prev_k1, prev_k2)
            self._edge = (bool(core[m - 1]), int(k1[m - 1]), int(k2[m - 1]))
        tone = core[:m] | before | after
        idx = np.arange(self._decided, self._decided + m)
        last_tone = np.maximum.accumulate(np.where(tone, idx, self._last_tone))
        # Power of the most recent full tone frame (not an edge), carried forward.
        tone_at = np.maximum.accumulate(np.where(core[:m], np.arange(m), -1))
        tone_power = np.where(tone_at >= 0, power[np.maximum(tone_at, 0)], self._tone_power)
        hangover = (idx - last_tone <= self._hangover) & (
            power[:m] < tone_power * self._hangover_drop
        )
        speech = vad[:m] & ~tone & ~hangover
        if m:
            self._last_tone = int(last_tone[-1])
            self._tone_power = float(tone_power[-1])
        self._decided += m
        self._pending = Pending(vad[m:], tonal[m:], position[m:], k1[m:], k2[m:], power[m:])
        return speech, tone


def run_vads(detectors: Sequence[VoiceDetector], frames: npt.NDArray[np.int16]) -> BoolArray:
    """webrtcvad's flags of a block of frames of each detector's stream, in one pass.

    ``frames``: (streams, frames, samples). Each stream goes through its own pre-emphasis
    and its own stateful VAD, frame by frame in order, exactly as if alone.
    """
    streams, count, samples = frames.shape
    if count == 0:
        return np.zeros((streams, 0), dtype=bool)
    # y[n] = x[n] - a*x[n-1]: the VAD hears less DC, hum and rumble (which it otherwise
    # takes for a loud background and then misses speech over it).
    x = frames.reshape(streams, -1).astype(np.float32)
    prev = np.array([d._prev_sample for d in detectors])
    emphasis = np.array([d._emphasis for d in detectors])
    y = np.empty_like(x)
    y[:, 0] = x[:, 0] - (emphasis * prev).astype(np.float32)  # float32 like the rest
    np.multiply(emphasis.astype(np.float32)[:, None], x[:, :-1], out=y[:, 1:])
    np.subtract(x[:, 1:], y[:, 1:], out=y[:, 1:])
    for d, last in zip(detectors, x[:, -1].tolist(), strict=True):
        d._prev_sample = last
    np.clip(y, -32768, 32767, out=y)
    pcm = memoryview(y.astype("<i2")).cast("B")
    step = samples * 2  # bytes of one 16-bit frame
    frames_at = [pcm[i : i + step] for i in range(0, streams * count * step, step)]
    # One C call per frame into webrtcvad's extension, skipping ``Vad.is_speech``: that
    # wrapper only re-checks the frame length, which the format fixes here, and costs as
    # much again as the VAD itself. Every frame is valid: rate and length come from
    # ``AudioFormat``, which accepts only what webrtcvad does.
    handles = [d._vad._vad for d in detectors for _ in range(count)]
    rates = repeat(detectors[0].format.sample_rate)
    flags = map(_webrtcvad.process, handles, rates, frames_at, repeat(samples))
    return np.fromiter(flags, dtype=bool, count=streams * count).reshape(streams, count)


@dataclass(frozen=True)
class Pending:
    """Per-frame measures of the frames a voice detector has not decided yet."""

    vad: BoolArray
    tonal: BoolArray
    position: IntArray
    k1: IntArray
    k2: IntArray
    power: npt.NDArray[np.float64]

    @classmethod
    def empty(cls) -> Pending:
        none = np.zeros(0, dtype=np.intp)
        return cls(none.astype(bool), none.astype(bool), none, none, none, none.astype(float))
