"""The softphone (pjsua2, null audio device, WAV microphone and speaker) against sipp as a
real SIP peer: digest registration with a 401 challenge, and a call with RTP speech, RFC 2833
digits, hold and hang-up."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

pj = pytest.importorskip("pjsua2", reason="the softphone extra (pjsua2-python) is not installed")
if shutil.which("sipp") is None:
    pytest.skip("sipp (Debian sip-tester) is not installed", allow_module_level=True)

from agent_softphone.phone import PhoneSettings, Softphone  # noqa: E402
from agent_softphone.probe import MicProbe, WavMic  # noqa: E402
from cc_core.quality import AudioFormat, Encoding, ScorerConfig, StreamScorer  # noqa: E402
from tests.softphone.rtp_pcap import write_rtp_pcap  # noqa: E402

SCENARIOS = Path(__file__).parent / "scenarios"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def speech_wav(directory: Path) -> Path:
    raw, wav = directory / "raw.wav", directory / "speech.wav"
    subprocess.run(
        [
            "espeak-ng",
            "-w",
            str(raw),
            "Hello, thank you for calling. Please tell "
            "me your account number so that I can help you today.",
        ],
        check=True,
    )
    subprocess.run(["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", str(wav)], check=True)
    return wav


def sipp(scenario: str, *args: str, cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            "sipp",
            "-sf",
            str(SCENARIOS / scenario),
            "-i",
            "127.0.0.1",
            "-m",
            "1",
            "-timeout",
            "40",
            "-nostdin",
            *args,
        ],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def run_until(phone: Softphone, proc: subprocess.Popen[bytes], seconds: float) -> int:
    deadline = time.monotonic() + seconds
    while proc.poll() is None and time.monotonic() < deadline:
        phone.poll(20)
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    return proc.returncode


@pytest.mark.parametrize("password,registered", [("s3cret-1001", True), ("wrong", False)])
def test_registers_with_digest_auth(tmp_path: Path, password: str, registered: bool) -> None:
    port = free_udp_port()
    registrar = sipp("registrar.xml", "-p", str(port), "-aa", cwd=tmp_path)
    time.sleep(0.3)
    events: list[tuple[str, dict[str, object]]] = []
    phone = Softphone(
        PhoneSettings(
            user="1001",
            sip_port=0,
            rtp_port=free_udp_port(),
            registrar=f"sip:127.0.0.1:{port}",
            password=password,
        ),
        on_event=events.append,
    )
    try:
        rc = run_until(phone, registrar, 8 if registered else 3)
        codes = [int(str(d["code"])) for kind, d in events if kind == "registration"]
        assert phone.registered is registered, events
        if registered:
            assert rc == 0 and codes[-1] == 200
        else:
            assert rc != 0 and 403 in codes
    finally:
        phone.close()


def test_answers_a_call_hears_speech_and_digits_holds_and_hangs_up(tmp_path: Path) -> None:
    wav = speech_wav(tmp_path)
    write_rtp_pcap(wav, tmp_path / "speech.pcap")
    events: list[tuple[str, dict[str, object]]] = []
    probe = MicProbe(8000)
    phone = Softphone(
        PhoneSettings(
            user="1001",
            sip_port=0,
            rtp_port=free_udp_port(),
            auto_answer=True,
            mic_wav=wav,
            speaker_wav=tmp_path / "heard.wav",
        ),
        probe,
        events.append,
    )
    caller = sipp(
        "call_agent.xml",
        "-s",
        "1001",
        f"127.0.0.1:{phone.sip_port}",
        "-p",
        "0",
        "-mp",
        str(free_udp_port()),
        cwd=tmp_path,
    )
    stats = None
    try:
        start = time.monotonic()
        stage = 0
        while caller.poll() is None and time.monotonic() - start < 40:
            phone.poll(20)
            view = phone.view
            if view is None or not view.answered:
                continue
            elapsed = time.monotonic() - start
            if stage == 0 and elapsed > 4:  # mid-speech, before the digits' own RTP streams
                stats, stage = phone.network(), 1
            elif stage == 1 and "".join(view.digits) == "19":
                digits_at, stage = time.monotonic(), 2
            elif stage == 2 and time.monotonic() - digits_at > 1.5:  # sipp's pause is over
                phone.hold()
                held_at, stage = time.monotonic(), 3
            elif stage == 3 and time.monotonic() - held_at > 1.0:
                phone.hangup()
                stage = 4
        rc = caller.wait(timeout=10)
        assert rc == 0, (
            caller.stderr.read().decode(errors="replace")[-2000:] if caller.stderr else ""
        )
    finally:
        if caller.poll() is None:
            caller.kill()
        phone.close()
    kinds = [k for k, _ in events]
    assert kinds[:2] == ["incoming", "answered"]
    assert events[0][1]["interaction"] == "ix-4711"  # the X-CC-Interaction header
    ended = next(d for k, d in events if k == "ended")
    assert ended["digits"] == "19"
    assert stats is not None and stats.loss_ratio == 0.0
    assert stats.jitter_ms is not None and stats.jitter_ms < 20
    # What the agent heard is the caller's speech, as cc_core.quality judges it.
    heard = WavMic(tmp_path / "heard.wav", loop=False)
    scorer = StreamScorer(AudioFormat(heard.rate, Encoding.PCM16, 20), ScorerConfig(window_s=30))
    scorer.push(heard.pcm)
    snap = scorer.snapshot()
    assert snap.speech_ratio > 0.3 and snap.speech_level_dbfs is not None
    # The microphone (the WAV) was probed during the call: the speech scores well.
    report = probe.report()
    assert report.in_call is False  # back to the surroundings after the call
