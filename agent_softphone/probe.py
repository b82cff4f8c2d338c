"""The edge probe: the agent's microphone analysed with `cc_core.quality`, the machine's CPU
load, and the RTP figures the phone adds, gathered into one `EdgeReport`.

Outside calls everything the microphone hears is the agent's surroundings: its noise floor
and the share of it webrtcvad calls speech (colleagues, a television) are what the report
carries. During a call the agent talks, so the microphone's own stream score (SNR, noise,
clipping) is reported instead. The probe takes audio as it comes (16-bit mono PCM bytes) and
keeps no clock of its own: the caller paces it (real time from a sound device or a WAV
player's position; tests may go faster).
"""

from __future__ import annotations

import os
import wave
from dataclasses import dataclass
from pathlib import Path

from cc_core.acd.agent_quality import EdgeReport
from cc_core.quality import AudioFormat, Encoding, ScorerConfig, StreamScorer

# Short windows: a report every few seconds must follow a change within seconds.
IDLE_WINDOW_S = 3.0
CALL_WINDOW_S = 5.0
# Less audio than this in a window and the figures are not yet worth sending.
MIN_AUDIO_S = 1.0


class AudioFileError(ValueError):
    """A microphone file the probe cannot read (the message names the file and why)."""


@dataclass(frozen=True, slots=True)
class NetworkFigures:
    jitter_ms: float | None = None
    loss_ratio: float | None = None
    rtt_ms: float | None = None


class MicProbe:
    """Microphone figures outside and during calls. Not thread-safe: one owner feeds it."""

    def __init__(
        self,
        rate: int = 8000,
        *,
        idle_window_s: float = IDLE_WINDOW_S,
        call_window_s: float = CALL_WINDOW_S,
    ) -> None:
        if rate not in (8000, 16000):
            raise ValueError(f"rate: expected 8000 or 16000 Hz, got {rate!r}")
        self.format = AudioFormat(rate, Encoding.PCM16, 20)
        self._idle_config = ScorerConfig(window_s=idle_window_s, analysis_ms=200)
        self._call_config = ScorerConfig(window_s=call_window_s, analysis_ms=200)
        self._idle = StreamScorer(self.format, self._idle_config)
        self._call: StreamScorer | None = None

    @property
    def in_call(self) -> bool:
        return self._call is not None

    def call_started(self) -> None:
        self._call = StreamScorer(self.format, self._call_config)

    def call_ended(self) -> None:
        # The surroundings are measured afresh: the call's speech is not background.
        self._call = None
        self._idle = StreamScorer(self.format, self._idle_config)

    @property
    def ready(self) -> bool:
        """Enough audio for figures (a report without them would be CPU and network only)."""
        scorer = self._call or self._idle
        return scorer.seconds >= MIN_AUDIO_S + self._idle_config.analysis_ms / 1000

    def feed(self, pcm: bytes) -> None:
        (self._call or self._idle).push(pcm)

    def report(
        self, network: NetworkFigures | None = None, cpu_load: float | None = None
    ) -> EdgeReport:
        net = network or NetworkFigures()
        noise = speech = mic = None
        if self._call is None:
            snap = self._idle.snapshot()
            if snap.window_s >= MIN_AUDIO_S:
                noise, speech = round(snap.noise_floor_dbfs, 2), round(snap.speech_ratio, 4)
        else:
            snap = self._call.snapshot()
            if snap.window_s >= MIN_AUDIO_S:
                mic = round(snap.score, 4)
        return EdgeReport(
            noise_floor_dbfs=noise,
            speech_ratio=speech,
            mic_score=mic,
            jitter_ms=net.jitter_ms,
            loss_ratio=net.loss_ratio,
            rtt_ms=net.rtt_ms,
            cpu_load=cpu_load,
            in_call=self._call is not None,
        )


class CpuMeter:
    """The machine's CPU busy share between two readings of /proc/stat (None elsewhere)."""

    def __init__(self, stat: Path = Path("/proc/stat")) -> None:
        self._stat = stat
        self._last = self._read()

    def _read(self) -> tuple[int, int] | None:
        try:
            with self._stat.open() as f:
                values = [int(v) for v in f.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
        return sum(values), idle

    def load(self) -> float | None:
        now = self._read()
        last, self._last = self._last, now
        if now is None or last is None or now[0] <= last[0]:
            return None
        total, idle = now[0] - last[0], now[1] - last[1]
        return round(min(1.0, max(0.0, 1.0 - idle / total)), 4)


class WavMic:
    """A 16-bit mono WAV file as a microphone, looping; `read` hands out the next samples."""

    def __init__(self, path: Path | str, *, loop: bool = True) -> None:
        self.path = Path(path)
        try:
            with wave.open(os.fspath(self.path), "rb") as w:
                channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
                self.pcm = w.readframes(w.getnframes())
        except (OSError, EOFError, wave.Error) as exc:
            raise AudioFileError(f"{self.path}: not a readable WAV file ({exc})") from None
        if channels != 1 or width != 2 or rate not in (8000, 16000):
            raise AudioFileError(
                f"{self.path}: expected 16-bit mono at 8000 or 16000 Hz, got "
                f"{width * 8}-bit, {channels} channel(s), {rate} Hz"
            )
        if not self.pcm:
            raise AudioFileError(f"{self.path}: no audio")
        self.rate = rate
        self.loop = loop
        self._pos = 0  # in bytes

    @property
    def samples(self) -> int:
        return len(self.pcm) // 2

    def read(self, samples: int) -> bytes:
        """The next ``samples`` samples (fewer at the end of a file that does not loop)."""
        want = samples * 2
        out = bytearray()
        while len(out) < want:
            if self._pos >= len(self.pcm):
                if not self.loop:
                    break
                self._pos = 0
            chunk = self.pcm[self._pos : self._pos + want - len(out)]
            out += chunk
            self._pos += len(chunk)
        return bytes(out)

    def read_until(self, sample_pos: int) -> bytes:
        """The samples from where the last read stopped up to ``sample_pos`` in the file (a
        player's position; a smaller one means the player wrapped around)."""
        here = self._pos // 2
        if sample_pos >= here:
            return self.read(sample_pos - here)
        return self.read(self.samples - here + sample_pos)
