"""The simulated PBX with a sound directory: prompts under it must exist (a missing one fails
like Asterisk's STREAM FILE, result=-1) and play for the WAV's real length; names outside it
(stock sounds) and a simulator without a sound directory keep the fixed length."""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path

import pytest

from pbx.sim.agi_client import SimAgiChannel
from pbx.sim.apps import app_playback
from pbx.sim.channel import State
from pbx.sim.runtime import SimConfig, Simulator
from pbx.sim.sounds import DEFAULT_SECONDS, Sounds
from tests.acd.conftest import DIALPLAN


def write_wav(path: Path, seconds: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(b"\0\0" * int(8000 * seconds))


def test_lengths_come_from_the_files_and_missing_ones_fail(tmp_path: Path) -> None:
    write_wav(tmp_path / "ccplane" / "en" / "welcome.wav", 1.25)
    sounds = Sounds(tmp_path)
    assert sounds.seconds("ccplane/en/welcome") == pytest.approx(1.25)
    with pytest.raises(FileNotFoundError, match=r"nothing\.wav"):
        sounds.seconds("ccplane/en/nothing")
    (tmp_path / "ccplane" / "en" / "junk.wav").write_text("not a wav")
    with pytest.raises(FileNotFoundError, match=r"junk\.wav"):
        sounds.seconds("ccplane/en/junk")
    # Stock sounds are not in the project's folder: assumed installed.
    assert sounds.seconds("digits/1") == DEFAULT_SECONDS
    assert sounds.seconds("beep") == DEFAULT_SECONDS
    assert Sounds(None).seconds("ccplane/en/nothing") == DEFAULT_SECONDS


async def test_stream_file_plays_the_real_length_or_fails(tmp_path: Path) -> None:
    write_wav(tmp_path / "ccplane" / "en" / "welcome.wav", 3.0)
    sim = Simulator(SimConfig(dialplan_path=DIALPLAN, time_scale=0.05, sound_dir=tmp_path))
    chan = sim.pbx.new_channel("PJSIP", "trunk", state=State.UP, context="cc-inbound")
    agi = SimAgiChannel(sim.pbx, chan)
    loop = asyncio.get_running_loop()
    started = loop.time()
    played = await agi.stream_file("ccplane/en/welcome", "", 0)
    # 3 s of audio at time scale 0.05 is 0.15 s of wall time; the fixed length would be 0.1.
    assert loop.time() - started >= 0.14
    assert played.endpos == 24000
    with pytest.raises(FileNotFoundError):
        await agi.stream_file("ccplane/en/missing", "", 0)


class Looked(Sounds):
    """Sounds that remember every prompt Playback asked for, in order."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.names: list[str] = []

    def seconds(self, name: str) -> float:
        self.names.append(name)
        return super().seconds(name)


async def test_playback_skips_a_missing_prompt_and_plays_the_rest(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Asterisk 22.10.1's app_playback: each missing file of an &-list is logged and skipped,
    # the files after it still play, and PLAYBACKSTATUS is FAILED at the end.
    write_wav(tmp_path / "ccplane" / "en" / "welcome.wav", 1.0)
    sim = Simulator(SimConfig(dialplan_path=DIALPLAN, time_scale=0.05, sound_dir=tmp_path))
    sim.pbx.sounds = looked = Looked(tmp_path)
    chan = sim.pbx.new_channel("PJSIP", "trunk", state=State.UP, context="cc-inbound")
    data = "ccplane/en/missing&ccplane/en/welcome&ccplane/en/gone"
    assert await app_playback(sim.pbx, chan, data) is None
    assert looked.names == ["ccplane/en/missing", "ccplane/en/welcome", "ccplane/en/gone"]
    assert chan.variables["PLAYBACKSTATUS"] == "FAILED"
    failed = [r.getMessage() for r in caplog.records if "Playback failed" in r.getMessage()]
    assert failed == [f"Playback failed on {chan.name} for {data}"] * 2
    await app_playback(sim.pbx, chan, "ccplane/en/welcome")
    assert chan.variables["PLAYBACKSTATUS"] == "SUCCESS"
