"""The FreeSWITCH media fork, ACD side: follow the stereo WAVs that the shipped dialplan's
``record_session`` writes (``<cc_media_dir>/<interaction id>.wav``) while they grow, and hand
each call's two sides to a sink, 20 ms at a time or whatever has arrived.

Stock FreeSWITCH 1.10 has no way to stream a bridged call's two directions to a socket; the
one stock fork is mod_sndfile recording with ``RECORD_STEREO=true`` (left: the caller's own
voice, right: what the caller hears, i.e. the agent). See docs/quality.md.

The folder is polled (``poll_seconds``, 0.1 s by default): inotify is Linux-only and needs a
dependency, and does not see files on the network filesystems a FreeSWITCH on another host
would share; a poll lists one folder and reads a few KB per call.

How a file is read:

- The RIFF header is parsed chunk by chunk (``fmt `` then anything, e.g. ``LIST`` or ``fact``,
  up to ``data``); nothing assumes 44 bytes. Until the ``data`` chunk's header is there, the
  file is looked at again on the next poll. Accepted: PCM (format 1, or WAVE_FORMAT_EXTENSIBLE
  with the PCM sub-format), 16-bit, 2 channels, 8 or 16 kHz. Anything else is refused once,
  with the file and what was wrong in the log.
- While FreeSWITCH writes, the ``data`` size in the header is 0 (libsndfile completes it on
  close): bytes are read up to the end of the file, whole stereo samples only (a half-written
  sample waits for the next poll).
- The recording is over when the header holds its final ``data`` size and all of it was read
  (``stop_record_session`` or the caller's hang-up closed it), when the file disappears or is
  replaced, when the sink says the call is gone, or after ``idle_seconds`` without growth.
- Then the file is deleted (``keep_files: false``, the default) or left where it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

log = logging.getLogger(__name__)

PCM = 1
EXTENSIBLE = 0xFFFE
PCM_GUID_TAIL = bytes.fromhex("000000001000800000aa00389b71")  # KSDATAFORMAT_SUBTYPE_PCM
RATES = (8000, 16000)
OPEN_SIZES = (0, 0xFFFFFFFF)  # data sizes that mean "still being written"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
READ_MAX = 1 << 20  # bytes read from one file in one poll (catching up after a restart)


class WavError(ValueError):
    """A recording the fork cannot read (the message names what is wrong)."""


class CallAudio(Protocol):
    """One call's sides, as the sink takes them."""

    def audio(self, customer: bytes, agent: bytes, rate: int) -> None: ...

    def closed(self, reason: str) -> None: ...


class ForkSink(Protocol):
    def open_call(self, interaction_id: str, rate: int) -> CallAudio | None:
        """None: no such call (the file is left alone and not read)."""
        ...

    def call_alive(self, interaction_id: str) -> bool: ...


@dataclass(frozen=True)
class WavLayout:
    rate: int
    channels: int
    data_at: int  # file offset of the first audio byte
    size_at: int  # file offset of the data chunk's 4-byte size
    data_size: int  # as written in the header (0 while FreeSWITCH writes)


