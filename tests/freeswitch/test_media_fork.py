"""The media fork's recording reader (pbx/freeswitch/media_fork.py) on files written the way
mod_sndfile writes them while a call runs: header first with empty sizes, audio appended in
arbitrary pieces, sizes completed on close."""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from pbx.freeswitch.media_fork import RecordingFollower, WavError, parse_header

ID = "01JTESTCALL0000000000000000"


def fmt_chunk(channels: int = 2, rate: int = 8000, bits: int = 16, tag: int = 1) -> bytes:
    block = channels * bits // 8
    body = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)
    return b"fmt " + struct.pack("<I", len(body)) + body


def extensible_fmt(rate: int = 8000) -> bytes:
    body = struct.pack("<HHIIHH", 0xFFFE, 2, rate, rate * 4, 4, 16)
    guid = bytes.fromhex("0100000000001000800000aa00389b71")
    body += struct.pack("<HHI", 22, 16, 3) + guid
    return b"fmt " + struct.pack("<I", len(body)) + body


def header(fmt: bytes, data_size: int = 0, extra: bytes = b"") -> bytes:
    rest = b"WAVE" + fmt + extra + b"data" + struct.pack("<I", data_size)
    return b"RIFF" + struct.pack("<I", len(rest)) + rest


@dataclass
class Call:
    customer: bytearray = field(default_factory=bytearray)
    agent: bytearray = field(default_factory=bytearray)
    rates: set[int] = field(default_factory=set)
    closed_with: str | None = None

    def audio(self, customer: bytes, agent: bytes, rate: int) -> None:
        assert len(customer) == len(agent)
        self.customer += customer
        self.agent += agent
        self.rates.add(rate)

    def closed(self, reason: str) -> None:
        self.closed_with = reason


@dataclass
class Sink:
    known: set[str]
    calls: dict[str, Call] = field(default_factory=dict)
    alive: bool = True

    def open_call(self, interaction_id: str, rate: int) -> Call | None:
        if interaction_id not in self.known:
            return None
        self.calls[interaction_id] = Call()
        return self.calls[interaction_id]

    def call_alive(self, interaction_id: str) -> bool:
        return self.alive


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def stereo(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray, bytes]:
    rng = np.random.default_rng(seed)
    left = rng.integers(-20000, 20000, n, dtype=np.int16)
    right = rng.integers(-20000, 20000, n, dtype=np.int16)
    return left, right, np.column_stack((left, right)).astype("<i2").tobytes()


def follower(tmp_path: Path, sink: Sink, **kw: object) -> tuple[RecordingFollower, Clock]:
    clock = Clock()
    return RecordingFollower(tmp_path, sink, clock=clock, **kw), clock  # type: ignore[arg-type]


def test_header_parsing_walks_the_chunks() -> None:
    plain = parse_header(header(fmt_chunk()))
    assert plain is not None and (plain.rate, plain.channels, plain.data_at) == (8000, 2, 44)
    # A LIST chunk (odd length, padded) and a fact chunk before the audio.
    extra = b"LIST" + struct.pack("<I", 5) + b"INFOx\0" + b"fact" + struct.pack("<I", 4) + b"\0" * 4
    layout = parse_header(header(fmt_chunk(rate=16000), extra=extra))
    assert layout is not None and layout.rate == 16000 and layout.data_at == 44 + 14 + 12
    ext = parse_header(header(extensible_fmt()))
    assert ext is not None and ext.data_at == 12 + 8 + 40 + 8
    # Not there yet: wait for more bytes.
    full = header(fmt_chunk())
    assert all(parse_header(full[:n]) is None for n in range(len(full)))


@pytest.mark.parametrize(
    ("head", "match"),
    [
        (b"RIFX" + b"\0" * 40, "not a RIFF/WAVE"),
        (header(fmt_chunk(channels=1)), "1 channel"),
        (header(fmt_chunk(bits=8)), "8-bit"),
        (header(fmt_chunk(rate=44100)), "44100 Hz"),
        (header(fmt_chunk(tag=6)), "format 6"),
        (b"RIFF\0\0\0\0WAVEdata\0\0\0\0", "data chunk before the fmt"),
    ],
)
def test_unusable_formats_are_named(head: bytes, match: str) -> None:
    with pytest.raises(WavError, match=match):
        parse_header(head)


