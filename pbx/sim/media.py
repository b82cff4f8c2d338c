"""Audio in the simulated PBX: WAV files attached to callers and agent phones, ChanSpy's view
of them, and the ``AudioSocket`` and ``Originate`` applications the media fork of the shipped
dialplan runs.

The simulator has no RTP. A channel "says" the WAV attached to it (by channel name, by caller
number, or by agent endpoint), from the moment something listens, followed by digital silence.
A Local pair whose ``;2`` half runs ``ChanSpy(target,...o...)`` makes its ``;1`` half read the
target's audio, which ``AudioSocket(uuid,host:port)`` on ``;1`` streams to the server in 20 ms
slin frames, paced by the simulator's clock (``time_scale`` speeds it up).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pbx.asterisk.audiosocket import AudioSocketClient, encode_audio
from pbx.sim.apps import Outcome, split_args
from pbx.sim.channel import Channel
from pbx.sim.pbx import Interrupted

if TYPE_CHECKING:
    from pbx.sim.pbx import Pbx

log = logging.getLogger(__name__)

RATE = 8000
FRAME_BYTES = RATE * 2 * 20 // 1000  # 20 ms of 16-bit mono
FRAME_S = 0.02
SILENCE = bytes(FRAME_BYTES)


class AudioFileError(ValueError):
    """A WAV file the simulator cannot play (the message names the file and what is wrong)."""


def load_wav(path: Path) -> bytes:
    """16-bit mono 8 kHz PCM of a WAV file (convert others with ``sox in.wav -r 8000 -c 1
    -b 16 out.wav``)."""
    try:
        with wave.open(str(path), "rb") as w:
            if (w.getnchannels(), w.getsampwidth(), w.getframerate()) != (1, 2, RATE):
                raise AudioFileError(
                    f"{path}: {w.getnchannels()} channel(s), {8 * w.getsampwidth()}-bit, "
                    f"{w.getframerate()} Hz; expected mono 16-bit 8000 Hz"
                )
            return w.readframes(w.getnframes())
    except (OSError, wave.Error, EOFError) as exc:
        raise AudioFileError(f"{path}: not a readable WAV file ({exc})") from None


@dataclass
class SimAudio:
    """Which audio each party of the simulated PBX sends."""

    by_channel: dict[str, bytes] = field(default_factory=dict)
    by_caller: dict[str, bytes] = field(default_factory=dict)
    by_endpoint: dict[str, bytes] = field(default_factory=dict)
    by_number: dict[str, bytes] = field(default_factory=dict)  # dialled number
    spying: dict[str, Channel] = field(default_factory=dict)  # spy channel name -> target
    readonly: dict[str, bool] = field(default_factory=dict)
    streams: int = 0  # AudioSocket connections made

    def attach_caller(self, caller_num: str, wav: Path) -> None:
        """Every call from ``caller_num`` says this WAV."""
        self.by_caller[caller_num] = load_wav(wav)

    def attach_endpoint(self, endpoint: str, wav: Path) -> None:
        """The agent phone ``endpoint`` (e.g. ``agent1001``) says this WAV on every call."""
        self.by_endpoint[endpoint] = load_wav(wav)

    def attach_number(self, number: str, wav: Path) -> None:
        """Every caller of the dialled ``number`` says this WAV (scenario traffic)."""
        self.by_number[number] = load_wav(wav)

    def attach_channel(self, chan: Channel, wav: Path) -> None:
        self.by_channel[chan.name] = load_wav(wav)

    def source(self, chan: Channel) -> bytes:
        if chan.name in self.by_channel:
            return self.by_channel[chan.name]
        endpoint = chan.endpoint
        if endpoint is not None and endpoint.name in self.by_endpoint and chan.tech == "PJSIP":
            return self.by_endpoint[endpoint.name]
        if chan.caller_num in self.by_caller:
            return self.by_caller[chan.caller_num]
        return self.by_number.get(chan.dnid, b"")

    def heard_by(self, chan: Channel) -> Channel | None:
        """The channel whose audio ``chan`` reads: a Local ``;1`` reads what its ``;2``
        half is fed by ChanSpy."""
        peer = chan.peer
        return self.spying.get(peer.name) if peer is not None else None


def audio_of(pbx: Pbx) -> SimAudio:
    audio = getattr(pbx, "audio", None)
    if audio is None:
        audio = SimAudio()
        pbx.audio = audio  # type: ignore[attr-defined]
    return audio


def spy_started(pbx: Pbx, spy: Channel, target: Channel, options: str) -> None:
    audio = audio_of(pbx)
    audio.spying[spy.name] = target
    audio.readonly[spy.name] = "o" in options


def spy_stopped(pbx: Pbx, spy: Channel) -> None:
    audio = audio_of(pbx)
    audio.spying.pop(spy.name, None)
    audio.readonly.pop(spy.name, None)


def _server(text: str) -> tuple[str, int] | None:
    host, sep, port = text.strip().rpartition(":")
    if not sep or not host or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


async def app_audiosocket(pbx: Pbx, chan: Channel, args: str) -> Outcome:
    """``AudioSocket(uuid,host:port)``: stream what the channel reads to the server.

    As app_audiosocket.c: a bad UUID or address, or a failed connection, ends the
    application with an error (the channel hangs up); so does the server closing."""
    parts = split_args(args)
    try:
        stream_id = uuid.UUID(parts[0]) if parts else None
    except ValueError:
        stream_id = None
    server = _server(parts[1]) if len(parts) > 1 else None
    if stream_id is None or server is None:
        log.warning(
            "AudioSocket on %s: expected AudioSocket(uuid,host:port), got %r", chan.name, args
        )
        return "hangup"
    pbx.answer(chan)
    try:
        client = await AudioSocketClient.connect(server[0], server[1], stream_id)
    except OSError as exc:
        log.warning("AudioSocket on %s: cannot connect to %s:%d: %s", chan.name, *server, exc)
        return "hangup"
    audio = audio_of(pbx)
    audio.streams += 1
    sent = 0
    heard: Channel | None = None
    first = 0  # the frame the current target's audio started at
    start = asyncio.get_running_loop().time()
    frame_real = FRAME_S * pbx.time_scale
    try:
        while not client.closing:
            due = int((asyncio.get_running_loop().time() - start) / frame_real)
            target = audio.heard_by(chan)
            if target is not heard:
                # A party's audio starts when the spy starts listening to it.
                heard, first = target, sent
            pcm = audio.source(target) if target is not None else b""
            batch = bytearray()
            while sent < due:
                at = (sent - first) * FRAME_BYTES
                chunk = pcm[at : at + FRAME_BYTES]
                batch += encode_audio(chunk.ljust(FRAME_BYTES, b"\0"), RATE)
                sent += 1
            if batch:
                await client.send_raw(bytes(batch))
            await pbx.wait(chan, 2 * FRAME_S)  # simulated seconds: two frames a turn
    except Interrupted:
        pass
    except (ConnectionError, OSError) as exc:
        log.info("AudioSocket on %s: server closed (%s)", chan.name, exc)
    finally:
        await client.close(hangup=False)
    return "hangup"


async def app_originate(pbx: Pbx, chan: Channel, args: str) -> Outcome:
    """``Originate(tech_data,exten,context,exten,priority[,timeout[,options]])`` with options
    ``a`` (do not wait for the answer) and ``v(NAME=value^...)`` (variables on the new
    channel). Sets ORIGINATE_STATUS (SUCCESS or FAILED), as app_originate.c."""
    from pbx.sim.originate import OriginateRequest, originate

    parts = split_args(args)
    if len(parts) < 4 or parts[1].lower() not in ("exten", "app"):
        log.warning(
            "Originate on %s: expected Originate(tech_data,exten,context,exten,"
            "priority[,timeout[,options]]), got %r",
            chan.name,
            args,
        )
        pbx.set_var(chan, "ORIGINATE_STATUS", "FAILED")
        return None
    options = parts[6] if len(parts) > 6 else ""
    variables: list[tuple[str, str]] = []
    if "v(" in options:
        inner = options.split("v(", 1)[1].rsplit(")", 1)[0]
        for item in inner.split("^"):
            name, sep, value = item.partition("=")
            if sep and name:
                variables.append((name, value))
    timeout = float(parts[5]) if len(parts) > 5 and parts[5].replace(".", "", 1).isdigit() else 30
    if parts[1].lower() == "exten":
        priority = int(parts[4]) if len(parts) > 4 and parts[4].isdigit() else 1
        req = OriginateRequest(
            parts[0],
            context=parts[2],
            exten=parts[3],
            priority=priority,
            timeout_ms=int(timeout * 1000),
            variables=tuple(variables),
            caller_num=chan.caller_num,
            caller_name=chan.caller_name,
            async_=False,
        )
    else:
        req = OriginateRequest(
            parts[0],
            application=parts[2],
            data=parts[3],
            timeout_ms=int(timeout * 1000),
            variables=tuple(variables),
            async_=False,
        )
    task = asyncio.ensure_future(originate(pbx, req))
    if "a" in options.split("(", 1)[0]:
        pbx.set_var(chan, "ORIGINATE_STATUS", "SUCCESS")
        task.add_done_callback(_report)
        return None
    ok, _, _ = await task
    pbx.set_var(chan, "ORIGINATE_STATUS", "SUCCESS" if ok else "FAILED")
    return None


def _report(task: asyncio.Future[object]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("Originate failed", exc_info=task.exception())
