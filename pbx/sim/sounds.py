"""The PBX's sound directory, when the simulator is given one: prompts must exist as WAV files
and play for their real length, as on Asterisk. Without one, every prompt "plays" for a fixed
time, as before.

A name is looked up as ``<dir>/<name>.wav`` when its first folder exists in the directory (the
project's own ``ccplane/...`` prompts); other names (``digits/1``, ``beep``, ``vm-intro``) are
Asterisk's stock sounds, which the simulator assumes installed."""

from __future__ import annotations

import wave
from pathlib import Path

# How long a prompt "plays" when there is no file to measure.
DEFAULT_SECONDS = 2.0


class Sounds:
    def __init__(self, root: Path | None = None) -> None:
        self.root = root
        self._seconds: dict[str, float] = {}

    def seconds(self, name: str) -> float:
        """How long ``name`` plays; :class:`FileNotFoundError` when it should be a file in the
        sound directory and is not (Asterisk: "Playback failed", STREAM FILE result=-1)."""
        if self.root is None:
            return DEFAULT_SECONDS
        known = self._seconds.get(name)
        if known is not None:
            return known
        top = name.split("/", 1)[0]
        if "/" not in name or not (self.root / top).is_dir() or ".." in name.split("/"):
            return DEFAULT_SECONDS
        path = self.root / f"{name}.wav"
        try:
            with wave.open(str(path), "rb") as wav:
                length = wav.getnframes() / float(wav.getframerate())
        except (OSError, EOFError, wave.Error) as exc:
            raise FileNotFoundError(f"{path}: {exc}") from None
        self._seconds[name] = length
        return length
