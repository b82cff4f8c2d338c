"""``cc-admin prompts build``: text prompts -> 8 kHz mono 16-bit WAV files for the PBX.

espeak-ng speaks each text piece with the language's voice; sox resamples to telephone
format. File names follow the sound names the interpreter plays (``<out>/<lang>/<id>.wav``),
so the folder can be copied to the PBX's sound directory as ``ccplane``. A manifest keeps a
hash of what produced each file; files whose text, voice and speed are unchanged are skipped.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from cc_core.ivr.prompts import Piece, PromptCatalog

MANIFEST = ".ccplane-prompts.json"
RATE = 8000
FORMAT_VERSION = 1  # bump when the rendering itself changes
COMMAND_TIMEOUT = 60.0


class BuildError(Exception):
    """A tool is missing or failed; the message names the prompt and the tool's complaint."""


@dataclass
class BuildReport:
    built: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)


def fingerprint(piece: Piece) -> str:
    raw = json.dumps([FORMAT_VERSION, RATE, piece.text, piece.voice, piece.speed])
    return hashlib.sha256(raw.encode()).hexdigest()


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BuildError(f"{name} not found on PATH (expected it installed: "
                         f"apt-get install {name})")
    return found


def _run(args: list[str], what: str) -> None:
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=COMMAND_TIMEOUT,
                              check=False)
    except subprocess.TimeoutExpired:
        raise BuildError(f"{what}: {Path(args[0]).name} took over {COMMAND_TIMEOUT:g} s") \
            from None
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise BuildError(f"{what}: {Path(args[0]).name} exited with {done.returncode}"
                         + (f": {detail[-1]}" if detail else ""))


def voices(espeak: str) -> set[str]:
    """Every name espeak-ng accepts for ``-v``: language, voice name, voice file."""
    try:
        listing = subprocess.run([espeak, "--voices"], capture_output=True, text=True,
                                 timeout=COMMAND_TIMEOUT, check=True).stdout
    except (subprocess.SubprocessError, OSError) as exc:
        raise BuildError(f"espeak-ng --voices failed: {exc}") from None
    names: set[str] = set()
    for line in listing.splitlines()[1:]:
        columns = line.split()
        if len(columns) >= 5:
            language, name, file = columns[1], columns[3], columns[4]
            names |= {language.lower(), name.lower(), file.lower(),
                      file.rsplit("/", 1)[-1].lower()}
    return names


def build_prompts(catalog: PromptCatalog, out: Path, *, force: bool = False) -> BuildReport:
    """Render every text piece of ``catalog`` below ``out``; returns what was built/skipped."""
    espeak, sox = _tool("espeak-ng"), _tool("sox")
    known = voices(espeak)
    for language, prompt_set in sorted(catalog.sets.items()):
        # espeak-ng quietly falls back to its default voice for an unknown name.
        base = prompt_set.voice.split("+", 1)[0].lower()
        if base not in known:
            raise BuildError(f"prompts/{language}.yaml: voice '{prompt_set.voice}' is not an "
                             "espeak-ng voice (expected a name from `espeak-ng --voices`)")
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / MANIFEST
    try:
        manifest: dict[str, str] = json.loads(manifest_path.read_text())
        if not isinstance(manifest, dict):
            manifest = {}
    except (OSError, ValueError):
        manifest = {}  # no or unreadable manifest: rebuild everything
    report = BuildReport()
    try:
        for piece in catalog.pieces():
            target = out / f"{piece.relative_path}.wav"
            digest = fingerprint(piece)
            key = piece.relative_path
            if not force and manifest.get(key) == digest and target.is_file():
                report.skipped.append(target)
                continue
            _render(espeak, sox, piece, target)
            manifest[key] = digest
            report.built.append(target)
    finally:
        # Written even after a failure so the files already built are not rebuilt next time.
        tmp = manifest_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
        os.replace(tmp, manifest_path)
    return report


def _render(espeak: str, sox: str, piece: Piece, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    what = f"prompt {piece.sound} ({piece.language}, voice {piece.voice})"
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".build-") as work:
        spoken = Path(work) / "spoken.wav"
        final = Path(work) / "final.wav"
        _run([espeak, "-v", piece.voice, "-s", str(piece.speed), "-w", str(spoken), "--",
              piece.text], what)
        _run([sox, "-q", str(spoken), "-r", str(RATE), "-c", "1", "-b", "16",
              "-e", "signed-integer", str(final)], what)
        os.replace(final, target)  # atomic: the PBX never plays a half-written file
