"""AMI Originate: dial a channel, report OriginateResponse, then run dialplan or an
application on it (dial.c / pbx.c outgoing helpers)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pbx.sim.ami import events as ev
from pbx.sim.channel import Channel, State
from pbx.sim.legs import RequestError, call, request, wait_answer
from pbx.sim.pbx import Interrupted

if TYPE_CHECKING:
    from pbx.sim.pbx import Pbx

# OriginateResponse Reason values (AST_CONTROL_*): what ended the attempt.
REASON_FAILED = 0
REASON_HANGUP = 1
REASON_RINGING = 3
REASON_ANSWER = 4
REASON_BUSY = 5
REASON_CONGESTION = 8


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
