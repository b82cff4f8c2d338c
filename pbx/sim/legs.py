"""Outgoing legs: creating channels for `TECH/resource` (Local pairs, PJSIP phones), making
them ring and waiting for an answer. Event order follows Asterisk's core_local.c."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pbx.sim.ami import events as ev
from pbx.sim.channel import Channel, State

if TYPE_CHECKING:
    from pbx.sim.pbx import Pbx


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
        # `number@trunk` dials a number through the trunk endpoint (channel PJSIP/trunk-...).
        number, _, endpoint_name = resource.split("/", 1)[0].rpartition("@")
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
            # chan_pjsip gives the channel the endpoint's own callerid from the start.
            caller=(endpoint.callerid_num, endpoint.callerid_name),
        )
        chan.endpoint = endpoint.customer(number) if number else endpoint
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
