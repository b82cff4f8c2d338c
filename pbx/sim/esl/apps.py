"""Dialplan applications: what each does to the channel and the events around it.

There is no media: playback "plays" for a duration derived from the file name (tone_stream
loops, silence_stream milliseconds; 1 s otherwise; endless streams until interrupted).
"""

from __future__ import annotations

import asyncio
import logging
import re
import shlex
from collections.abc import Awaitable, Callable

from pbx.sim.esl import execute_on
from pbx.sim.esl.channel import FsChannel
from pbx.sim.esl.legs import OriginateError
from pbx.sim.esl.originate import parse_dial
from pbx.sim.esl.switch import Bridge, FsSwitch

log = logging.getLogger(__name__)

App = Callable[["FsSwitch", FsChannel, str], Awaitable[str]]
APPLICATIONS: dict[str, App] = {}


def app(name: str) -> Callable[[App], App]:
    def deco(fn: App) -> App:
        APPLICATIONS[name] = fn
        return fn

    return deco


def play_seconds(path: str) -> float | None:
    """How long a file 'plays'; None when it never ends (loops=-1, local_stream)."""
    if path.startswith("local_stream://") or "loops=-1" in path:
        return None
    if path.startswith("silence_stream://"):
        ms = path.split("://", 1)[1].split(",")[0]
        return int(ms) / 1000 if ms.lstrip("-").isdigit() and int(ms) >= 0 else None
    if path.startswith("tone_stream://"):
        loops = re.search(r"loops=(\d+)", path)
        cadence = re.search(r"%\((\d+),(\d+)", path)
        one = (int(cadence.group(1)) + int(cadence.group(2))) / 1000 if cadence else 0.5
        return one * (int(loops.group(1)) if loops else 1)
    return 1.0


async def run_queued(sw: FsSwitch, ch: FsChannel) -> None:
    """Run messages queued by sendmsg / uuid_broadcast while the channel waits."""
    while ch.app_queue and ch.up and not ch.transfer_to:
        name, data, event_uuid = ch.app_queue.pop(0)
        await sw.execute(ch, name, data, event_uuid)
    ch.wake.clear()


