"""sipp as the telephones of the opt-in suites: callers (UAC) dialling into the PBX and agent
phones (UAS) that the PBX rings. Both send RTP (a generated u-law tone) once a call is up.

Each phone is one sipp process; its scenario is written from the templates below into a
temporary directory, so the timings (answer delay, talk time, when a caller gives up) are
plain arguments.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import shutil
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

SIPP = shutil.which("sipp")

# A caller: INVITE with SDP, ACK, stream audio, then either the PBX hangs up (the agent ended
# the call) or, after ``give_up_ms``, the caller hangs up itself.
CALLER = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="ccplane caller">
  <Global variables="caller"/>
  <send retrans="500">
    <![CDATA[
INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "Caller [$caller]" <sip:[$caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:[$caller]@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

v=0
o=caller 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=ptime:20
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rtd="true" rrs="true">
    <action>{sdp_peer}</action>
  </recv>
  <send>
    <![CDATA[
ACK [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "Caller [$caller]" <sip:[$caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
[last_To:]
[routes]
Call-ID: [call_id]
CSeq: 1 ACK
Contact: <sip:[$caller]@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0

    ]]>
  </send>
  {media}
  {keys}
  <recv request="BYE" timeout="{give_up_ms}" ontimeout="give_up"/>
  <send>
    <![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[$caller]@[local_ip]:[local_port]>
Content-Length: 0

    ]]>
  </send>
  <nop next="done"/>
  <label id="give_up"/>
  <send retrans="500">
    <![CDATA[
BYE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "Caller [$caller]" <sip:[$caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
[last_To:]
[routes]
Call-ID: [call_id]
CSeq: 90 BYE
Contact: <sip:[$caller]@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0

    ]]>
  </send>
  <recv response="200" crlf="true"/>
  <label id="done"/>
</scenario>
"""

# One key press as SIP INFO (application/dtmf-relay), which Asterisk takes whatever the
# endpoint's dtmf_mode; sent ``pause_ms`` after the previous step.
KEY = """<pause milliseconds="{pause_ms}"/>
  <send retrans="500">
    <![CDATA[
INFO [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "Caller [$caller]" <sip:[$caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
[last_To:]
[routes]
Call-ID: [call_id]
CSeq: {cseq} INFO
Contact: <sip:[$caller]@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Type: application/dtmf-relay
Content-Length: [len]

Signal={digit}
Duration=160
    ]]>
  </send>
  <recv response="200"/>"""

# An agent phone that answers: 180, 200 after ``answer_ms``, stream audio, and hang up after
# ``talk_ms`` unless the caller's side hangs up first. A CANCEL while ringing is accepted.
AGENT_ANSWERS = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="ccplane agent phone (answers)">
  <recv request="INVITE" rrs="true">
    <action>
      <ereg regexp=".*" search_in="hdr" header="From:" assign_to="peer"/>
      <ereg regexp=".*" search_in="hdr" header="To:" assign_to="me"/>
      <ereg regexp="[0-9]+" search_in="hdr" header="CSeq:" assign_to="invite_cseq"/>
      {sdp_peer}
    </action>
  </recv>
  <send>
    <![CDATA[
SIP/2.0 180 Ringing
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Content-Length: 0

    ]]>
  </send>
  <recv request="CANCEL" timeout="{answer_ms}" ontimeout="answer"/>
  {cancelled}
  <label id="answer"/>
  <send retrans="500">
    <![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Content-Type: application/sdp
Content-Length: [len]

v=0
o=agent 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=ptime:20
    ]]>
  </send>
  <recv request="ACK" crlf="true"/>
  {media}
  <recv request="BYE" timeout="{talk_ms}" ontimeout="hang_up"/>
  <send>
    <![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

    ]]>
  </send>
  <nop next="done"/>
  <label id="hang_up"/>
  <send retrans="500">
    <![CDATA[
BYE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: [$me];tag=[pid]SIPpTag01[call_number]
To: [$peer]
Call-ID: [call_id]
CSeq: 101 BYE
Max-Forwards: 70
Content-Length: 0

    ]]>
  </send>
  <recv response="200" crlf="true"/>
  <label id="done"/>
</scenario>
"""

# What an agent phone does with a CANCEL: 200 for it, 487 for the INVITE, wait for the ACK.
CANCELLED = """<send>
    <![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

    ]]>
  </send>
  <send>
    <![CDATA[
SIP/2.0 487 Request Terminated
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
CSeq: [$invite_cseq] INVITE
Content-Length: 0

    ]]>
  </send>
  <recv request="ACK" crlf="true" next="done"/>"""


# A phone whose audio the test plays and hears itself (tests/real/rtp.py): its SDP names the
# test's port, sipp streams nothing and logs the PBX's media address for the test to aim at.
SDP_PEER = """<ereg regexp="c=IN IP4 ([0-9.]+)" search_in="msg" check_it="false"
        assign_to="sdp_line,rtp_ip"/>
      <ereg regexp="m=audio ([0-9]+)" search_in="msg" check_it="false"
        assign_to="sdp_line,rtp_port"/>"""
LOG_PEER = '<nop><action><log message="rtp-peer [$rtp_ip] [$rtp_port] [$sdp_line]"/></action></nop>'
STREAM = '<nop><action><exec rtp_stream="{audio},-1,0"/></action></nop>'


def _ulaw(sample: int) -> int:
    """G.711 u-law of one 16-bit sample."""
    bias, clip = 0x84, 32635
    sign = 0x80 if sample < 0 else 0
    magnitude = min(abs(sample), clip) + bias
    exponent = max(0, min(7, magnitude.bit_length() - 8))
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def write_tone(path: Path, seconds: float = 2.0, hz: float = 440.0) -> Path:
    """A raw u-law tone for sipp's rtp_stream (8 kHz, what payload type 0 carries)."""
    samples = (
        int(8000 * math.sin(2 * math.pi * hz * n / 8000)) for n in range(int(8000 * seconds))
    )
    path.write_bytes(struct.pack(f"{int(8000 * seconds)}B", *(_ulaw(s) for s in samples)))
    return path