def test_a_growing_file_is_split_into_its_sides_whole_samples_only(tmp_path: Path) -> None:
    sink = Sink({ID})
    reader, clock = follower(tmp_path, sink)
    left, right, pcm = stereo(8000)
    path = tmp_path / f"{ID}.wav"
    head = header(fmt_chunk(), extra=b"LIST" + struct.pack("<I", 3) + b"abc\0")
    with path.open("wb") as f:
        f.write(head[:10])  # not even the RIFF header yet
        f.flush()
        reader.poll()
        assert sink.calls == {}
        f.write(head[10:])
        f.flush()
        # Cut anywhere, even inside a sample: what is read is whole stereo samples.
        for cut in (1, 3, 7, 1001, 4003, 10_000, 20_001, len(pcm)):
            f.write(pcm[f.tell() - len(head) : cut])
            f.flush()
            clock.t += 0.1
            reader.poll()
            call = sink.calls[ID]
            assert len(call.customer) % 2 == 0 and len(call.customer) // 2 <= cut // 4
        # Closed by FreeSWITCH: the sizes are written, then the reader finishes.
        f.seek(len(head) - 4)
        f.write(struct.pack("<I", len(pcm)))
    reader.poll()
    call = sink.calls[ID]
    assert np.array_equal(np.frombuffer(call.customer, "<i2"), left)
    assert np.array_equal(np.frombuffer(call.agent, "<i2"), right)
    assert call.rates == {8000} and call.closed_with == "recording closed"
    assert not path.exists()  # keep_files: false


def test_audio_after_the_data_chunk_is_not_read(tmp_path: Path) -> None:
    sink = Sink({ID})
    reader, _ = follower(tmp_path, sink, keep_files=True)
    left, _, pcm = stereo(800)
    path = tmp_path / f"{ID}.wav"
    path.write_bytes(header(fmt_chunk(), len(pcm)) + pcm + b"LIST" + struct.pack("<I", 4) + b"abcd")
    reader.poll()
    assert np.array_equal(np.frombuffer(sink.calls[ID].customer, "<i2"), left)
    assert sink.calls[ID].closed_with == "recording closed"
    assert path.exists()  # kept, and not read again
    reader.poll()
    assert reader.finished == 1 and not reader.followed


def test_idle_call_end_and_removal_end_a_recording(tmp_path: Path) -> None:
    sink = Sink({ID, "B", "C"})
    reader, clock = follower(tmp_path, sink, idle_seconds=5)
    for name in (ID, "B", "C"):
        (tmp_path / f"{name}.wav").write_bytes(header(fmt_chunk()) + stereo(160)[2])
    reader.poll()
    assert set(reader.followed) == {f"{ID}.wav", "B.wav", "C.wav"}
    (tmp_path / "B.wav").unlink()
    reader.poll()
    assert sink.calls["B"].closed_with == "file removed"
    clock.t = 5.0
    reader.poll()
    assert sink.calls[ID].closed_with == "idle" and sink.calls["C"].closed_with == "idle"
    sink.known.add("D")
    (tmp_path / "D.wav").write_bytes(header(fmt_chunk()))
    reader.poll()
    sink.alive = False
    reader.poll()
    assert sink.calls["D"].closed_with == "call ended"


def test_bad_and_unknown_files_are_logged_once_and_left_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sink = Sink({ID})
    reader, _ = follower(tmp_path, sink)
    (tmp_path / f"{ID}.wav").write_bytes(header(fmt_chunk(channels=1)))
    (tmp_path / "01JOTHERCALL.wav").write_bytes(header(fmt_chunk()))
    (tmp_path / "bad name!.wav").write_bytes(header(fmt_chunk()))
    with caplog.at_level(logging.INFO, logger="pbx.freeswitch.media_fork"):
        reader.poll()
        reader.poll()
    text = caplog.text
    assert text.count("1 channel(s)") == 1 and "expected 16-bit PCM, 2 channels" in text
    assert text.count("no call 01JOTHERCALL") == 1  # asked again while it may grow
    assert text.count("not named <interaction id>.wav") == 1
    assert sink.calls == {}
    assert all(p.exists() for p in tmp_path.iterdir())  # nothing deleted that was not read
    assert set(reader.followed) == {"01JOTHERCALL.wav"}  # may still become known