async def idle(sw: FsSwitch, ch: FsChannel, seconds: float | None = None) -> bool:
    """Wait while serving queued messages; True when interrupted (hangup/transfer/bridge)."""
    loop = asyncio.get_running_loop()
    deadline = None if seconds is None else loop.time() + seconds * sw.config.time_scale
    while True:
        await run_queued(sw, ch)
        if ch.interrupt.is_set():
            return True
        left = None if deadline is None else deadline - loop.time()
        if left is not None and left <= 0:
            return False
        waits = {asyncio.ensure_future(ch.interrupt.wait()), asyncio.ensure_future(ch.wake.wait())}
        try:
            await asyncio.wait(waits, timeout=left, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()


@app("answer")
async def answer(sw: FsSwitch, ch: FsChannel, data: str) -> str:
    fresh = ch.up and not ch.answered.is_set()
    sw.answer(ch)
    if fresh:
        # Answering runs the channel's execute_on_answer (not again for an answered one).
        await execute_on.run(sw, ch, execute_on.EXECUTE_ON_ANSWER)
    return "_none_"


@app("pre_answer")
async def pre_answer(sw: FsSwitch, ch: FsChannel, data: str) -> str:
    return "_none_"


@app("ring_ready")
async def ring_ready(sw: FsSwitch, ch: FsChannel, data: str) -> str:
    if ch.callstate == "DOWN":
        sw.set_callstate(ch, "RINGING")
    return "_none_"


@app("park")
async def park(sw: FsSwitch, ch: FsChannel, data: str) -> str:
    ch.parked = True
    sw.chan_event("CHANNEL_PARK", ch)
    await idle(sw, ch)
    ch.parked = False
    sw.chan_event("CHANNEL_UNPARK", ch)
    return "_none_"


@app("set")
async def set_(sw: FsSwitch, ch: FsChannel, data: str) -> str:
    name, _, value = data.partition("=")
    if name:
        ch.set_var(name.strip(), value or None)
    return "_none_"


@app("log")
async def log_(sw: FsSwitch, ch: FsChannel, data: str) -> str:
    # mod_dptools: `log [LEVEL] text` into the switch's log; nothing happens to the call.
    log.info("%s: %s", ch.name, data.strip())
    return "_none_"


@app("unset")
async def unset(sw: FsSwitch, ch: FsChannel, data: str) -> str:
    if data.strip():
        ch.set_var(data.strip(), None)
    return "_none_"


@app("set_global")
async def set_global(sw: FsSwitch, ch: FsChannel, data: str) -> str:
    # mod_dptools set_global: <name>=<value>, read back with the global_getvar API.
    name, _, value = data.partition("=")
    if name.strip():
        sw.globals[name.strip()] = value
    return "_none_"


@app("export")
async def export(sw: FsSwitch, ch: FsChannel, data: str) -> str:
    return await set_(sw, ch, data.removeprefix("nolocal:"))


@app("hangup")
async def hangup(sw: FsSwitch, ch: FsChannel, data: str) -> str:
    await sw.hangup(ch, data.strip() or "NORMAL_CLEARING")
    return "_none_"


@app("sleep")
async def sleep(sw: FsSwitch, ch: FsChannel, data: str) -> str:
    ms = int(data) if data.strip().isdigit() else 0
    await idle(sw, ch, ms / 1000)
    return "_none_"


@app("playback")
async def playback(sw: FsSwitch, ch: FsChannel, data: str) -> str:
    seconds = play_seconds(data)
    interrupted = await sw.wait(ch, seconds)
    ch.set_var("playback_seconds", str(int(seconds or 0)))
    # Cut short by a transfer or hangup, FreeSWITCH reports the playback as failed.
    response = "PLAYBACK ERROR" if interrupted else "FILE PLAYED"
    ch.set_var("current_application_response", response)
    return response


@app("endless_playback")
async def endless_playback(sw: FsSwitch, ch: FsChannel, data: str) -> str:
    await idle(sw, ch)
    return "_none_"


@app("echo")
async def echo(sw: FsSwitch, ch: FsChannel, data: str) -> str:
    await sw.wait(ch, None)
    return "_none_"


@app("send_dtmf")
async def send_dtmf(sw: FsSwitch, ch: FsChannel, data: str) -> str:
    digits, _, dur = data.partition("@")
    peer = ch.loopback_peer or ch.other
    if peer is not None:
        sw.send_dtmf(peer, digits, int(dur) if dur.isdigit() else 250, "UNKNOWN")
    return "_none_"


@app("play_and_get_digits")
async def play_and_get_digits(sw: FsSwitch, ch: FsChannel, data: str) -> str:
    """min max tries timeout terminators file invalid_file var regexp [digit_timeout]."""
    args = data.split()
    if len(args) < 5:
        return "_none_"
    mn, mx, tries, timeout_ms = (int(a) if a.isdigit() else 0 for a in args[:4])
    terminators = args[4]
    var = args[7] if len(args) > 7 else ""
    regex = args[8] if len(args) > 8 else r"\d+"
    digit_timeout = int(args[9]) if len(args) > 9 and args[9].isdigit() else timeout_ms
    result = ""
    for _ in range(max(1, tries)):
        got = ""
        # The prompt plays first; digits pressed meanwhile are kept.
        wait = timeout_ms / 1000
        while ch.up and len(got) < mx:
            try:
                digit, _ = await asyncio.wait_for(
                    ch.dtmf.get(), timeout=wait * sw.config.time_scale if wait else None
                )
            except TimeoutError:
                break
            if digit in terminators:
                break
            got += digit
            wait = digit_timeout / 1000
        if not ch.up:
            break
        if len(got) >= mn and re.fullmatch(regex, got):
            result = got
            break
    if var:
        ch.set_var(var, result or None)
    ch.set_var("read_result", "success" if result else "failure")
    return "_none_"


@app("transfer")
async def transfer(sw: FsSwitch, ch: FsChannel, data: str) -> str:
    parts = data.split()
    if parts:
        context = parts[2] if len(parts) > 2 else ch.profile.get("Context", "default")
        sw.transfer(ch, parts[0], context)
    return "_none_"


@app("bridge")
async def bridge(sw: FsSwitch, ch: FsChannel, data: str) -> str:
    variables, targets = parse_dial(data)
    ring = (
        ch.get_var("call_timeout")
        or variables.get("call_timeout")
        or variables.get("originate_timeout")
    )
    seconds = float(ring) if ring and ring.isdigit() else 60.0
    last_cause = "NO_ANSWER"
    leg = None
    for target in targets.split("|"):
        try:
            leg = await sw.originate_leg(target, variables, caller=ch, ring_seconds=seconds)
            break
        except OriginateError as e:
            last_cause = str(e)
        if not ch.up:
            break
    if leg is None:
        ch.set_var("originate_disposition", last_cause)
        ch.set_var("DIALSTATUS", "NOANSWER" if last_cause == "NO_ANSWER" else last_cause)
        return "_none_"
    ch.set_var("originate_disposition", "SUCCESS")
    ch.set_var("DIALSTATUS", "SUCCESS")
    # The caller now knows whom it reaches (callee = the called leg's callee id).
    ch.profile["Callee-ID-Name"] = leg.profile.get("Callee-ID-Name", "")
    ch.profile["Callee-ID-Number"] = leg.profile.get("Callee-ID-Number", "")
    sw.answer(ch)
    await bridge_legs(sw, ch, leg)
    after = ch.get_var("transfer_after_bridge")
    if ch.up and after and not ch.transfer_to:
        # exten[:dialplan[:context]], applied only after a bridge that took place.
        parts = after.split(":")
        sw.transfer(ch, parts[0], parts[2] if len(parts) > 2 else ch.profile.get("Context", ""))
    elif ch.up and ch.get_var("hangup_after_bridge") == "true":
        await sw.hangup(ch, "NORMAL_CLEARING")
    return "_none_"


async def bridge_legs(sw: FsSwitch, a: FsChannel, b: FsChannel) -> None:
    """A running bridge: CHANNEL_BRIDGE from `a`; ends when either side hangs up."""
    br = Bridge(a, b, by_app=True)
    sw.bridges[a.uuid] = br
    sw.bridges[b.uuid] = br
    a.other, a.other_type = b, "originatee"
    b.other, b.other_type = a, "originator"
    now = str(sw.identity.now_us())
    for x in (a, b):
        x.profile["Channel-Bridged-Time"] = now
    sw.chan_event("CHANNEL_BRIDGE", a, prefix=sw.bridge_ids(br))
    sw.set_state(b, "CS_EXCHANGE_MEDIA")
    for x, y in ((a, b), (b, a)):
        x.set_var("bridge_uuid", y.uuid)
        x.set_var("bridge_channel", y.name)
        x.set_var("last_bridge_to", y.uuid)
    a.set_var("last_bridge_role", "originator")

    async def b_life(ch: FsChannel) -> None:
        # The called leg only sits in the bridge until either side leaves.
        waits = {asyncio.ensure_future(br.done.wait()), asyncio.ensure_future(ch.interrupt.wait())}
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()

    sw.adopt(b, b_life)
    await asyncio.wait(
        {asyncio.ensure_future(br.done.wait()), asyncio.ensure_future(a.interrupt.wait())},
        return_when=asyncio.FIRST_COMPLETED,
    )
    if a.up and b.up:
        return  # interrupted by a transfer: the bridge stays as long as nobody leaves
    if b.up:
        await sw.hangup(b, "NORMAL_CLEARING")
        await asyncio.sleep(0)  # the called leg tears down first, as in flow 10
    sw.bridges.pop(a.uuid, None)
    sw.bridges.pop(b.uuid, None)
    a.set_var("bridge_hangup_cause", b.hangup_cause)
    # The caller keeps reporting its last other leg (Other-Type / Other-Leg-*) afterwards.
    sw.chan_event("CHANNEL_UNBRIDGE", a, prefix=sw.bridge_ids(br))


@app("eavesdrop")
async def eavesdrop(sw: FsSwitch, ch: FsChannel, data: str) -> str:
    target = sw.channels.get(data.strip())
    if target is None or not target.up:
        ch.set_var("eavesdrop_result", "failure")
        return "_none_"
    ch.set_var("eavesdrop_target", target.uuid)
    ch.set_var("eavesdrop_mode", _eavesdrop_mode(ch))
    # Listen until either side leaves.
    waits = {asyncio.ensure_future(ch.interrupt.wait()), asyncio.ensure_future(target.gone.wait())}
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
    ch.set_var("eavesdrop_result", "success")
    return "_none_"


def _eavesdrop_mode(ch: FsChannel) -> str:
    if ch.get_var("eavesdrop_whisper_aleg") == "true":
        return "whisper"
    if (
        ch.get_var("eavesdrop_bridge_aleg") == "true"
        and ch.get_var("eavesdrop_bridge_bleg") == "true"
    ):
        return "barge"
    return "listen"


def socket_targets(spec: str) -> list[tuple[str, int]]:
    """The hosts of a socket application's first word, as mod_event_socket reads them:
    ``host[:port]`` items split on ``|``, tried in that order (an active/standby pair of
    ACDs); empty items are skipped, the port defaults to 8084 and is read like C's atoi."""
    targets = []
    for item in spec.split("|"):
        if not item:
            continue
        host, colon, port = item.rpartition(":")
        if not colon:
            targets.append((item, 8084))
            continue
        digits = ""
        for c in port:
            if not c.isdigit():
                break
            digits += c
        targets.append((host, int(digits) if digits else 0))
    return targets


@app("socket")
async def socket(sw: FsSwitch, ch: FsChannel, data: str) -> str:
    from pbx.sim.esl.outbound import OutboundSession  # outbound builds on this module

    try:
        words = shlex.split(data)
    except ValueError:
        words = data.split()
    if not words:
        return "_none_"
    targets = socket_targets(words[0])
    if not targets:
        return "_none_"
    (host, port), *fallbacks = targets
    session = OutboundSession(sw, ch, host, port, tuple(fallbacks))
    session.async_mode = "async" in words[1:]
    session.full = "full" in words[1:]
    await session.run()
    return "_none_"


# record_session / stop_record_session (the media fork) live in their own module.
from pbx.sim.esl import record as _record  # noqa: E402, F401
