"""Outgoing legs: channel requests (Local pairs, PJSIP endpoints), Originate, Dial, Bridge,
ChanSpy. Event order follows Asterisk's core_local.c, dial.c and app_dial.c."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pbx.sim import bridge as bridges
from pbx.sim.ami import events as ev
from pbx.sim.apps import Outcome, split_args
from pbx.sim.channel import Channel, State
from pbx.sim.pbx import Interrupted

if TYPE_CHECKING:
    from pbx.sim.pbx import Pbx

log = logging.getLogger(__name__)

# OriginateResponse Reason values (AST_CONTROL_*): what ended the attempt.
REASON_FAILED = 0
REASON_HANGUP = 1
REASON_RINGING = 3
REASON_ANSWER = 4
REASON_BUSY = 5
REASON_CONGESTION = 8


class RequestError(Exception):
    """A channel could not be created (unknown technology, unregistered endpoint)."""

    def __init__(self, cause: int, status: str) -> None:
        super().__init__(status)
        self.cause = cause
        self.status = status


@dataclass(slots=True)
class Leg:
    chan: Channel  # the channel the dialler talks to (;1 of a Local pair)
    dialstring: str  # as DialBegin prints it


def request(
    pbx: Pbx,
    target: str,
    *,
    uniqueid: str | None = None,
    other_uniqueid: str | None = None,
    linkedid: str | None = None,
) -> Channel:
    """Create the outgoing channel(s) for `TECH/resource`; raises RequestError."""
    tech, sep, resource = target.partition("/")
    if not sep or not resource:
        raise RequestError(0, "CHANUNAVAIL")
    if tech.lower() == "local":
        return _request_local(pbx, resource, uniqueid, other_uniqueid, linkedid)
    if tech.upper() == "PJSIP":
        endpoint_name = resource.split("/", 1)[0]
        endpoints = pbx.endpoints
        endpoint = endpoints.get(endpoint_name) if endpoints else None
        if endpoint is None or not endpoint.registered:
            raise RequestError(20 if endpoint else 3, "CHANUNAVAIL")
        chan = pbx.new_channel(
            "PJSIP",
            endpoint_name,
            context=endpoint.context,
            exten="s",
            uniqueid=uniqueid,
            linkedid=linkedid,
        )
        chan.endpoint = endpoint
        return chan
    raise RequestError(66, "CHANUNAVAIL")


def _request_local(
    pbx: Pbx, resource: str, uid1: str | None, uid2: str | None, linkedid: str | None
) -> Channel:
    dest, _, opts = resource.partition("/")
    exten, _, context = dest.partition("@")
    context = context or "default"
    one = pbx.new_channel(
        "Local",
        dest,
        context=context,
        exten=exten,
        uniqueid=uid1,
        linkedid=linkedid,
        suffix=";1",
        publish=False,
    )
    two = pbx.new_channel(
        "Local",
        dest,
        state=State.RING,
        context=context,
        exten=exten,
        uniqueid=uid2,
        linkedid=one.linkedid,
        name=one.name[:-2] + ";2",
        publish=False,
    )
    one.peer, two.peer = two, one
    one.local_opts = opts
    pbx.publish(one)
    pbx.publish(two)
    return one


def call(pbx: Pbx, chan: Channel) -> None:
    """Start the far side ringing: the ;2 half runs its dialplan, an endpoint its behaviour."""
    two = chan.peer
    if two is not None:
        for name, value in list(chan.variables.items()):
            mark = chan.inheritable.get(name, "")
            pbx.set_var(two, mark + name, value)
        two.caller_num, two.caller_name = chan.connected_num, chan.connected_name
        two.connected_num, two.connected_name = chan.caller_num, chan.caller_name
        pbx.publish(two)
        pbx.emit(
            ev.local_bridge(
                chan.snapshot or pbx.publish(chan),
                two.snapshot or pbx.publish(two),
                two.context,
                two.exten,
                optimize="n" not in chan.local_opts,
            )
        )
        pbx.start(two)
        return
    endpoint = chan.endpoint
    if endpoint is not None:
        chan.remote = asyncio.get_running_loop().create_task(endpoint.ring(pbx, chan))


async def wait_answer(pbx: Pbx, chan: Channel, limit: float | None) -> str:
    """ANSWER, NOANSWER (timeout), or CHANUNAVAIL/BUSY when the far end gave up."""
    answered = asyncio.ensure_future(chan.answered.wait())
    gone = asyncio.ensure_future(chan.gone.wait())
    flagged = asyncio.ensure_future(_until_hangup_flag(pbx, chan))
    try:
        done, _ = await asyncio.wait(
            {answered, gone, flagged},
            timeout=None if limit is None else limit * pbx.time_scale,
            return_when=asyncio.FIRST_COMPLETED,
        )
    finally:
        for fut in (answered, gone, flagged):
            fut.cancel()
    if answered in done and chan.state == State.UP:
        return "ANSWER"
    if not done:
        return "NOANSWER"
    return "BUSY" if chan.hangupcause == 17 else "CHANUNAVAIL"


async def _until_hangup_flag(pbx: Pbx, chan: Channel) -> None:
    while not (chan.soft_hangup or chan.hangup_queued or chan.hung_up):
        chan.interrupt.clear()
        await chan.interrupt.wait()


# ------------------------------------------------------------------ Originate


@dataclass(slots=True)
class OriginateRequest:
    channel: str
    context: str = ""
    exten: str = ""
    priority: int = 1
    application: str = ""
    data: str = ""
    timeout_ms: int = 30000
    caller_num: str = ""
    caller_name: str = ""
    variables: tuple[tuple[str, str], ...] = ()
    channel_id: str | None = None
    other_channel_id: str | None = None
    action_id: str | None = None
    async_: bool = True


async def originate(pbx: Pbx, req: OriginateRequest) -> tuple[bool, int, Channel | None]:
    """Dial `req.channel`; on answer run the dialplan or application on it."""
    try:
        chan = request(
            pbx, req.channel, uniqueid=req.channel_id, other_uniqueid=req.other_channel_id
        )
    except RequestError:
        if req.async_:
            pbx.emit(
                ev.originate_response(
                    req.action_id,
                    False,
                    req.channel,
                    req.context,
                    req.exten,
                    REASON_FAILED,
                    "<null>",
                    req.caller_num,
                    req.caller_name,
                )
            )
        return False, REASON_FAILED, None
    pbx.calls_total += 1
    chan.appl, chan.data = "AppDial2", "(Outgoing Line)"
    pbx.publish(chan)
    for name, value in req.variables:
        pbx.set_var(chan, name, value)
    if req.caller_num or req.caller_name:
        chan.caller_num, chan.caller_name = req.caller_num, req.caller_name
        pbx.publish(chan)
        chan.connected_num, chan.connected_name = req.caller_num, req.caller_name
        pbx.publish(chan)
    result: asyncio.Future[tuple[bool, int, Channel | None]] = (
        asyncio.get_running_loop().create_future()
    )
    pbx.start(chan, _originate_run(pbx, chan, req, result))
    return await result


async def _originate_run(
    pbx: Pbx,
    chan: Channel,
    req: OriginateRequest,
    result: asyncio.Future[tuple[bool, int, Channel | None]],
) -> None:
    dialstring = req.channel.partition("/")[2]
    call(pbx, chan)
    pbx.emit(ev.dial_begin(None, chan.snapshot or pbx.publish(chan), dialstring))
    status = await wait_answer(pbx, chan, req.timeout_ms / 1000.0)
    if chan.snapshot is not None:
        pbx.emit(ev.dial_end(None, chan.snapshot, status))
    ok = status == "ANSWER"
    reason = REASON_ANSWER if ok else (REASON_BUSY if status == "BUSY" else REASON_HANGUP)
    if status == "NOANSWER":
        reason = REASON_RINGING if chan.state == State.RINGING else REASON_HANGUP
    if req.async_:
        pbx.emit(
            ev.originate_response(
                req.action_id,
                ok,
                chan.name,
                req.context,
                req.exten,
                reason,
                chan.uniqueid,
                req.caller_num,
                req.caller_name,
            )
        )
    if not result.done():
        result.set_result((ok, reason, chan if ok else None))
    if not ok:
        # Returning ends the owner task, which hangs the channel up.
        chan.hangupcause = chan.hangupcause or 16
        return
    if req.application:
        with contextlib.suppress(Interrupted):
            await pbx.run_app(chan, req.application, req.data)
        if chan.pending_goto is None:
            return
    else:
        chan.context, chan.exten, chan.priority = req.context, req.exten, req.priority
    await pbx.run_dialplan(chan)


# ----------------------------------------------------------------------- Dial

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
    for name in DIAL_RESET:
        pbx.set_var(chan, name, "")
    start = pbx.clock()
    legs: list[Leg] = []
    status = "CHANUNAVAIL"
    for target in targets:
        try:
            out = request(pbx, target, linkedid=chan.linkedid)
        except RequestError as err:
            status = err.status
            continue
        out.dialed_by = chan
        out.appl, out.data = "AppDial", "(Outgoing Line)"
        pbx.publish(out)
        pbx.inherit(chan, out)
        out.caller_num, out.caller_name = chan.caller_num, chan.caller_name
        out.connected_num, out.connected_name = chan.caller_num, chan.caller_name
        pbx.publish(out)
        pbx.start(out, pbx.hold_until_hangup(out))
        call(pbx, out)
        pbx.emit(ev.dial_begin(chan.snapshot, out.snapshot or pbx.publish(out), target))
        legs.append(Leg(out, target))
        pbx.calls_total += 1
    if not legs:
        pbx.set_var(chan, "DIALSTATUS", status)
        return None
    winner, status = await _race(pbx, chan, legs, timeout)
    for leg in legs:
        if leg is winner:
            continue
        if leg.chan.snapshot is not None and not leg.chan.hung_up:
            pbx.emit(ev.dial_end(chan.snapshot, leg.chan.snapshot, "CANCEL" if winner else status))
            pbx.soft_hangup(leg.chan, 16)
    if winner is None:
        pbx.set_var(chan, "DIALSTATUS", status)
        pbx.set_var(chan, "DIALEDTIME", str(int(pbx.clock() - start)))
        if chan.soft_hangup or chan.hangup_queued or chan.pending_goto:
            raise Interrupted
        return None
    out = winner.chan
    pbx.emit(ev.dial_end(chan.snapshot, out.snapshot or pbx.publish(out), "ANSWER"))
    pbx.answer(chan)
    pbx.set_var(chan, "DIALSTATUS", "ANSWER")
    pbx.set_var(chan, "DIALEDPEERNUMBER", winner.dialstring.partition("/")[2])
    chan.connected_num, chan.connected_name = out.caller_num, out.caller_name
    pbx.publish(chan)
    callee_left = await bridge_pair(pbx, chan, out)
    if callee_left and "g" not in options:
        # Without the g option the caller is hung up when the called party hangs up.
        pbx.soft_hangup(chan, 16)
        return "hangup"
    return None


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


async def bridge_pair(pbx: Pbx, chan: Channel, other: Channel) -> bool:
    """Bridge `chan` (running the dialplan) with `other`; True when `other` left first."""
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


async def app_chanspy(pbx: Pbx, chan: Channel, args: str) -> Outcome:
    parts = split_args(args)
    prefix = parts[0] if parts else ""
    # Options q (quiet), w (whisper), B (barge) only change audio, which the simulator has not.
    pbx.answer(chan)
    while True:
        targets = [c for c in pbx.find_prefix(prefix) if c is not chan] if prefix else []
        if not targets:
            await pbx.wait(chan, 1.0)
            continue
        spyee = targets[0]
        spyee.spied_by.add(chan)
        pbx.emit(
            ev.chanspy(
                True, chan.snapshot or pbx.publish(chan), spyee.snapshot or pbx.publish(spyee)
            )
        )
        try:
            while not spyee.hung_up:
                await pbx.wait(chan, None)
        finally:
            spyee.spied_by.discard(chan)
            if chan.snapshot is not None and spyee.snapshot is not None:
                pbx.emit(ev.chanspy(False, chan.snapshot, spyee.snapshot))


# ------------------------------------------------------------------ inbound


def inbound_call(
    pbx: Pbx,
    exten: str,
    *,
    context: str,
    trunk: str = "caller",
    caller_num: str = "caller",
    caller_name: str = "Caller",
    sip_domain: str = "127.0.0.1",
) -> Channel:
    """A call arriving on the PJSIP trunk endpoint, as chan_pjsip presents it (capture 06)."""
    chan = pbx.new_channel(
        "PJSIP",
        trunk,
        state=State.RING,
        context=context,
        exten=exten,
        caller=(caller_num, caller_name),
    )
    chan.dnid = exten
    pbx.set_var(chan, "SIPDOMAIN", sip_domain)
    pbx.calls_total += 1
    pbx.start(chan)
    return chan
