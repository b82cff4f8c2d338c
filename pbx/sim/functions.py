"""Channel builtins (${CHANNEL}, ${EXTEN}...) and dialplan functions (CALLERID, CHANNEL...)
that need the channel; pure functions (LEN, IF...) come from the dialplan package."""

from __future__ import annotations

from collections.abc import Callable

from pbx.sim.channel import STATE_DESC, Channel


def _callerid_all(chan: Channel) -> str:
    if chan.caller_name and chan.caller_num:
        return f'"{chan.caller_name}" <{chan.caller_num}>'
    return chan.caller_num or chan.caller_name


def _callerid(chan: Channel, args: str) -> str:
    what = args.split(",")[0].strip().lower()
    return {
        "all": _callerid_all(chan),
        "num": chan.caller_num,
        "number": chan.caller_num,
        "name": chan.caller_name,
    }.get(what, "")


def _connectedline(chan: Channel, args: str) -> str:
    what = args.split(",")[0].strip().lower()
    return {
        "num": chan.connected_num,
        "number": chan.connected_num,
        "name": chan.connected_name,
    }.get(what, "")


def _channel_fn(chan: Channel, args: str) -> str:
    what = args.strip().lower()
    return {
        "name": chan.name,
        "uniqueid": chan.uniqueid,
        "linkedid": chan.linkedid,
        "language": chan.language,
        "state": STATE_DESC[chan.state],
        "channeltype": chan.tech,
        "context": chan.context,
        "exten": chan.exten,
    }.get(what, "")


def _pjsip_header(chan: Channel, args: str) -> str:
    # PJSIP_HEADER(read,Name): what the simulator knows is the headers added to the INVITE.
    action, _, header = (part.strip() for part in args.partition(","))
    if action.lower() != "read":
        return ""
    found = [v for n, v in chan.sip_headers.items() if n.lower() == header.lower()]
    return found[0] if found else ""


BUILTINS: dict[str, Callable[[Channel], str]] = {
    "CHANNEL": lambda c: c.name,
    "EXTEN": lambda c: c.exten,
    "CONTEXT": lambda c: c.context,
    "PRIORITY": lambda c: str(c.priority),
    "UNIQUEID": lambda c: c.uniqueid,
    "HANGUPCAUSE": lambda c: str(c.hangupcause),
    "CALLERID(num)": lambda c: c.caller_num,
}

FUNCTIONS: dict[str, Callable[[Channel, str], str]] = {
    "CALLERID": _callerid,
    "CONNECTEDLINE": _connectedline,
    "CHANNEL": _channel_fn,
    "PJSIP_HEADER": _pjsip_header,
}
