"""Calls arriving from outside, as the PJSIP trunk endpoint presents them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pbx.sim.channel import Channel, State

if TYPE_CHECKING:
    from pbx.sim.pbx import Pbx


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