def free_udp_port(host: str, even: bool = False) -> int:
    """A UDP port on ``host`` that nothing uses now (``even`` for RTP, whose RTCP takes +1)."""
    import socket

    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind((host, 0))
            port = sock.getsockname()[1]
        if not even or port % 2 == 0:
            with (
                contextlib.suppress(OSError),
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s,
            ):
                s.bind((host, port + 1))
                return port


@dataclass
class Phone:
    """One running sipp process."""

    name: str
    directory: Path
    process: asyncio.subprocess.Process
    args: list[str] = field(default_factory=list)

    async def finished(self, within: float) -> int:
        """Wait for sipp to end (a caller ends after its one call); its exit code."""
        return await asyncio.wait_for(self.process.wait(), within)

    async def stop(self) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 5)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()

    def log(self) -> str:
        """sipp's message and error traces (for failure messages)."""
        parts = []
        for path in sorted(self.directory.glob(f"{self.name}*")):
            if path.suffix in (".log",):
                parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-6000:]}")
        return "\n".join(parts)

    def media_peer(self) -> tuple[str, int] | None:
        """The PBX's media address of this phone's latest call (a phone started with ``rtp``),
        or None before the SDP arrived."""
        path = self.directory / f"{self.name}_peer.log"
        if not path.exists():
            return None
        found = None
        for line in path.read_text(errors="replace").splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[0] == "rtp-peer" and parts[2].isdigit():
                found = (parts[1], int(parts[2]))
        return found


def _prepare(
    name: str, directory: Path, scenario: str, args: list[str], rtp: int | None = None
) -> list[str]:
    """Write the scenario (and the tone it streams) and return sipp's command line. With
    ``rtp``, the SDP offers that port instead of sipp's and sipp streams nothing."""
    if SIPP is None:
        raise RuntimeError("sipp is not installed")
    directory.mkdir(parents=True, exist_ok=True)
    audio = directory / "tone.ulaw"
    if not audio.exists():
        write_tone(audio)
    if rtp is None:
        scenario = scenario.replace("{sdp_peer}", "").replace("{media}", STREAM)
        logs: list[str] = []
    else:
        scenario = scenario.replace("{sdp_peer}", SDP_PEER).replace("{media}", LOG_PEER)
        scenario = scenario.replace("m=audio [media_port]", f"m=audio {rtp}")
        logs = ["-trace_logs", "-log_file", str(directory / f"{name}_peer.log")]
    xml = directory / f"{name}.xml"
    xml.write_text(scenario.replace("{audio}", str(audio)))
    return [
        SIPP,
        *args,
        *logs,
        "-sf",
        str(xml),
        "-nostdin",
        "-trace_err",
        "-trace_msg",
        "-message_file",
        str(directory / f"{name}_messages.log"),
        "-error_file",
        str(directory / f"{name}_errors.log"),
    ]


async def _start(name: str, directory: Path, argv: list[str]) -> Phone:
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        cwd=directory,
    )
    return Phone(name, directory, process, argv)


async def start_agent_phone(
    directory: Path,
    name: str,
    host: str,
    port: int,
    *,
    answer_after: float | None = 0.5,
    talk: float = 3.0,
    rtp: int | None = None,
) -> Phone:
    """An agent phone listening on ``host:port``; ``answer_after=None`` never answers;
    ``rtp``: the test's media port (tests/real/rtp.py) instead of sipp's tone."""
    answer_ms = 3_600_000 if answer_after is None else int(answer_after * 1000)
    scenario = AGENT_ANSWERS.replace("{cancelled}", CANCELLED)
    scenario = scenario.replace("{answer_ms}", str(answer_ms)).replace(
        "{talk_ms}", str(int(talk * 1000))
    )
    media = free_udp_port(host, even=True)
    args = ["-i", host, "-p", str(port), "-mi", host, "-mp", str(media)]
    return await _start(name, directory, _prepare(name, directory, scenario, args, rtp))


async def start_caller(
    directory: Path,
    name: str,
    pbx: tuple[str, int],
    number: str,
    caller_id: str,
    *,
    source: str = "127.0.0.1",
    give_up_after: float = 120.0,
    keys: Sequence[tuple[str, float]] = (),
    rtp: int | None = None,
) -> Phone:
    """One call from ``caller_id`` to ``number``; the caller hangs up after ``give_up_after``
    seconds of being connected to the PBX unless the PBX hangs up first. ``keys`` are pressed
    once answered, each ``(digit, seconds after the previous step)``; ``rtp`` as for
    ``start_agent_phone``."""
    steps = [
        KEY.format(pause_ms=int(pause * 1000), cseq=2 + i, digit=digit)
        for i, (digit, pause) in enumerate(keys)
    ]
    scenario = CALLER.replace("{give_up_ms}", str(int(give_up_after * 1000)))
    scenario = scenario.replace("{keys}", "\n  ".join(steps))
    args = [
        f"{pbx[0]}:{pbx[1]}",
        "-s",
        number,
        "-set",
        "caller",
        caller_id,
        "-m",
        "1",
        "-i",
        source,
        "-p",
        str(free_udp_port(source)),
        "-mi",
        source,
        "-mp",
        str(free_udp_port(source, even=True)),
    ]
    return await _start(name, directory, _prepare(name, directory, scenario, args, rtp))
