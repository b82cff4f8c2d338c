"""Audio rendered once per test session: espeak-ng speech, sox noise, tones and clipping."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tests.quality import audio
from tests.quality.audio import Samples

DTMF = {"1": (697, 1209), "5": (770, 1336), "9": (852, 1477), "0": (941, 1336), "#": (941, 1477)}


@dataclass(frozen=True)
class Corpus:
    folder: Path
    speech: dict[int, Samples]  # by sample rate
    noise: dict[tuple[str, int], Samples]  # by (sox noise kind, rate), full-scale-ish
    ringback: Samples  # 425 Hz, European style
    ringback_us: Samples  # 440 + 480 Hz
    dtmf: Samples  # digits of 120 ms with 100 ms gaps
    clipped: Samples  # speech through sox "gain 20", clipping at full scale

    def wav(self, name: str) -> Path:
        return self.folder / name


def _dtmf(folder: Path, digits: str) -> Samples:
    parts = []
    gap = np.zeros(800, dtype=np.int16)
    for d in digits:
        lo, hi = DTMF[d]
        path = audio.synth(
            folder / f"dtmf-{lo}-{hi}.wav",
            "synth", "0.12", "sine", str(lo), "sine", str(hi), "remix", "1,2", "vol", "0.25",
        )  # fmt: skip
        parts += [audio.read_wav(path)[0], gap]
    return np.concatenate(parts)


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    folder = tmp_path_factory.mktemp("quality-audio")
    speech = {}
    noise = {}
    for rate in (8000, 16000):
        speech[rate] = audio.read_wav(audio.speak(folder / f"speech-{rate}.wav", rate))[0]
        seconds = len(speech[rate]) / rate
        for kind in ("whitenoise", "pinknoise", "brownnoise"):
            path = audio.noise(folder / f"{kind}-{rate}.wav", kind, seconds, rate)
            noise[kind, rate] = audio.read_wav(path)[0]
    ring = audio.synth(folder / "ring.wav", "synth", "4", "sine", "425", "vol", "0.3")
    ring_us = audio.synth(
        folder / "ring-us.wav", "synth", "4", "sine", "440", "sine", "480", "remix", "1,2",
        "vol", "0.2",
    )  # fmt: skip
    audio.run(
        audio.need("sox"), "-D", str(folder / "speech-8000.wav"), str(folder / "clipped.wav"),
        "gain", "20",
    )  # fmt: skip
    return Corpus(
        folder=folder,
        speech=speech,
        noise=noise,
        ringback=audio.read_wav(ring)[0],
        ringback_us=audio.read_wav(ring_us)[0],
        dtmf=_dtmf(folder, "159#0" * 4),
        clipped=audio.read_wav(folder / "clipped.wav")[0],
    )
