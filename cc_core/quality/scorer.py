"""The streaming scorer of one audio stream: feed bytes, read snapshots.

Bytes are buffered and analysed a block at a time (``analysis_ms``, 500 ms by default) so the
numpy work is vectorized over many frames; the VAD sees every frame in order. Every figure in a
snapshot covers the last ``window_s`` seconds of audio, kept in fixed-size per-frame rings.
Time is audio time (frames analysed), never the wall clock, so results are reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from cc_core.quality import levels
from cc_core.quality.frames import AudioFormat, Framer
from cc_core.quality.score import stream_score
from cc_core.quality.vad import (
    BoolArray,
    Peaks,
    ToneDetector,
    ToneSettings,
    VoiceDetector,
)

SNR_CEILING_DB = 60.0  # clean synthetic audio over digital silence would be "infinite"
SNR_FLOOR_DB = -10.0

# Listener of each analysed block: (speech, tone) flags of its frames, in order.
BlockListener = Callable[[BoolArray, BoolArray], None]


@dataclass(frozen=True)
class ScorerConfig:
    vad_mode: int = 2  # webrtcvad aggressiveness 0..3
    window_s: float = 10.0  # snapshots describe this much recent audio
    analysis_ms: int = 500  # analyse this much audio at once (numpy works per block)
    noise_percentile: float = 50.0  # of the levels of non-speech frames (the median)
    fallback_percentile: float = 10.0  # of all frames, when too few are non-speech
    min_noise_frames: int = 10  # fewer non-speech frames than this: use the fallback
    min_speech_s: float = 0.5  # less speech than this in the window: no SNR (VAD slips)
    tone_flag_ratio: float = 0.3  # flag the stream as "tone" above this share of frames
    tones: ToneSettings = field(default_factory=ToneSettings)

    def __post_init__(self) -> None:
        if not self.window_s > 0:
            raise ValueError(f"window_s: expected seconds > 0, got {self.window_s!r}")
        if not self.analysis_ms > 0:
            raise ValueError(f"analysis_ms: expected milliseconds > 0, got {self.analysis_ms!r}")
        for name in ("noise_percentile", "fallback_percentile"):
            value = getattr(self, name)
            if not 0.0 <= value <= 100.0:
                raise ValueError(f"{name}: expected a percentile 0..100, got {value!r}")
        if not 0.0 <= self.tone_flag_ratio <= 1.0:
            raise ValueError(f"tone_flag_ratio: expected 0..1, got {self.tone_flag_ratio!r}")


@dataclass(frozen=True)
class StreamSnapshot:
    """Figures of one stream over its window. Levels are dBFS; ratios are 0..1."""

    t: float  # seconds of audio analysed since the stream began
    window_s: float  # seconds of audio these figures cover
    speech_ratio: float  # frames of speech (tones excluded)
    tone_ratio: float  # frames of steady tone (ringback, dial tone, DTMF)
    tone: bool  # tone_ratio above the configured share
    level_dbfs: float  # mean power of all frames
    noise_floor_dbfs: float  # robust percentile of the non-speech frames
    speech_level_dbfs: float | None  # mean power of the speech frames (None: no speech)
    snr_db: float | None  # speech over noise power (None: no speech)
    clipping_ratio: float  # samples at the encoding's peak
    score: float  # stream_score() of the figures above


# ``ndarray.sum`` is this reduction behind two Python layers; a snapshot makes three of them.
_sum = np.add.reduce


class StreamScorer:
    """Scores one direction of audio. Not thread-safe: one owner feeds it."""

    def __init__(self, fmt: AudioFormat, config: ScorerConfig | None = None) -> None:
        self.format = fmt
        self.config = config or ScorerConfig()
        self._framer = Framer(fmt)
        self._voice = VoiceDetector(fmt, self.config.vad_mode, self.config.tones)
        self._block = max(1, self.config.analysis_ms // fmt.frame_ms)
        self._block_bytes = self._block * fmt.bytes_per_frame
        self._size = max(1, round(self.config.window_s * 1000 / fmt.frame_ms))
        self._power = np.zeros(self._size)
        self._level = np.zeros(self._size)
        self._speech = np.zeros(self._size, dtype=bool)
        self._tone = np.zeros(self._size, dtype=bool)
        self._clipped = np.zeros(self._size, dtype=np.int64)
        self._pending_power = np.zeros(0)
        self._pending_clipped = np.zeros(0, dtype=np.intp)
        self._frames = 0  # frames decided since the start
        self._listeners: list[BlockListener] = []

    @property
    def frames_analysed(self) -> int:
        return self._frames

    @property
    def seconds(self) -> float:
        return self._frames * self.format.frame_seconds

    @property
    def tones(self) -> ToneDetector:
        return self._voice.tones

    @property
    def voice(self) -> VoiceDetector:
        return self._voice

    @property
    def block_bytes(self) -> int:
        """Bytes of one analysis block."""
        return self._block_bytes

    @property
    def has_listeners(self) -> bool:
        return bool(self._listeners)

    @property
    def pending_frames(self) -> int:
        """Frames analysed but not decided yet (they wait for the voice detector)."""
        return len(self._pending_power)

    @property
    def pending_levels(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.intp]]:
        """Power and clipped samples of the frames not decided yet."""
        return self._pending_power, self._pending_clipped

    @pending_levels.setter
    def pending_levels(self, levels_: tuple[npt.NDArray[np.float64], npt.NDArray[np.intp]]) -> None:
        self._pending_power, self._pending_clipped = levels_

    def advance(self, n: int) -> None:
        """Count ``n`` frames that a bank decided and wrote into this scorer's rings itself
        (no tone, the VAD's word as speech); listeners are not called."""
        self._frames += n
        self._voice.count_decided(n)

    @property
    def rings(self) -> tuple[npt.NDArray[np.generic], ...]:
        """The per-frame rings: power, level, speech, tone, clipped samples."""
        return (self._power, self._level, self._speech, self._tone, self._clipped)

    def use_rings(self, rings: Sequence[npt.NDArray[np.generic]]) -> None:
        """Keep the rings in the given arrays (e.g. rows of a bank's 2-D arrays), contents
        copied over; same order, lengths and dtypes as ``rings``."""
        for mine, theirs in zip(self.rings, rings, strict=True):
            if theirs.shape != mine.shape or theirs.dtype != mine.dtype:
                raise ValueError(
                    f"rings: expected {mine.dtype} of shape {mine.shape}, got {theirs.dtype} "
                    f"of shape {theirs.shape}"
                )
            theirs[...] = mine
        self._power, self._level, self._speech, self._tone, self._clipped = rings

    def buffer(self, data: bytes | bytearray | memoryview) -> None:
        """Buffer audio without analysing it (a ``ScorerBank`` analyses its streams itself)."""
        self._framer.push(data)

    def add_listener(self, listener: BlockListener) -> None:
        self._listeners.append(listener)

    def push(self, data: bytes | bytearray | memoryview) -> int:
        """Feed audio of any length; returns how many frames were decided now.

        Frames are decided a block at a time and ``ToneSettings.min_ms`` after they arrive,
        the time it takes to know whether a steady tone began.
        """
        self._framer.push(data)
        if self._framer.buffered < self._block_bytes:  # the common case: one packet more
            return 0
        done = 0
        while self._framer.pending_frames >= self._block:
            done += self.analyse(self._framer.take(self._block))
        return done

    def flush(self) -> int:
        """Analyse every whole frame still buffered (a trailing partial frame waits)."""
        return self.analyse(self._framer.take()) if self._framer.pending_frames else 0

    def analyse(
        self,
        frames: npt.NDArray[np.int16],
        new_power: npt.NDArray[np.float64] | None = None,
        new_clipped: npt.NDArray[np.intp] | None = None,
        peaks: Peaks | None = None,
        vad: BoolArray | None = None,
    ) -> int:
        """Analyse whole frames; the frame-local measures may come computed for many streams."""
        if new_power is None:
            new_power = levels.frame_power(frames)
        if new_clipped is None:
            new_clipped = levels.clipped_counts(frames, self.format.peak)
        speech, tone = self._voice.detect(frames, new_power, peaks, vad)
        # The voice detector decides frames with a short lag; their levels wait with them.
        power = np.concatenate((self._pending_power, new_power))
        clipped = np.concatenate((self._pending_clipped, new_clipped))
        n = len(speech)
        self._pending_power, self._pending_clipped = power[n:], clipped[n:]
        if n == 0:
            return 0
        keep = min(n, self._size)  # a block longer than the window keeps its tail
        new = (
            power[n - keep : n],
            levels.power_to_dbfs(power[n - keep : n]),
            speech[n - keep :],
            tone[n - keep :],
            clipped[n - keep : n],
        )
        rings = (self._power, self._level, self._speech, self._tone, self._clipped)
        # The ring positions as one or two slices (the block may wrap around the end).
        start = (self._frames + n - keep) % self._size
        first = min(keep, self._size - start)
        for ring, values in zip(rings, new, strict=True):
            ring[start : start + first] = values[:first]
            if first < keep:
                ring[: keep - first] = values[first:]
        self._frames += n
        for listener in self._listeners:
            listener(speech, tone)
        return n

    def snapshot(self) -> StreamSnapshot:
        """Figures over the window; analyses buffered whole frames first."""
        return snapshots([self])[0]


def _no_audio() -> StreamSnapshot:
    return StreamSnapshot(
        0.0, 0.0, 0.0, 0.0, False, levels.SILENCE_DBFS, levels.SILENCE_DBFS,
        None, None, 0.0, stream_score(None, levels.SILENCE_DBFS, 0.0),
    )  # fmt: skip


# From this many rows on, one sort of all rows finds the noise floors faster than a
# selection per row.
_SORT_ROWS = 8


def _noise_floors(
    cfg: ScorerConfig,
    level: npt.NDArray[np.float64],
    quiet: BoolArray,
    valid: BoolArray | None,
    quiet_counts: list[int],
    counts: list[int],
) -> list[float]:
    """Per row: a percentile of the quiet frames' levels, or of all frames when too few are
    quiet; the k-th smallest level with k = round(q / 100 * (m - 1)), rounded half to even.

    The k-th smallest value does not depend on how it is found, so a row gets the same
    floor from a selection alone as from a sort among many rows.
    """
    by_quiet = [c >= cfg.min_noise_frames for c in quiet_counts]
    ks = []  # as ``round`` gives it on Python floats (numpy's small-array calls cost more)
    for use_quiet, quiet_n, n in zip(by_quiet, quiet_counts, counts, strict=True):
        m = quiet_n if use_quiet else n
        q = cfg.noise_percentile if use_quiet else cfg.fallback_percentile
        ks.append(min(m - 1, max(0, round(q / 100.0 * (m - 1)))))
    if len(level) >= _SORT_ROWS:
        # One row-wise sort, the frames outside each row's pool pushed to +inf.
        pool = np.where(np.array(by_quiet)[:, None], quiet, True if valid is None else valid)
        ranked = np.sort(np.where(pool, level, np.inf), axis=1)
        return ranked[np.arange(len(level)), ks].tolist()
    floors = []
    rows = zip(level, quiet, by_quiet, counts, ks, strict=True)
    for row, quiet_row, use_quiet, n, kth in rows:
        values = row[quiet_row] if use_quiet else row[:n]
        # An empty window gets no floor from here (its snapshot is "no audio").
        floors.append(float(np.partition(values, kth)[kth]) if len(values) else levels.SILENCE_DBFS)
    return floors


def snapshots(
    scorers: Sequence[StreamScorer],
    rings: Sequence[npt.NDArray[np.generic]] | None = None,
) -> list[StreamSnapshot]:
    """``scorer.snapshot()`` of each scorer (one format and config), computed for all of them
    at once: counts, sums and noise floors are row-wise numpy calls, one per figure.

    A single scorer goes through the same rows (one row), so a bank's snapshots equal those
    of its streams scored alone, bit for bit. ``rings``: the scorers' rings as 2-D arrays, one
    row per scorer in order (``StreamScorer.rings`` stacked), when the caller has them so.
    """
    for scorer in scorers:
        scorer.flush()
    cfg, fmt = scorers[0].config, scorers[0].format
    size = scorers[0]._size
    counts = [min(s._frames, size) for s in scorers]
    if rings is None and len(scorers) == 1:
        rings = [r[None] for r in scorers[0].rings]  # a view as the only row: no copy
    elif rings is None:
        rings = [np.stack(r) for r in zip(*(s.rings for s in scorers), strict=True)]
    power, level, speech, tone, clipped = rings
    quiet = ~(speech | tone)
    valid = None
    if min(counts) < size:  # a window not full yet: its unwritten tail is not "quiet"
        valid = np.arange(size) < np.array(counts)[:, None]
        quiet &= valid
    # Integers: these sums are exact in any order (the unwritten tail holds zeros).
    speech_counts = _sum(speech, axis=1).tolist()
    quiet_counts = _sum(quiet, axis=1).tolist()
    clipped_counts = _sum(clipped, axis=1)
    # Sums over whole rows (the unwritten tail holds zeros): the same reduction for a row of
    # a bank and for a scorer alone.
    power_sums = _sum(power, axis=1)
    speech_sums = _sum(np.where(speech, power, 0.0), axis=1)
    noise_floors = _noise_floors(cfg, level, quiet, valid, quiet_counts, counts)
    out = []
    rows = zip(
        scorers, counts, speech_counts, _sum(tone, axis=1).tolist(),
        noise_floors, power_sums.tolist(), speech_sums.tolist(),
        clipped_counts.tolist(), strict=True,
    )  # fmt: skip
    frame_s, samples = fmt.frame_seconds, fmt.samples_per_frame
    for scorer, n, speech_frames, tone_frames, noise_floor, power_sum, speech_sum, clips in rows:
        if n == 0:
            out.append(_no_audio())
            continue
        speech_level: float | None = None
        snr: float | None = None
        if speech_frames * frame_s >= cfg.min_speech_s:
            # Scalars go through math, not numpy: a snapshot is taken for every block.
            speech_power = speech_sum / speech_frames
            speech_level = levels.scalar_dbfs(speech_power)
            noise_power = levels.dbfs_to_power(noise_floor)
            clean = max(speech_power - noise_power, noise_power * 10 ** (SNR_FLOOR_DB / 10))
            snr = min(SNR_CEILING_DB, 10.0 * math.log10(clean / noise_power))
        clipping = clips / (n * samples)
        tone_ratio = tone_frames / n
        out.append(
            StreamSnapshot(
                t=scorer.seconds,
                window_s=n * frame_s,
                speech_ratio=speech_frames / n,
                tone_ratio=tone_ratio,
                tone=tone_ratio > cfg.tone_flag_ratio,
                level_dbfs=levels.scalar_dbfs(power_sum / n),
                noise_floor_dbfs=noise_floor,
                speech_level_dbfs=speech_level,
                snr_db=snr,
                clipping_ratio=clipping,
                score=stream_score(snr, noise_floor, clipping),
            )
        )
    return out
