"""Audio in the simulated PBX: a WAV attached to a caller reaches an AudioSocket server byte
for byte through Originate + ChanSpy(o) + AudioSocket, as the shipped media fork uses them;
bad WAVs and bad AudioSocket arguments are reported clearly."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
import wave
from pathlib import Path

import numpy as np
import pytest

from pbx.asterisk.audiosocket import AudioSocketServer, Peer
from pbx.sim.cli import build
from pbx.sim.inbound import inbound_call
from pbx.sim.media import AudioFileError, audio_of, load_wav
from pbx.sim.runtime import SimConfig, Simulator
from pbx.sim.scenario import Scenario, ScenarioError

# What the dialplan below builds with MD5, IMPORT and substrings, as the shipped cc-fork does.
STREAM = uuid.UUID(hex=hashlib.md5(b"abc:customer").hexdigest())

DIALPLAN = """\
[globals]
SERVER = 127.0.0.1:1

[talk]
exten => 100,1,Answer()
 same => n,Set(FORK_ID=${MD5(abc:customer)})
 same => n,Originate(Local/spy@fork,exten,fork,stream,1,5,av(TARGET=${CHANNEL}^SIDE=customer))
 same => n,NoOp(${ORIGINATE_STATUS})
 same => n,Wait(60)

[fork]
exten => spy,1,Answer()
 same => n,ChanSpy(${TARGET},qoE)
 same => n,Hangup()
exten => stream,1,Set(H=${IMPORT(${TARGET},FORK_ID)})
 same => n,AudioSocket(${H:0:8}-${H:8:4}-${H:12:4}-${H:16:4}-${H:20:12},${SERVER})
 same => n,Hangup()
"""


def tone_wav(path: Path, seconds: float, *, channels: int = 1, rate: int = 8000) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    samples = (8000 * np.sin(2 * np.pi * 440 * t)).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.repeat(samples, channels).tobytes())
    return path


class Collector:
    def __init__(self) -> None:
        self.data = bytearray()
        self.reason: str | None = None
        self.done = asyncio.Event()

    def audio(self, pcm: bytes, rate: int) -> None:
        self.data += pcm

    def closed(self, reason: str) -> None:
        self.reason = reason
        self.done.set()


async def test_a_callers_wav_reaches_the_server_byte_for_byte(tmp_path: Path) -> None:
    collectors: dict[uuid.UUID, Collector] = {}

    def open_stream(stream_id: uuid.UUID, peer: Peer) -> Collector:
        return collectors.setdefault(stream_id, Collector())

    server = AudioSocketServer("127.0.0.1", 0, open_stream)
    await server.start()
    conf = tmp_path / "extensions.conf"
    conf.write_text(DIALPLAN)
    sim = Simulator(
        SimConfig(
            dialplan_path=conf,
            globals_override={"SERVER": f"127.0.0.1:{server.port}"},
            time_scale=0.1,
            auth_fail_delay=0.05,
        )
    )
    await sim.start()
    try:
        wav = tone_wav(tmp_path / "tone.wav", 1.0)
        audio_of(sim.pbx).attach_caller("2015550100", wav)
        chan = inbound_call(sim.pbx, "100", context="talk", caller_num="2015550100")
        for _ in range(500):
            got = collectors.get(STREAM)
            if got is not None and len(got.data) >= 2 * 8000 * 1.5:
                break
            await asyncio.sleep(0.01)
        got = collectors[STREAM]
        pcm = load_wav(wav)
        # Silence until the spy listens, then the file from its start, then silence.
        start = bytes(got.data).find(pcm[:320])
        assert start >= 0 and start % 320 == 0
        assert bytes(got.data[start : start + len(pcm)]) == pcm
        assert not any(got.data[:start]) and not any(got.data[start + len(pcm) :])
        # The caller hangs up: ChanSpy (E) ends, the Local pair goes, the stream closes.
        sim.pbx.queue_hangup(chan, 16)
        await asyncio.wait_for(got.done.wait(), 5)
        assert got.reason == "closed"
        assert audio_of(sim.pbx).streams == 1
    finally:
        await sim.stop()
        await server.close()


async def test_audiosocket_with_a_bad_uuid_or_address_hangs_up(tmp_path: Path) -> None:
    conf = tmp_path / "extensions.conf"
    conf.write_text(
        "[t]\n"
        "exten => 1,1,AudioSocket(not-a-uuid,127.0.0.1:9)\n"
        " same => n,Set(AFTER=1)\n"
        "exten => 2,1,AudioSocket(6f1c1e0e-3b7a-4c61-9c55-0d3f1c2b7a10,nowhere)\n"
        " same => n,Set(AFTER=1)\n"
    )
    sim = Simulator(SimConfig(dialplan_path=conf, time_scale=0.01, auth_fail_delay=0.05))
    await sim.start()
    try:
        for exten in ("1", "2"):
            chan = inbound_call(sim.pbx, exten, context="t")
            for _ in range(200):
                if chan.hung_up:
                    break
                await asyncio.sleep(0.01)
            assert chan.hung_up and "AFTER" not in chan.variables
    finally:
        await sim.stop()


def test_md5_is_func_md5() -> None:
    from pbx.sim.dialplan.substitution import STANDARD_FUNCTIONS

    assert STANDARD_FUNCTIONS["MD5"]("abc:customer") == hashlib.md5(b"abc:customer").hexdigest()
    assert STANDARD_FUNCTIONS["MD5"]("") == ""


def test_scenario_attaches_wavs_and_names_a_bad_file(tmp_path: Path) -> None:
    conf = tmp_path / "extensions.conf"
    conf.write_text("[t]\nexten => 1,1,NoOp()\n")
    tone_wav(tmp_path / "agent.wav", 0.2)
    tone_wav(tmp_path / "caller.wav", 0.3)
    scenario = Scenario.model_validate(
        {
            "dialplan": str(conf),
            "agents": [{"endpoint": "agent1001", "audio": "agent.wav"}],
            "traffic": {"numbers": [{"number": "5550100", "calls_per_minute": 1,
                                     "audio": "caller.wav"}]},
        }
    )  # fmt: skip
    sim = build(scenario, tmp_path, 0, None)
    audio = audio_of(sim.pbx)
    assert len(audio.by_endpoint["agent1001"]) == 2 * 1600
    assert len(audio.by_number["5550100"]) == 2 * 2400
    tone_wav(tmp_path / "stereo.wav", 0.2, channels=2)
    bad = scenario.model_copy(
        update={"agents": [scenario.agents[0].model_copy(update={"audio": "stereo.wav"})]}
    )
    with pytest.raises(ScenarioError, match=r"stereo\.wav: 2 channel\(s\).*expected mono"):
        build(bad, tmp_path, 0, None)
    with pytest.raises(AudioFileError, match=r"missing\.wav: not a readable WAV"):
        load_wav(tmp_path / "missing.wav")