def test_a_missing_folder_is_waited_for(tmp_path: Path) -> None:
    sink = Sink({ID})
    reader, _ = follower(tmp_path / "not-yet", sink)
    reader.poll()  # FreeSWITCH creates it with the first recording
    (tmp_path / "not-yet").mkdir()
    (tmp_path / "not-yet" / f"{ID}.wav").write_bytes(header(fmt_chunk()))
    reader.poll()
    assert ID in sink.calls


def test_a_recording_seen_before_its_call_is_adopted_is_read_once_it_is(tmp_path: Path) -> None:
    sink = Sink(set())
    reader, clock = follower(tmp_path, sink, idle_seconds=5)
    left, _, pcm = stereo(1600)
    path = tmp_path / f"{ID}.wav"
    path.write_bytes(header(fmt_chunk()) + pcm[:3200])
    reader.poll()
    clock.t = 3.0
    with path.open("ab") as f:
        f.write(pcm[3200:])
    reader.poll()  # still growing: asked again, not given up
    assert sink.calls == {} and reader.followed
    sink.known.add(ID)  # the restarted ACD has adopted the call
    clock.t = 4.0
    reader.poll()
    assert np.array_equal(np.frombuffer(sink.calls[ID].customer, "<i2"), left)


def test_a_recording_of_no_call_is_given_up_when_it_stops_growing(tmp_path: Path) -> None:
    sink = Sink(set())
    reader, clock = follower(tmp_path, sink, idle_seconds=5)
    (tmp_path / f"{ID}.wav").write_bytes(header(fmt_chunk()))
    reader.poll()
    clock.t = 5.0
    reader.poll()
    assert not reader.followed and reader.skipped
    sink.known.add(ID)
    reader.poll()  # the same file is not read again
    assert sink.calls == {}


PARK_XML = """<include><context name="t"><extension name="park">
  <condition field="destination_number" expression="^park$">
    <action application="answer"/><action application="park"/>
  </condition></extension></context></include>"""


async def test_the_simulator_records_over_uuid_record(tmp_path: Path) -> None:
    import asyncio

    from pbx.sim.esl import api
    from pbx.sim.esl import dialplan as xml_dialplan
    from pbx.sim.esl.record import fs_audio
    from pbx.sim.esl.switch import FsSwitch, SwitchConfig

    (tmp_path / "park.xml").write_text(PARK_XML)
    wav = tmp_path / "caller.wav"
    samples = stereo(1600)[0]
    import wave

    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(samples.astype("<i2").tobytes())
    sw = FsSwitch(xml_dialplan.load(tmp_path / "park.xml"), SwitchConfig(time_scale=0.1))
    fs_audio(sw).attach_caller("2015550100", wav)
    ch = sw.inbound_call("park", "2015550100", context="t")
    out = tmp_path / "media" / "call.wav"
    usage = await api.execute(sw, f"uuid_record {ch.uuid} start")
    assert usage.body.startswith("-USAGE")
    missing = await api.execute(sw, f"uuid_record nope start {out}")
    assert missing.body == "-ERR Cannot locate session!\n"
    await asyncio.sleep(0.05)
    ch.set_var("RECORD_STEREO", "true")
    ch.set_var("RECORD_MIN_SEC", "0")
    assert (await api.execute(sw, f"uuid_record {ch.uuid} start {out}")).body == "+OK Success\n"
    await asyncio.sleep(0.05)  # 0.5 s of simulated audio
    assert (await api.execute(sw, f"uuid_record {ch.uuid} stop {out}")).body == "+OK Success\n"
    layout = parse_header(out.read_bytes())
    assert layout is not None and layout.channels == 2 and layout.data_size > 0
    data = np.frombuffer(out.read_bytes()[layout.data_at :], "<i2").reshape(-1, 2)
    assert len(data) * 4 == layout.data_size
    # Not bridged (no RECORD_BRIDGE_REQ): the caller's own audio left, silence right.
    n = min(len(data), len(samples))
    assert np.array_equal(data[:n, 0], samples[:n]) and not data[:, 1].any()
    await sw.hangup(ch, "NORMAL_CLEARING")
    await sw.close()
