"""``record_session`` / ``stop_record_session`` (and the ``uuid_record`` API) in the simulated
FreeSWITCH: a WAV that grows in real time (the simulator's clock) from the audio attached to
the parties, as mod_sndfile writes it for the media fork of the shipped dialplan.

What FreeSWITCH does and the simulator copies (switch_ivr_record_session_event, 1.10):

- ``RECORD_STEREO=true``: two channels, left = what the recorded channel reads (its own
  party's voice), right = what it writes (the party it is bridged to); otherwise one channel,
  the two mixed.
- ``RECORD_BRIDGE_REQ=true``: nothing is written while the channel is not bridged.
- A second ``record_session`` of the same file on the same channel is refused ("Already
  recording") and the first goes on.
- The header is written with empty sizes and completed when the file closes (stop, or the
  channel hangs up); a recording shorter than ``RECORD_MIN_SEC`` (3 s by default) is deleted.

The audio a channel "says": the WAV attached to its caller number (callers) or to its dialled
user (agent phones, ``user/1001``), from the moment it is bridged, then digital silence.
Attach with `fs_audio(switch).attach_caller(...)` / ``attach_user(...)``. Only a switch given
audio (an attach, or ``enabled = True``) writes recordings: other runs of the shipped dialplan
leave no files behind in its ``cc_media_dir``.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

from pbx.sim.esl.api import ApiResult, command
from pbx.sim.esl.apps import app
from pbx.sim.esl.channel import FsChannel
from pbx.sim.media import load_wav

if TYPE_CHECKING:
    from pbx.sim.esl.switch import FsSwitch

log = logging.getLogger(__name__)

RATE = 8000
FRAME_S = 0.02
FRAME_SAMPLES = int(RATE * FRAME_S)
TRUE = ("true", "yes", "on", "1", "enabled", "active", "allow")


@dataclass
class Recording:
    channel: FsChannel
    path: Path
    file: BinaryIO
    channels: int
    bridge_req: bool
    min_sec: int
    samples: int = 0  # per channel, written so far
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


@dataclass
class FsAudio:
    """Which audio each party of the simulated FreeSWITCH says (16-bit mono 8 kHz)."""

    by_caller: dict[str, bytes] = field(default_factory=dict)  # Caller-ID-Number
    by_user: dict[str, bytes] = field(default_factory=dict)  # dialled user, e.g. 1001
    recordings: dict[tuple[str, str], Recording] = field(default_factory=dict)
    enabled: bool = False  # record_session writes files

    def attach_caller(self, number: str, wav: Path) -> None:
        self.by_caller[number] = load_wav(wav)
        self.enabled = True

    def attach_user(self, user: str, wav: Path) -> None:
        self.by_user[user] = load_wav(wav)
        self.enabled = True

    def source(self, ch: FsChannel) -> bytes:
        user = ch.get_var("dialed_user")
        if user:
            return self.by_user.get(user, b"")
        return self.by_caller.get(ch.profile.get("Caller-ID-Number", ""), b"")


def fs_audio(sw: FsSwitch) -> FsAudio:
    audio = getattr(sw, "audio", None)
    if audio is None:
        audio = FsAudio()
        sw.audio = audio  # type: ignore[attr-defined]
    return audio


def _header(channels: int, data_bytes: int) -> bytes:
    block = 2 * channels
    fmt = struct.pack("<HHIIHH", 1, channels, RATE, RATE * block, block, 16)
    riff = 4 + (8 + len(fmt)) + 8 + data_bytes
    return (
        b"RIFF"
        + struct.pack("<I", riff)
        + b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"data"
        + struct.pack("<I", data_bytes)
    )


def _create(path: Path) -> BinaryIO:
    # FreeSWITCH makes the folder too (switch_dir_make_recursive). Local and small: the
    # simulator does this inline, as it writes the frames.
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("wb")


def _is_true(value: str | None) -> bool:
    return (value or "").strip().lower() in TRUE


def _frames(pcm: bytes, start: int, count: int) -> np.ndarray:
    """``count`` frames of ``pcm`` from sample ``start`` on, silence past its end."""
    out = np.zeros(count * FRAME_SAMPLES, dtype="<i2")
    src = np.frombuffer(pcm, dtype="<i2")[start : start + len(out)]
    out[: len(src)] = src
    return out


async def _write(sw: FsSwitch, rec: Recording) -> None:
    audio = fs_audio(sw)
    loop = asyncio.get_running_loop()
    frame_real = FRAME_S * sw.config.time_scale
    start = loop.time()
    done = 0  # frames of the clock accounted for
    spoken = 0  # samples each party has said since the bridge (audio starts at the bridge)
    ch = rec.channel
    try:
        while True:
            due = int((loop.time() - start) / frame_real)
            count = due - done
            done = due
            other = ch.other if ch.uuid in sw.bridges else None
            if other is None and rec.bridge_req:
                spoken = 0
            elif count > 0:
                left = _frames(audio.source(ch), spoken, count)
                right = _frames(audio.source(other), spoken, count) if other else left * 0
                spoken += len(left)
                if rec.channels == 2:
                    data = np.column_stack((left, right)).astype("<i2").tobytes()
                else:
                    mixed = np.clip(left.astype(np.int32) + right, -32768, 32767)
                    data = mixed.astype("<i2").tobytes()
                rec.file.write(data)
                rec.file.flush()
                rec.samples += len(left)
            if rec.stop.is_set() or ch.gone.is_set():
                break
            waits = {asyncio.ensure_future(rec.stop.wait()), asyncio.ensure_future(ch.gone.wait())}
            try:
                await asyncio.wait(waits, timeout=2 * frame_real)
            finally:
                for w in waits:
                    w.cancel()
    finally:
        _close(audio, rec)


def _close(audio: FsAudio, rec: Recording) -> None:
    audio.recordings.pop((rec.channel.uuid, str(rec.path)), None)
    data_bytes = rec.samples * 2 * rec.channels
    try:
        rec.file.seek(0)
        rec.file.write(_header(rec.channels, data_bytes))
        rec.file.close()
        if rec.samples < rec.min_sec * RATE:
            rec.path.unlink(missing_ok=True)  # as FreeSWITCH: shorter than RECORD_MIN_SEC
    except OSError as exc:
        log.warning("record_session %s: %s", rec.path, exc)


@app("record_session")
async def record_session(sw: FsSwitch, ch: FsChannel, data: str) -> str:
    start(sw, ch, data)
    return "_none_"


def start(sw: FsSwitch, ch: FsChannel, data: str) -> bool:
    """Start recording ``ch`` to the file ``data``; False when the file cannot be opened."""
    path = Path(data.strip())
    audio = fs_audio(sw)
    key = (ch.uuid, str(path))
    if not audio.enabled:
        return True
    if key in audio.recordings:
        log.warning("%s: Already recording [%s]", ch.name, path)
        return True
    if not path.is_absolute():
        log.error("%s: record_session: %r is not an absolute path", ch.name, data)
        return False
    stereo = _is_true(ch.get_var("RECORD_STEREO"))
    min_sec_var = ch.get_var("RECORD_MIN_SEC") or ""
    try:
        file = _create(path)
    except OSError as exc:
        log.error("%s: Error opening %s: %s", ch.name, path, exc)
        return False
    channels = 2 if stereo else 1
    file.write(_header(channels, 0))
    file.flush()
    rec = Recording(
        ch,
        path,
        file,
        channels,
        bridge_req=_is_true(ch.get_var("RECORD_BRIDGE_REQ")),
        min_sec=int(min_sec_var) if min_sec_var.isdigit() else 3,
    )
    audio.recordings[key] = rec
    rec.task = sw.spawn(_write(sw, rec))  # type: ignore[assignment]
    return True


async def stop(sw: FsSwitch, ch: FsChannel, target: str) -> int:
    """Stop the recordings of ``ch`` to ``target`` (or ``all``); how many were running."""
    audio = fs_audio(sw)
    stopped = 0
    for (uuid, path), rec in list(audio.recordings.items()):
        if uuid == ch.uuid and target in ("all", path):
            stopped += 1
            rec.stop.set()
            if rec.task is not None:
                await asyncio.wait({rec.task})
    return stopped


@app("stop_record_session")
async def stop_record_session(sw: FsSwitch, ch: FsChannel, data: str) -> str:
    await stop(sw, ch, data.strip())
    return "_none_"


@command("uuid_record")
async def uuid_record(sw: FsSwitch, arg: str) -> ApiResult:
    """``uuid_record <uuid> start|stop <path>``, as mod_commands (mask/unmask and a time limit
    are not simulated). The recording reads the channel's RECORD_* variables like
    record_session."""
    words = arg.split()
    usage = "-USAGE: <uuid> [start|stop|mask|unmask] <path> [<limit>] [<recording_vars>]\n"
    if len(words) < 3 or words[1] not in ("start", "stop"):
        return ApiResult(usage)
    ch = sw.channels.get(words[0])
    if ch is None or not ch.up:
        return ApiResult("-ERR Cannot locate session!\n")
    if words[1] == "start":
        ok = start(sw, ch, words[2])
    else:
        ok = await stop(sw, ch, words[2]) > 0 or not fs_audio(sw).enabled
    return ApiResult("+OK Success\n" if ok else "-ERR Cannot execute command\n")
