"""Many streams of one format scored together: the frame-local numpy work is done once per
tick for every stream that has a block ready, instead of once per stream.

For a media server that receives packets for hundreds of calls: ``push`` each packet as it
comes, call ``tick`` once per packet cycle (e.g. every 20 ms). Results are identical to
scoring each stream with its own ``StreamScorer``; only the numpy calls are shared. Every
stream still has its own VAD state, tone runs, rings and snapshots.

The rings of all streams are rows of the bank's 2-D arrays, and a stream with no tone near
(the usual case) is decided together with the others like it: its last undecided frames then
wait in the bank's rows rather than in its voice detector, and go back there before anything
else looks at the stream.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from cc_core.quality import levels
from cc_core.quality.frames import AUDIO_TYPES, AudioFormat, to_pcm16
from cc_core.quality.scorer import ScorerConfig, StreamScorer, StreamSnapshot, snapshots
from cc_core.quality.vad import BoolArray, IntArray, Pending, run_vads

SnapshotSink = Callable[[int, StreamSnapshot], None]

# Frames of one group of streams (a few hundred fit the CPU cache; measured on 20 ms frames:
# 512 did a little better than 256 and 1024 once quiet blocks were decided row-wise).
GROUP_FRAMES = 512

FloatArray = npt.NDArray[np.float64]


class ScorerBank:
    """Stream scorers sharing one format and config; streams are numbered from 0."""

    def __init__(
        self,
        fmt: AudioFormat,
        config: ScorerConfig | None = None,
        on_snapshot: SnapshotSink | None = None,
        check_s: float = 0.5,
    ) -> None:
        if not check_s > 0:
            raise ValueError(f"check_s: expected seconds > 0, got {check_s!r}")
        self.format = fmt
        self.config = config or ScorerConfig()
        self._scorers: dict[int, StreamScorer] = {}
        # Audio waits here, not in each scorer, so that a tick decodes all streams at once:
        # the packets as they came (joined once per block, cheaper than growing a buffer per
        # packet) and how many bytes they hold.
        self._buffers: dict[int, list[bytes]] = {}
        self._buffered: dict[int, int] = {}
        self._block_bytes = StreamScorer(fmt, self.config).block_bytes
        # Streams analysed together: about GROUP_FRAMES frames of numpy work at a time.
        self._group = max(1, GROUP_FRAMES // (self._block_bytes // fmt.bytes_per_frame))
        self._next_check: dict[int, float] = {}
        self._ready: set[int] = set()
        self._next_id = 0
        self._on_snapshot = on_snapshot
        self._check_s = check_s
        probe = StreamScorer(fmt, self.config)
        self._delay = probe.voice.delay
        # Row of each stream in the 2-D arrays; rows of closed streams are used again.
        self._row: dict[int, int] = {}
        self._free_rows: list[int] = []
        self._rings = [np.zeros((0, *r.shape), dtype=r.dtype) for r in probe.rings]
        # The undecided frames of streams decided together ("held" streams): VAD flags,
        # power, clipped samples and tone peaks of the last ``delay`` frames.
        self._held: set[int] = set()
        d = self._delay
        self._pend_vad = np.zeros((0, d), dtype=bool)
        self._pend_power = np.zeros((0, d))
        self._pend_clipped = np.zeros((0, d), dtype=np.intp)
        self._pend_k1 = np.zeros((0, d), dtype=np.intp)
        self._pend_k2 = np.zeros((0, d), dtype=np.intp)

    def open(self) -> int:
        """Start a stream; returns its number."""
        sid = self._next_id
        self._next_id += 1
        scorer = StreamScorer(self.format, self.config)
        self._scorers[sid] = scorer
        self._buffers[sid] = []
        self._buffered[sid] = 0
        self._next_check[sid] = 0.0
        if not self._free_rows:
            self._grow()
        row = self._free_rows.pop()
        self._row[sid] = row
        scorer.use_rings([ring[row] for ring in self._rings])
        return sid

    def _grow(self) -> None:
        """Double the rows of the 2-D arrays; open streams move their rings over."""
        old = self._rings[0].shape[0]
        new = max(16, 2 * old)

        def grown(a: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
            b = np.zeros((new, *a.shape[1:]), dtype=a.dtype)
            b[:old] = a
            return b

        self._rings = [grown(r) for r in self._rings]
        self._pend_vad, self._pend_power, self._pend_clipped, self._pend_k1, self._pend_k2 = (
            grown(a)
            for a in (
                self._pend_vad, self._pend_power, self._pend_clipped, self._pend_k1, self._pend_k2
            )
        )  # fmt: skip
        for sid, row in self._row.items():
            self._scorers[sid].use_rings([ring[row] for ring in self._rings])
        self._free_rows.extend(range(new - 1, old - 1, -1))  # lowest first

    def close(self, sid: int) -> StreamSnapshot:
        """End a stream; returns its last snapshot."""
        snap = self.snapshot(sid)
        del self._scorers[sid], self._buffers[sid], self._buffered[sid], self._next_check[sid]
        self._ready.discard(sid)
        self._held.discard(sid)
        # The next stream in this row starts from an empty window: ``use_rings`` copies its
        # fresh rings over.
        self._free_rows.append(self._row.pop(sid))
        return snap

    def snapshot(self, sid: int) -> StreamSnapshot:
        """The stream's snapshot, counting every whole frame pushed so far."""
        scorer = self.scorer(sid)
        data = self._take(sid)
        # Whole frames only: a partial frame stays here, ahead of the bytes still to come.
        whole = len(data) - len(data) % self.format.bytes_per_frame
        scorer.buffer(data[:whole])
        self._keep(sid, data[whole:])
        return scorer.snapshot()

    def _take(self, sid: int) -> bytes:
        """All bytes buffered for the stream, removed from the buffer."""
        parts = self._buffers[sid]
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        parts.clear()
        self._buffered[sid] = 0
        return data

    def _keep(self, sid: int, rest: bytes) -> None:
        """Put bytes back at the head of the stream's (empty) buffer."""
        if rest:
            self._buffers[sid].append(rest)
            self._buffered[sid] = len(rest)

    def scorer(self, sid: int) -> StreamScorer:
        """The stream's scorer, with all of its state in it now. Reading it stays safe; feed
        it directly only before the bank's next ``tick`` (the bank may take its undecided
        frames back into its rows then), or take it again through this method."""
        try:
            scorer = self._scorers[sid]
        except KeyError:
            raise KeyError(f"stream {sid}: not open in this bank") from None
        if sid in self._held:
            self._release(sid, scorer)
        return scorer

    def _hold(self, sid: int, scorer: StreamScorer) -> bool:
        """Whether the stream's next block, if it has no tonal frame, can be decided with the
        others like it: no tone near, a full lag of undecided frames, none of them tonal.
        Moves the undecided frames into the bank's rows."""
        if sid in self._held:
            # No tone since it was held, and the last tone's hangover only grows more distant.
            return True
        voice = scorer.voice
        p = voice.pending
        d = self._delay
        if (
            not voice.quiet_after_tone
            or voice.tone_edge
            or scorer.tones.prev_tonal
            or scorer.has_listeners
            or len(p.vad) != d
            or scorer.pending_frames != d
            or p.tonal.any()
        ):
            return False
        row = self._row[sid]
        power, clipped = scorer.pending_levels
        self._pend_vad[row] = p.vad
        self._pend_power[row] = power
        self._pend_clipped[row] = clipped
        self._pend_k1[row] = p.k1
        self._pend_k2[row] = p.k2
        self._held.add(sid)
        return True

    def _release(self, sid: int, scorer: StreamScorer) -> None:
        """Give a held stream's undecided frames back to its scorer and voice detector."""
        self._held.discard(sid)
        row = self._row[sid]
        d = self._delay
        k1, k2 = self._pend_k1[row].copy(), self._pend_k2[row].copy()
        power = self._pend_power[row].copy()
        scorer.voice.pending = Pending(
            self._pend_vad[row].copy(), np.zeros(d, dtype=bool), np.ones(d, dtype=np.intp),
            k1, k2, power,
        )  # fmt: skip
        scorer.pending_levels = (power.copy(), self._pend_clipped[row].copy())
        # The tone detector's memory of the last frame seen: the last undecided one.
        scorer.tones.prev_peaks = (int(k1[-1]), int(k2[-1]))

    def __len__(self) -> int:
        return len(self._scorers)

    def push(self, sid: int, data: bytes | bytearray | memoryview) -> None:
        """Buffer audio of a stream; it is analysed at the next ``tick``."""
        try:
            parts = self._buffers[sid]
        except KeyError:
            raise KeyError(f"stream {sid}: not open in this bank") from None
        if data.__class__ is not bytes:  # a caller may reuse a mutable buffer: copy it
            if not isinstance(data, AUDIO_TYPES):
                raise TypeError(f"audio data: expected bytes, got {type(data).__name__}")
            data = bytes(data)
        parts.append(data)
        buffered = self._buffered[sid] + len(data)
        self._buffered[sid] = buffered
        if buffered >= self._block_bytes:
            self._ready.add(sid)

    def tick(self) -> int:
        """Analyse every stream that has a whole block buffered; returns frames analysed."""
        done = 0
        while self._ready:
            ready = sorted(self._ready)
            self._ready.clear()
            # A few streams at a time: the temporaries of a group stay in the CPU cache, where
            # those of hundreds of streams at once would be fresh pages every tick.
            for at in range(0, len(ready), self._group):
                done += self._analyse(ready[at : at + self._group])
        return done

    def _analyse(self, ready: list[int]) -> int:
        """Analyse one block of each of ``ready`` (streams with a whole block buffered)."""
        done = 0
        scorers = [self._scorers[sid] for sid in ready]
        size = self._block_bytes
        chunks = []
        for sid in ready:
            data = self._take(sid)
            chunks.append(data[:size])
            self._keep(sid, data[size:])
            if len(data) - size >= size:
                self._ready.add(sid)
        pcm = to_pcm16(b"".join(chunks), self.format.encoding)
        frames = pcm.reshape(len(ready), -1, self.format.samples_per_frame)
        block = frames.shape[1]
        flat = frames.reshape(-1, frames.shape[2])
        samples = flat.astype(np.float64)  # once for the levels and the tone spectrum
        power = levels.frame_power(samples).reshape(len(ready), block)
        clipped = levels.clipped_counts(flat, self.format.peak).reshape(len(ready), block)
        tones = scorers[0].tones  # the same settings in every stream
        windows: npt.NDArray[np.int16] | FloatArray
        if tones.span == 1:  # a frame is its own window
            windows = samples
        else:
            windows = np.concatenate(
                [s.tones.windows(f) for s, f in zip(scorers, frames, strict=True)]
            )
        tonal, k1, k2 = tones.peaks(windows)
        tonal, k1, k2 = (a.reshape(len(ready), block) for a in (tonal, k1, k2))
        vad = run_vads([s.voice for s in scorers], frames)
        quiet: list[int] = []
        tonal_rows = tonal.any(axis=1).tolist() if block >= self._delay else [True] * len(ready)
        held = self._held
        for i, (sid, scorer) in enumerate(zip(ready, scorers, strict=True)):
            if not tonal_rows[i] and (sid in held or self._hold(sid, scorer)):
                quiet.append(i)
                continue
            if sid in held:
                self._release(sid, scorer)
            peaks = (tonal[i], k1[i], k2[i])
            done += scorer.analyse(frames[i], power[i], clipped[i], peaks, vad[i])
        if quiet:
            done += self._decide_quiet(quiet, ready, scorers, power, clipped, k1, k2, vad)
        due: list[int] = []
        for i, (sid, scorer) in enumerate(zip(ready, scorers, strict=True)):
            seconds = scorer.seconds
            if seconds >= self._next_check[sid] - 1e-9:
                self._next_check[sid] = seconds + self._check_s
                due.append(i)
        if self._on_snapshot is not None and due:
            rows = [self._row[ready[i]] for i in due]
            rings = [ring[rows] for ring in self._rings]  # held streams' rings are current
            for i, snap in zip(due, snapshots([scorers[i] for i in due], rings), strict=True):
                self._on_snapshot(ready[i], snap)
        return done

    def _decide_quiet(
        self,
        quiet: list[int],
        ready: list[int],
        scorers: list[StreamScorer],
        power: FloatArray,
        clipped: IntArray,
        k1: IntArray,
        k2: IntArray,
        vad: BoolArray,
    ) -> int:
        """Decide the blocks of held streams with no tonal frame, all at once: what
        ``VoiceDetector.detect`` and ``StreamScorer.analyse`` do for such a block, row-wise.

        The VAD's word stands for the held frames and all but the last ``delay`` new ones,
        which wait in the bank's rows; nothing is a tone.
        """
        at = np.array(quiet)
        rows = np.array([self._row[ready[i]] for i in quiet])
        n, d = vad.shape[1], self._delay
        cut = n - d
        speech = np.concatenate((self._pend_vad[rows], vad[at, :cut]), axis=1)
        new_power = np.concatenate((self._pend_power[rows], power[at, :cut]), axis=1)
        new_clipped = np.concatenate((self._pend_clipped[rows], clipped[at, :cut]), axis=1)
        self._pend_vad[rows] = vad[at, cut:]
        self._pend_power[rows] = power[at, cut:]
        self._pend_clipped[rows] = clipped[at, cut:]
        self._pend_k1[rows] = k1[at, cut:]
        self._pend_k2[rows] = k2[at, cut:]
        # Ring positions of each row (a block longer than the window keeps its tail).
        ring_size = self._rings[0].shape[1]
        keep = min(n, ring_size)
        started = np.array([scorers[i].frames_analysed for i in quiet])
        cols = (started[:, None] + (n - keep) + np.arange(keep)) % ring_size
        new_power = new_power[:, n - keep :]
        values = (
            new_power,
            levels.power_to_dbfs(new_power),
            speech[:, n - keep :],
            False,
            new_clipped[:, n - keep :],
        )
        where = (rows[:, None], cols)
        for ring, value in zip(self._rings, values, strict=True):
            ring[where] = value
        for i in quiet:
            scorers[i].advance(n)
        return n * len(quiet)
