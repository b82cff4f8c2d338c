"""Dial() and Bridge(): ring legs, race them, bridge the winner (app_dial.c, bridge_basic.c)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from pbx.sim import bridge as bridges
from pbx.sim import callee_gosub
from pbx.sim.ami import events as ev
from pbx.sim.apps import Outcome, split_args
from pbx.sim.channel import Channel
from pbx.sim.legs import Leg, RequestError, call, request, wait_answer
from pbx.sim.pbx import Interrupted
from pbx.sim.predial import option_argument, option_flags, run_handler

if TYPE_CHECKING:
    from pbx.sim.pbx import Pbx

NORMAL_CLEARING = 16
ANSWERED_ELSEWHERE = 26

DIAL_RESET = (
    "DIALSTATUS",
    "DIALEDPEERNUMBER",
    "DIALEDPEERNAME",
    "ANSWEREDTIME",
    "ANSWEREDTIME_MS",
    "DIALEDTIME",
    "DIALEDTIME_MS",
    "RINGTIME",
    "RINGTIME_MS",
    "PROGRESSTIME",
    "PROGRESSTIME_MS",
)


async def app_dial(pbx: Pbx, chan: Channel, args: str) -> Outcome:
    parts = split_args(args)
    targets = [t for t in (parts[0].split("&") if parts else []) if t]
    timeout = float(parts[1]) if len(parts) > 1 and parts[1].replace(".", "", 1).isdigit() else None
    options = parts[2] if len(parts) > 2 else ""
    predial = option_argument(options, "b")
    on_answer = option_argument(options, "U")
    for name in DIAL_RESET:
        pbx.set_var(chan, name, "")
    start = pbx.clock()
    legs: list[Leg] = []
    preset: set[int] = set()  # ids of PJSIP legs that came with their endpoint's callerid
    status = "CHANUNAVAIL"
    for target in targets:
        try:
            out = request(pbx, target, linkedid=chan.linkedid)
        except RequestError as err:
            status = err.status
            continue
        out.dialed_by = chan
        if out.tech == "PJSIP" and out.caller_num:
            preset.add(id(out))
        # app_dial names the number it dialled on the new leg, before anything else.
        pbx.set_var(out, "DIALEDPEERNUMBER", target.partition("/")[2])
        out.appl, out.data = "AppDial", "(Outgoing Line)"
        pbx.publish(out)
        pbx.inherit(chan, out)
        if out.tech != "PJSIP":
            out.caller_num, out.caller_name = chan.caller_num, chan.caller_name
        elif not out.caller_num:
            # No callerid on the endpoint: app_dial stores the dialplan extension instead
            # (and the caller's connected name; hint names are not simulated).
            out.caller_num, out.caller_name = chan.exten, chan.connected_name
        out.connected_num, out.connected_name = chan.caller_num, chan.caller_name
        pbx.publish(out)
        if predial is not None:
            await run_handler(pbx, out, predial)
        pbx.start(out, pbx.hold_until_hangup(out))
        call(pbx, out)
        # DialString is what follows the technology (the channel driver's "number").
        dialstring = target.partition("/")[2]
        pbx.emit(ev.dial_begin(chan.snapshot, out.snapshot or pbx.publish(out), dialstring))
        legs.append(Leg(out, target))
        pbx.calls_total += 1
    if len(legs) == 1 and id(legs[0].chan) in preset:
        # One PJSIP leg whose endpoint has its own callerid: the caller sees it as connected
        # line at once, before the phone rings (app_dial wait_for_answer).
        out = legs[0].chan
        chan.connected_num, chan.connected_name = out.caller_num, out.caller_name
        pbx.publish(chan)
    if not legs:
        pbx.set_var(chan, "DIALSTATUS", status)
        return None
    winner, status = await _race(pbx, chan, legs, timeout)
    for leg in legs:
        if leg is winner:
            continue
        if leg.chan.snapshot is not None and not leg.chan.hung_up:
            pbx.emit(ev.dial_end(chan.snapshot, leg.chan.snapshot, "CANCEL" if winner else status))
            _let_go(pbx, chan, leg.chan, answered_elsewhere=winner is not None, status=status)
    if winner is None:
        pbx.set_var(chan, "DIALSTATUS", status)
        pbx.set_var(chan, "DIALEDTIME", str(int(pbx.clock() - start)))
        if chan.soft_hangup or chan.hangup_queued or chan.pending_goto:
            raise Interrupted
        return None
    out = winner.chan
    if len(legs) > 1 and id(out) in preset:
        # Several legs: the one that answered becomes the caller's connected line now.
        chan.connected_num, chan.connected_name = out.caller_num, out.caller_name
        pbx.publish(chan)
    # app_dial marks the answer on the caller before its answer options (U()) run.
    pbx.set_var(chan, "DIALSTATUS", "ANSWER")
    pbx.set_var(chan, "DIALEDPEERNAME", out.name)
    pbx.set_var(chan, "DIALEDPEERNUMBER", winner.dialstring.partition("/")[2])
    if on_answer is not None:
        # U(): the routine runs on the answered leg now, while the caller waits in Dial;
        # app_dial publishes the DialEnd ANSWER only after its answer options are done.
        refused = await callee_gosub.run(pbx, out, on_answer)
        if refused is not None:
            return _refused(pbx, chan, out, refused, options)
    pbx.emit(ev.dial_end(chan.snapshot, out.snapshot or pbx.publish(out), "ANSWER"))
    if out.tech == "PJSIP":
        # app_dial empties the answered leg's extension (and dial context) before bridging.
        out.exten = ""
        pbx.publish(out)
    # app_dial: "if call has been answered, the eventual hangup is likely to be normal".
    chan.hangupcause = out.hangupcause = NORMAL_CLEARING
    pbx.answer(chan)
    if out.tech != "PJSIP":
        chan.connected_num, chan.connected_name = out.caller_num, out.caller_name
        pbx.publish(chan)
    callee_left = await bridge_pair(pbx, chan, out, dialled=True)
    if callee_left and "g" not in option_flags(options):
        # Without the g option the caller is hung up when the called party hangs up.
        pbx.soft_hangup(chan, 16)
        return "hangup"
    return None


def _refused(
    pbx: Pbx, chan: Channel, out: Channel, refused: callee_gosub.Refusal, options: str
) -> Outcome:
    """U()'s GOSUB_RESULT said no: the answered leg is hung up instead of bridged, and the
    caller goes on (or is hung up, when neither the result nor ``g`` lets it go on)."""
    pbx.emit(ev.dial_end(chan.snapshot, out.snapshot or pbx.publish(out), refused.result))
    if out.tech == "PJSIP":
        pbx.hang_up_dialled(out, NORMAL_CLEARING)
    else:
        pbx.soft_hangup(out, NORMAL_CLEARING)
    pbx.set_var(chan, "DIALSTATUS", refused.status)
    if chan.soft_hangup or chan.hangup_queued or chan.pending_goto:
        raise Interrupted
    moved = refused.goto is not None and pbx.goto(chan, refused.goto)
    if moved:
        return "goto"
    if refused.go_on or "g" in option_flags(options):
        return None
    chan.hangupcause = NORMAL_CLEARING
    pbx.soft_hangup(chan, NORMAL_CLEARING)
    return "hangup"


def _let_go(
    pbx: Pbx, chan: Channel, leg: Channel, *, answered_elsewhere: bool, status: str
) -> None:
    """Hang up a leg Dial no longer wants, as hanguptree does for PJSIP legs: another leg
    answered (cause 26), the caller gave up (the caller's cause, else 16), or the ring timed
    out (the leg's own cause: 0, "Unknown"). Local legs keep the older soft hang-up."""
    if leg.tech != "PJSIP":
        pbx.soft_hangup(leg, 16)
    elif answered_elsewhere:
        pbx.hang_up_dialled(leg, ANSWERED_ELSEWHERE)
    elif status == "CANCEL":
        pbx.hang_up_dialled(leg, chan.hangupcause or NORMAL_CLEARING)
    else:
        pbx.hang_up_dialled(leg)


async def _race(
    pbx: Pbx, chan: Channel, legs: list[Leg], limit: float | None
) -> tuple[Leg | None, str]:
    waits = {asyncio.ensure_future(wait_answer(pbx, leg.chan, limit)): leg for leg in legs}
    caller_flag = asyncio.ensure_future(_until_hangup_flag_or_goto(pbx, chan))
    pending = set(waits)
    last = "NOANSWER"
    try:
        while pending:
            done, pending = await asyncio.wait(
                pending | {caller_flag}, return_when=asyncio.FIRST_COMPLETED
            )
            if caller_flag in done:
                return None, "CANCEL"
            pending.discard(caller_flag)
            for fut in done:
                status = fut.result()
                if status == "ANSWER":
                    return waits[fut], "ANSWER"
                last = status
        return None, last
    finally:
        caller_flag.cancel()
        for fut in waits:
            fut.cancel()


async def _until_hangup_flag_or_goto(pbx: Pbx, chan: Channel) -> None:
    while not (chan.soft_hangup or chan.hangup_queued or chan.pending_goto or chan.hung_up):
        chan.interrupt.clear()
        await chan.interrupt.wait()


async def bridge_pair(pbx: Pbx, chan: Channel, other: Channel, *, dialled: bool = False) -> bool:
    """Bridge `chan` (running the dialplan) with `other`; True when `other` left first.
    ``dialled``: `other` is the leg `chan`'s Dial rang, which app_dial hangs up itself when
    `chan` goes (ast_hangup: a PJSIP leg gets no SoftHangupRequest, as Asterisk 22 shows)."""
    br = bridges.create(pbx)
    bridges.enter(pbx, br, other)
    bridges.enter(pbx, br, chan)
    pbx.set_var(other, "BRIDGEPEER", chan.name)
    pbx.set_var(chan, "BRIDGEPEER", other.name)
    try:
        while chan.bridge is br and other.bridge is br:
            await pbx.wait(chan, None)
    except Interrupted:
        if chan.bridge is br:
            bridges.leave(pbx, chan)
        if not other.hung_up and other.bridge is br and other.task is not None:
            if dialled and other.tech == "PJSIP":
                pbx.hang_up_dialled(other)  # keeps the 16 app_dial set at the answer
            else:
                pbx.soft_hangup(other, 16)
        raise
    if chan.bridge is br:
        bridges.leave(pbx, chan)
    return other.hung_up or other.bridge is not br


async def app_bridge(pbx: Pbx, chan: Channel, args: str) -> Outcome:
    target_name = split_args(args)[0] if args else ""
    other = pbx.find(target_name)
    if other is None or other is chan:
        pbx.set_var(chan, "BRIDGERESULT", "NONEXISTENT")
        return None
    # Pull the other channel out of whatever it runs; it waits in the bridge from now on.
    if other.bridge is not None:
        bridges.leave(pbx, other)
    other.pending_goto = None
    pbx.answer(chan)
    pbx.answer(other)
    # The bridge takes the channel over: its old owner task ends without hanging it up.
    old_task = other.task
    pbx.start(other, pbx.hold_until_hangup(other))
    if old_task is not None:
        old_task.cancel()
    pbx.set_var(chan, "BRIDGERESULT", "SUCCESS")
    callee_left = await bridge_pair(pbx, chan, other)
    if callee_left:
        pbx.soft_hangup(chan, 16)
        return "hangup"
    return None
