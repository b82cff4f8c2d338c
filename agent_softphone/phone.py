"""The SIP side of the softphone, on pjsua2 (the ``pjsua2-python`` wheel, extra ``softphone``).

pjsua2 is driven from one thread only: the owner calls `Softphone.poll` in a loop, and every
command from other threads (the console, the reporter) is queued and run inside `poll`.
SIP and RTP are handled in that same thread (no pjsua worker threads), so every callback into
Python comes from it too. Every `Call` is released before `libDestroy()`.

Headless (tests, CI): the null sound device, a WAV file as microphone (a looping player whose
position the edge probe follows, so the probe analyses exactly the samples sent) and a WAV
recorder as speaker.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pjsua2 as pj

from agent_softphone.probe import MicProbe, NetworkFigures, WavMic
from cc_core.logs import log_event

log = logging.getLogger(__name__)

INTERACTION_HEADER = "X-CC-Interaction"
_HEADER = re.compile(r"^X-CC-Interaction\s*:\s*(\S+)\s*$", re.IGNORECASE | re.MULTILINE)


@dataclass
class PhoneSettings:
    user: str  # the SIP user (the agent's extension, e.g. 1001)
    domain: str = "127.0.0.1"  # the PBX
    registrar: str | None = None  # e.g. sip:127.0.0.1:5060; None: no registration
    auth_user: str | None = None  # digest user name (default: user)
    password: str | None = None
    bind: str = "127.0.0.1"
    sip_port: int = 5070  # 0: any free port
    rtp_port: int = 4000
    auto_answer: bool = False
    mic_wav: Path | None = None  # None: the sound device's capture
    speaker_wav: Path | None = None  # record what the agent hears
    null_audio: bool = True


@dataclass
class CallView:
    """What the console shows of the current call."""

    call_id: int
    remote: str
    state: str
    interaction_id: str | None = None
    held: bool = False
    digits: list[str] = field(default_factory=list)
    answered: bool = False


PhoneEvent = tuple[str, dict[str, Any]]


class _Account(pj.Account):  # type: ignore[misc]
    def __init__(self, phone: Softphone) -> None:
        super().__init__()
        self.phone = phone

    def onRegState(self, prm: Any) -> None:
        info = self.getInfo()
        self.phone.registered = bool(info.regIsActive)
        self.phone.emit(
            "registration", code=int(prm.code), active=self.phone.registered, reason=str(prm.reason)
        )

    def onIncomingCall(self, prm: Any) -> None:
        self.phone.incoming(_Call(self, self.phone, prm.callId), str(prm.rdata.wholeMsg))


class _Call(pj.Call):  # type: ignore[misc]
    def __init__(self, account: _Account, phone: Softphone, call_id: int) -> None:
        super().__init__(account, call_id)
        self.phone = phone

    def onCallState(self, prm: Any) -> None:
        self.phone.call_state(self)

    def onCallMediaState(self, prm: Any) -> None:
        self.phone.media_state(self)

    def onDtmfDigit(self, prm: Any) -> None:
        self.phone.dtmf(str(prm.digit))


class Softphone:
    def __init__(
        self,
        settings: PhoneSettings,
        probe: MicProbe | None = None,
        on_event: Callable[[PhoneEvent], None] | None = None,
    ) -> None:
        self.settings = settings
        self.probe = probe
        self.on_event = on_event
        self.registered = False
        self.call: _Call | None = None
        self.view: CallView | None = None
        self.last_network = NetworkFigures()
        self.sip_port = 0
        self._commands: queue.Queue[Callable[[], None]] = queue.Queue()
        self._ended: list[_Call] = []
        self._owner = threading.get_ident()
        self._player: pj.AudioMediaPlayer | None = None
        self._recorder: pj.AudioMediaRecorder | None = None
        self._mic: WavMic | None = None
        self._ep = pj.Endpoint()
        self._ep.libCreate()
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 0  # no pjsua worker: SIP is handled in poll()
        cfg.uaConfig.mainThreadOnly = True
        cfg.medConfig.threadCnt = 0  # RTP (and RFC 2833 digits) in poll() too
        cfg.medConfig.clockRate = 8000
        cfg.medConfig.sndClockRate = 8000
        cfg.medConfig.noVad = True
        cfg.logConfig.level = 1
        cfg.logConfig.consoleLevel = 1
        self._ep.libInit(cfg)
        tcfg = pj.TransportConfig()
        tcfg.port = settings.sip_port
        tcfg.boundAddress = settings.bind
        tid = self._ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
        self._ep.libStart()
        self.sip_port = int(self._ep.transportGetInfo(tid).localName.rsplit(":", 1)[1])
        if settings.null_audio:
            self._ep.audDevManager().setNullDev()
        for codec in self._ep.codecEnum2():
            prio = (
                255
                if codec.codecId.startswith("PCMU/")
                else (254 if codec.codecId.startswith("PCMA/") else 0)
            )
            self._ep.codecSetPriority(codec.codecId, prio)
        if settings.mic_wav is not None:
            self._mic = WavMic(settings.mic_wav)
            self._player = pj.AudioMediaPlayer()
            self._player.createPlayer(str(settings.mic_wav), 0)  # loops
            # Into the (null) playback device, so the conference clock plays it all the time.
            self._player.startTransmit(self._ep.audDevManager().getPlaybackDevMedia())
        if settings.speaker_wav is not None:
            self._recorder = pj.AudioMediaRecorder()
            self._recorder.createRecorder(str(settings.speaker_wav))
        self._account = _Account(self)
        acfg = pj.AccountConfig()
        acfg.idUri = f"sip:{settings.user}@{settings.domain}"
        acfg.mediaConfig.transportConfig.port = settings.rtp_port
        acfg.mediaConfig.transportConfig.boundAddress = settings.bind
        if settings.registrar:
            acfg.regConfig.registrarUri = settings.registrar
            acfg.regConfig.timeoutSec = 300
        else:
            acfg.regConfig.registerOnAdd = False
        if settings.password is not None:
            acfg.sipConfig.authCreds.append(
                pj.AuthCredInfo(
                    "digest", "*", settings.auth_user or settings.user, 0, settings.password
                )
            )
        self._account.create(acfg)

    # ------------------------------------------------------------------ the owner thread

    def poll(self, ms: int = 20) -> None:
        """Handle SIP and RTP for up to ``ms``, run queued commands, feed the probe."""
        self._ep.libHandleEvents(ms)
        while True:
            try:
                command = self._commands.get_nowait()
            except queue.Empty:
                break
            try:
                command()
            except pj.Error as exc:
                self.emit("error", message=str(exc.info()))
        self._ended.clear()  # pjsua is done with these calls now
        self._feed_probe()

    def _feed_probe(self) -> None:
        if self.probe is None or self._mic is None or self._player is None:
            return
        pcm = self._mic.read_until(int(self._player.getPos()))
        if pcm:
            self.probe.feed(pcm)

    def submit(self, command: Callable[[], None]) -> None:
        """Run ``command`` in the pjsua2 thread at its next poll (any thread may call)."""
        self._commands.put(command)

    def emit(self, kind: str, **data: Any) -> None:
        log_event(log, f"phone.{kind}", **{k: str(v) for k, v in data.items()})
        if self.on_event is not None:
            self.on_event((kind, data))

    # ------------------------------------------------------------------ commands (owner)

    def answer(self) -> None:
        if self.call is None:
            raise PhoneError("no call to answer")
        prm = pj.CallOpParam()
        prm.statusCode = 200
        self.call.answer(prm)

    def hangup(self) -> None:
        if self.call is None:
            raise PhoneError("no call to hang up")
        prm = pj.CallOpParam(True)
        self.call.hangup(prm)

    def hold(self) -> None:
        if self.call is None or self.view is None:
            raise PhoneError("no call to hold")
        self.call.setHold(pj.CallOpParam(True))
        self.view.held = True

    def unhold(self) -> None:
        if self.call is None or self.view is None:
            raise PhoneError("no call to take off hold")
        prm = pj.CallOpParam(True)
        prm.opt.flag = pj.PJSUA_CALL_UNHOLD
        self.call.reinvite(prm)
        self.view.held = False

    def network(self) -> NetworkFigures:
        """Jitter, loss and round-trip time of the current call's received audio (the last
        call's figures between calls)."""
        if self.call is None or self.view is None or not self.view.answered:
            return self.last_network
        try:
            info = self.call.getInfo()
            for index, media in enumerate(info.media):
                if media.type == pj.PJMEDIA_TYPE_AUDIO:
                    stat = self.call.getStreamStat(index)
                    self.last_network = _figures(stat)
                    break
        except pj.Error:
            pass  # the media went away between the two calls: keep the last figures
        return self.last_network

    def close(self) -> None:
        """Hang up, release every call, then destroy the library (in that order)."""
        if self.call is not None:
            try:
                self.call.hangup(pj.CallOpParam(True))
            except pj.Error:
                pass
            for _ in range(10):
                self._ep.libHandleEvents(20)
        self.call = None
        self._ended.clear()
        self._player = None
        self._recorder = None
        self._account.shutdown()
        del self._account
        self._ep.libDestroy()

    # ------------------------------------------------------------------ callbacks (owner)

    def incoming(self, call: _Call, message: str) -> None:
        if self.call is not None:
            prm = pj.CallOpParam()
            prm.statusCode = 486  # one call at a time
            call.hangup(prm)
            self._ended.append(call)
            return
        match = _HEADER.search(message)
        info = call.getInfo()
        self.call = call
        self.view = CallView(
            info.id, info.remoteUri, "incoming", interaction_id=match.group(1) if match else None
        )
        prm = pj.CallOpParam()
        prm.statusCode = 180
        call.answer(prm)
        self.emit("incoming", remote=info.remoteUri, interaction=self.view.interaction_id or "")
        if self.settings.auto_answer:
            self.submit(self.answer)

    def call_state(self, call: _Call) -> None:
        if call is not self.call or self.view is None:
            return
        info = call.getInfo()
        self.view.state = info.stateText
        if info.state == pj.PJSIP_INV_STATE_CONFIRMED and not self.view.answered:
            self.view.answered = True
            if self.probe is not None:
                self.probe.call_started()
            self.emit("answered", remote=info.remoteUri)
        elif info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.network()
            if self.probe is not None and self.view.answered:
                self.probe.call_ended()
            self.emit(
                "ended",
                code=int(info.lastStatusCode),
                reason=info.lastReason,
                digits="".join(self.view.digits),
            )
            self._ended.append(call)
            self.call = None

    def media_state(self, call: _Call) -> None:
        info = call.getInfo()
        for index, media in enumerate(info.media):
            if media.type != pj.PJMEDIA_TYPE_AUDIO or media.status != pj.PJSUA_CALL_MEDIA_ACTIVE:
                continue
            audio = call.getAudioMedia(index)
            if self._player is not None:
                self._player.startTransmit(audio)
            if self._recorder is not None:
                audio.startTransmit(self._recorder)
            if not self.settings.null_audio:
                audio.startTransmit(self._ep.audDevManager().getPlaybackDevMedia())
                self._ep.audDevManager().getCaptureDevMedia().startTransmit(audio)

    def dtmf(self, digit: str) -> None:
        if self.view is not None:
            self.view.digits.append(digit)
        self.emit("dtmf", digit=digit)


class PhoneError(RuntimeError):
    """A command that does not fit the phone's state (no call to answer...)."""


def _figures(stat: Any) -> NetworkFigures:
    rx = stat.rtcp.rxStat
    received, lost = int(rx.pkt), int(rx.loss)
    jitter = rx.jitterUsec
    rtt = stat.rtcp.rttUsec
    return NetworkFigures(
        jitter_ms=round(jitter.last / 1000.0, 3) if jitter.n > 0 else None,
        loss_ratio=round(lost / (received + lost), 4) if received + lost > 0 else None,
        rtt_ms=round(rtt.last / 1000.0, 3) if rtt.n > 0 else None,
    )
