"""Real test audio: speech from espeak-ng, noise and tones from sox, mixed with numpy.

Files are rendered into a temporary folder at test time; nothing here is synthetic-only
speech. Mixing gains come from levels measured on the rendered files.
"""

from __future__ import annotations

import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt

Samples = npt.NDArray[np.int16]

SPEECH_TEXT = (
    "Thank you for calling the support line. Your call is important to us. "
    "Please tell me your account number and the reason for your call today, "
    "and I will connect you to the right agent as quickly as possible. "
    "While you wait, you can also find answers to common questions on our web site."
)

# Active-speech frames: 20 ms frames of the clean speech louder than this (espeak-ng renders
# true silence between phrases, so the threshold only has to reject that).
ACTIVE_DBFS = -55.0


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise RuntimeError(f"{tool} is not installed (./scripts/test installs it with apt-get)")
    return path


def run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=60)


def speak(out: Path, rate: int = 8000, text: str = SPEECH_TEXT, voice: str = "en") -> Path:
    """espeak-ng speech, resampled by sox to mono 16-bit at ``rate`` (no dither)."""
    raw = out.with_suffix(".espeak.wav")
    run(need("espeak-ng"), "-v", voice, "-w", str(raw), text)
    run(need("sox"), "-D", str(raw), "-r", str(rate), "-c", "1", "-b", "16", str(out))
    return out


def synth(out: Path, *effect: str, rate: int = 8000) -> Path:
    """``sox -n`` synthesis, e.g. synth(p, "synth", "5", "whitenoise", "vol", "0.1")."""
    # -R seeds sox's noise generators: the same audio on every run.
    run(need("sox"), "-R", "-D", "-n", "-r", str(rate), "-c", "1", "-b", "16", str(out), *effect)
    return out


def noise(out: Path, kind: str, seconds: float, rate: int = 8000) -> Path:
    return synth(out, "synth", f"{seconds:.3f}", kind, rate=rate)


def read_wav(path: Path) -> tuple[Samples, int]:
    with wave.open(str(path)) as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise ValueError(f"{path}: expected mono 16-bit PCM")
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.int16)
        return data, w.getframerate()


def write_wav(path: Path, samples: Samples, rate: int) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype("<i2").tobytes())
    return path


def power(x: Samples) -> float:
    return float(np.mean(x.astype(np.float64) ** 2))


def dbfs(p: float) -> float:
    return 10.0 * float(np.log10(max(p, 1e-30) / 32768.0**2))


def active_power(speech: Samples, rate: int) -> float:
    """Mean power of the 20 ms frames of speech louder than ACTIVE_DBFS."""
    n = rate // 50
    frames = speech[: len(speech) // n * n].reshape(-1, n).astype(np.float64)
    p = (frames**2).mean(axis=1)
    return float(p[p > 32768.0**2 * 10 ** (ACTIVE_DBFS / 10)].mean())


def fit(x: Samples, length: int) -> Samples:
    """Repeat or cut ``x`` to ``length`` samples."""
    return np.resize(x, length)


def scale_to(x: Samples, target_dbfs: float) -> npt.NDArray[np.float64]:
    gain = np.sqrt(32768.0**2 * 10 ** (target_dbfs / 10) / power(x))
    return x.astype(np.float64) * gain


def to_int16(x: npt.NDArray[np.float64]) -> Samples:
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def mix_at_snr(speech: Samples, noise_: Samples, rate: int, snr_db: float) -> tuple[Samples, float]:
    """speech + noise scaled so active speech is ``snr_db`` above it; returns (mix, noise dBFS)."""
    n = fit(noise_, len(speech)).astype(np.float64)
    target = active_power(speech, rate) / 10 ** (snr_db / 10)
    n *= np.sqrt(target / power(n.astype(np.int16)))
    return to_int16(speech.astype(np.float64) + n), dbfs(target)
