"""Audio for the demo's calls: one scripted conversation, the customer's and the agent's turns
on two tracks (each silent while the other speaks), so the media fork scores real speech
instead of raising dead-air alerts. Speech from espeak-ng; some agents sit in a noisy room
(sox pink noise mixed in at a set SNR). Built once into ``<work>/audio`` and kept: a file
whose name (a hash of what it holds) already exists is not rendered again.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RATE = 8000
GAP_S = 0.6  # silence between two turns: a natural pause, well under the dead-air alert
# (speaker, line): the conversation repeats until the track is long enough.
DIALOGUE = (
    ("agent", "Thank you for calling, this is the support desk. How can I help you today?"),
    ("customer", "Hello. My internet connection keeps dropping every evening."),
    ("agent", "I am sorry to hear that. Can you tell me your account number, please?"),
    ("customer", "Yes, it is four five six, seven eight nine, one two three."),
    ("agent", "Thank you. I can see your line. Has anything changed at home recently?"),
    ("customer", "We moved the router to the living room last week."),
    ("agent", "That may be it. Please restart the router and wait two minutes."),
    ("customer", "All right, I am doing it now. The lights are blinking."),
    ("agent", "Good. I am running a line test from here while it starts."),
    ("customer", "It looks stable now. Should I call back if it drops again?"),
    ("agent", "Yes, please do, and mention this call. Is there anything else?"),
    ("customer", "No, that was all. Thank you very much for your help."),
)
# Agents whose index in agents.yaml falls on these get a noisy room (SNR in dB).
NOISY_EVERY = 3
NOISY_SNR_DB = 10.0


class AudioBuildError(RuntimeError):
    """A tool the demo's audio needs is missing or failed (the message says which)."""


@dataclass(frozen=True)
class DemoAudio:
    customer: Path
    agent_clean: Path
    agent_noisy: Path

    def for_agent(self, index: int) -> Path:
        return self.agent_noisy if index % NOISY_EVERY == NOISY_EVERY - 1 else self.agent_clean


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise AudioBuildError(f"{name} not found (scripts/lib.sh installs it)")
    return found


def _run(*args: str) -> None:
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise AudioBuildError(f"{' '.join(args[:2])}...: {done.stderr.strip()[:300]}")


def _read(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)


def _write(path: Path, samples: np.ndarray) -> None:
    tmp = path.with_suffix(".tmp")
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(np.clip(np.round(samples), -32768, 32767).astype("<i2").tobytes())
    tmp.replace(path)  # a half-written file never looks built


def _speak(text: str, voice: str, folder: Path) -> np.ndarray:
    raw, out = folder / "raw.wav", folder / "line.wav"
    _run(_tool("espeak-ng"), "-v", voice, "-w", str(raw), text)
    _run(_tool("sox"), "-D", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", str(out))
    return _read(out)


def _tracks(seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """The conversation laid out on two tracks of at least ``seconds``."""
    with tempfile.TemporaryDirectory() as tmp:
        lines = [
            (who, _speak(text, "en+m3" if who == "agent" else "en+f3", Path(tmp)))
            for who, text in DIALOGUE
        ]
    gap = np.zeros(int(GAP_S * RATE))
    customer: list[np.ndarray] = []
    agent: list[np.ndarray] = []
    total = 0
    while total < seconds * RATE:
        for who, speech in lines:
            quiet = np.zeros(len(speech))
            customer += [speech if who == "customer" else quiet, gap]
            agent += [speech if who == "agent" else quiet, gap]
            total += len(speech) + len(gap)
    return np.concatenate(customer), np.concatenate(agent)


def _with_noise(speech: np.ndarray, snr_db: float, folder: Path) -> np.ndarray:
    path = folder / "pink.wav"
    seconds = f"{len(speech) / RATE + 0.1:.2f}"
    _run(_tool("sox"), "-R", "-D", "-n", "-r", str(RATE), "-c", "1", "-b", "16", str(path),
         "synth", seconds, "pinknoise")  # fmt: skip
    hiss = _read(path)[: len(speech)]
    active = speech[np.abs(speech) > 0]
    p_speech = float(np.mean(active**2)) if len(active) else 1.0
    gain = np.sqrt(p_speech / (float(np.mean(hiss**2)) * 10 ** (snr_db / 10)))
    return speech + gain * hiss


def build_demo_audio(work: Path, seconds: float = 150.0) -> DemoAudio:
    """The customer's track and the agent's (clean and noisy), built or reused."""
    folder = work / "audio"
    folder.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(repr((DIALOGUE, seconds, GAP_S, NOISY_SNR_DB)).encode()).hexdigest()
    audio = DemoAudio(
        folder / f"customer-{key[:12]}.wav",
        folder / f"agent-{key[:12]}.wav",
        folder / f"agent-noisy-{key[:12]}.wav",
    )
    if all(p.exists() for p in (audio.customer, audio.agent_clean, audio.agent_noisy)):
        return audio
    customer, agent = _tracks(seconds)
    _write(audio.customer, customer)
    _write(audio.agent_clean, agent)
    with tempfile.TemporaryDirectory() as tmp:
        _write(audio.agent_noisy, _with_noise(agent, NOISY_SNR_DB, Path(tmp)))
    return audio