def parse_header(head: bytes) -> WavLayout | None:
    """The layout of a (possibly growing) WAV from its first bytes; None until the ``data``
    chunk's header has been written. Raises WavError for what the fork cannot score."""
    if len(head) < 12:
        return None
    if head[0:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise WavError(f"not a RIFF/WAVE file (starts {head[:12]!r})")
    at = 12
    fmt: tuple[int, int, int, int] | None = None
    while True:
        if len(head) < at + 8:
            return None
        chunk, size = head[at : at + 4], struct.unpack_from("<I", head, at + 4)[0]
        body = at + 8
        if chunk == b"data":
            if fmt is None:
                raise WavError("data chunk before the fmt chunk")
            tag, channels, rate, bits = fmt
            return WavLayout(rate, channels, body, at + 4, size)
        if chunk == b"fmt ":
            if len(head) < body + size:
                return None
            if size < 16:
                raise WavError(f"fmt chunk of {size} bytes; expected 16 or more")
            tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", head, body)
            if tag == EXTENSIBLE and size >= 40:
                sub = head[body + 24 : body + 40]
                tag = PCM if sub[:2] == b"\x01\x00" and sub[2:] == PCM_GUID_TAIL else -1
            if tag != PCM or bits != 16 or channels != 2 or rate not in RATES:
                raise WavError(
                    f"format {tag}, {channels} channel(s), {bits}-bit, {rate} Hz; expected "
                    "16-bit PCM, 2 channels (RECORD_STEREO=true), 8000 or 16000 Hz"
                )
            fmt = (tag, channels, rate, bits)
        if size > 1 << 24:
            raise WavError(f"{chunk!r} chunk of {size} bytes before the audio")
        at = body + size + (size & 1)  # chunks are padded to even sizes


@dataclass
class _Followed:
    path: Path
    interaction_id: str
    inode: int
    layout: WavLayout | None = None
    call: CallAudio | None = None
    offset: int = 0  # next file offset to read
    grew_at: float = 0.0
    unknown_logged: bool = False
    seen_size: int = -1  # before the call is known: to tell a growing file from a dead one


@dataclass
class RecordingFollower:
    """Polls ``directory`` and feeds each recording's sides to ``sink``."""

    directory: Path
    sink: ForkSink
    poll_seconds: float = 0.1
    idle_seconds: float = 10.0
    keep_files: bool = False
    clock: Callable[[], float] = field(default=lambda: asyncio.get_running_loop().time())
    followed: dict[str, _Followed] = field(default_factory=dict)
    # Files not to read again (refused, unknown call, or finished and kept): name -> inode.
    skipped: dict[str, int] = field(default_factory=dict)
    finished: int = 0
    _task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for item in list(self.followed.values()):
            self._finish(item, "acd stopping", delete=False)

    async def _run(self) -> None:
        while True:
            try:
                self.poll()
            except Exception:  # a bad poll must not end the fork for every later call
                log.exception("media fork: poll of %s failed", self.directory)
            await asyncio.sleep(self.poll_seconds)

    # ------------------------------------------------------------------ one poll

    def poll(self) -> None:
        """List the folder once, start following new recordings, read what each has grown."""
        try:
            entries = {e.name: e for e in os.scandir(self.directory) if e.name.endswith(".wav")}
        except FileNotFoundError:
            entries = {}  # FreeSWITCH creates the folder with its first recording
        for name, entry in entries.items():
            if name in self.followed:
                continue
            try:
                inode = entry.inode()
            except OSError:
                continue
            if self.skipped.get(name) == inode:
                continue
            self._start(Path(entry.path), name, inode)
        for name in [n for n in self.skipped if n not in entries]:
            del self.skipped[name]
        for item in list(self.followed.values()):
            self._read(item, entries.get(item.path.name))

    def _start(self, path: Path, name: str, inode: int) -> None:
        stem = name[: -len(".wav")]
        if not NAME.match(stem):
            log.warning("media fork: %s: not named <interaction id>.wav; ignored", path)
            self.skipped[name] = inode
            return
        self.followed[name] = _Followed(path, stem, inode, grew_at=self.clock())

    def _read(self, item: _Followed, entry: os.DirEntry[str] | None) -> None:
        if entry is None:
            self._finish(item, "file removed", delete=False)
            return
        try:
            if entry.inode() != item.inode:
                self._finish(item, "file replaced", delete=False)
                return
            with item.path.open("rb") as f:
                if item.layout is None:
                    size_now = entry.stat().st_size
                    if size_now != item.seen_size:
                        item.seen_size, item.grew_at = size_now, self.clock()
                    if not self._open(item, f):
                        return
                layout = item.layout
                assert layout is not None
                f.seek(layout.size_at)
                size = struct.unpack("<I", f.read(4).ljust(4, b"\0"))[0]
                f.seek(item.offset)
                block = 2 * layout.channels
                chunk = f.read(READ_MAX)
        except FileNotFoundError:
            self._finish(item, "file removed", delete=False)
            return
        except OSError as exc:
            log.warning("media fork: %s: %s", item.path, exc)
            return
        except WavError as exc:
            log.warning("media fork: %s: %s; not scored", item.path, exc)
            self._finish(item, "bad file", delete=False)
            return
        final = size not in OPEN_SIZES
        if final:
            # Past the audio (e.g. a LIST chunk libsndfile appends on close) is not audio.
            chunk = chunk[: max(0, layout.data_at + size - item.offset)]
        usable = len(chunk) - len(chunk) % block  # a half-written sample waits
        now = self.clock()
        if usable:
            item.offset += usable
            item.grew_at = now
            self._feed(item, chunk[:usable], layout)
        if final and item.offset >= layout.data_at + size - (size % block):
            self._finish(item, "recording closed")
        elif item.call is not None and not self.sink.call_alive(item.interaction_id):
            self._finish(item, "call ended")
        elif now - item.grew_at >= self.idle_seconds:
            self._finish(item, "idle")

    def _open(self, item: _Followed, f: object) -> bool:
        """Parse the header; True once the audio can be read."""
        assert hasattr(f, "read")
        head = f.read(4096)  # type: ignore[attr-defined]
        layout = parse_header(head)
        if layout is None:
            if self.clock() - item.grew_at >= self.idle_seconds:
                self._finish(item, "no header", delete=False)
            return False
        call = self.sink.open_call(item.interaction_id, layout.rate)
        if call is None:
            # Asked again on later polls while the file grows: after an ACD restart the
            # recording may be seen before the call is adopted.
            if not item.unknown_logged:
                item.unknown_logged = True
                log.info("media fork: %s: no call %s here (yet)", item.path, item.interaction_id)
            if self.clock() - item.grew_at >= self.idle_seconds:
                self._finish(item, "unknown call", delete=False)
            return False
        item.layout, item.call, item.offset = layout, call, layout.data_at
        log.info("media fork: following %s (%d Hz)", item.path, layout.rate)
        return True

    def _feed(self, item: _Followed, data: bytes, layout: WavLayout) -> None:
        assert item.call is not None
        frames = np.frombuffer(data, dtype="<i2").reshape(-1, layout.channels)
        # Left: the recorded caller leg's read audio (the customer); right: the agent.
        customer = frames[:, 0].tobytes()
        agent = frames[:, 1].tobytes()
        try:
            item.call.audio(customer, agent, layout.rate)
        except Exception as exc:
            log.warning("media fork: %s: %s; not scored further", item.path, exc)
            self._finish(item, f"sink failed: {exc}", delete=False)

    def _finish(self, item: _Followed, reason: str, *, delete: bool = True) -> None:
        name = item.path.name
        if self.followed.pop(name, None) is None:
            return
        self.finished += 1
        if item.call is not None:
            try:
                item.call.closed(reason)
            except Exception:
                log.exception("media fork: closing %s failed", item.path)
        if delete and not self.keep_files and item.layout is not None:
            with contextlib.suppress(OSError):
                item.path.unlink()
                return
        self.skipped[name] = item.inode
