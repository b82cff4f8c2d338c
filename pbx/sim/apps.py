"""Dialplan applications the simulator implements.

Each application returns None (go on to the next priority), "goto" (the location was changed)
or "hangup" (leave the dialplan). Waiting goes through Pbx.wait so Redirect and hangup can
interrupt it, as Asterisk's softhangup flags do.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pbx.sim.ami import events as ev
from pbx.sim.channel import Channel

if TYPE_CHECKING:
    from pbx.sim.pbx import Pbx

log = logging.getLogger(__name__)

Outcome = str | None
Runner = Callable[["Pbx", Channel, str], Awaitable[Outcome]]

# How long Playback "plays" a prompt when the simulator has no audio file to measure.
PLAYBACK_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class Application:
    name: str  # as Asterisk registers it; printed in Newexten's Application header
    run: Runner


def split_args(args: str) -> list[str]:
    """Asterisk's standard comma split (no quoting rules needed by the applications here)."""
    return [a.strip() for a in args.split(",")] if args else []


def _number(text: str, default: float) -> float:
    try:
        return float(text)
    except ValueError:
        return default


async def app_answer(pbx: Pbx, chan: Channel, args: str) -> Outcome:
    pbx.answer(chan)
    delay = _number(args, 0.0) if args else 0.0
    if delay > 0:
        await pbx.wait(chan, delay / 1000.0)
    return None


async def app_noop(pbx: Pbx, chan: Channel, args: str) -> Outcome:
    return None


async def app_set(pbx: Pbx, chan: Channel, args: str) -> Outcome:
    name, sep, value = args.partition("=")
    if not sep or not name.strip():
        log.warning("Set requires an argument (variable=value) on %s", chan.name)
        return None
    name = name.strip()
    if name.endswith(")") and "(" in name:
        func, _, fargs = name[:-1].partition("(")
        _set_function(pbx, chan, func.upper(), fargs, value)
        return None
    pbx.set_var(chan, name, value)
    return None


def _set_function(pbx: Pbx, chan: Channel, func: str, fargs: str, value: str) -> None:
    what = fargs.strip().lower()
    if func == "CALLERID":
        if what in ("num", "number"):
            chan.caller_num = value
        elif what == "name":
            chan.caller_name = value
        pbx.publish(chan)
    elif func == "CHANNEL" and what == "language":
        chan.language = value
        pbx.publish(chan)
    elif func == "GLOBAL":
        pbx.set_global(fargs.strip(), value)
    elif func == "PJSIP_HEADER":
        _pjsip_header(chan, fargs, value)
    else:
        log.warning("Set: function %s(%s) is not supported by the simulator", func, fargs)


def _pjsip_header(chan: Channel, fargs: str, value: str) -> None:
    """PJSIP_HEADER(add,Name) / (update,Name) / (remove,Name): headers for the INVITE an
    outgoing PJSIP channel sends (set in a Dial pre-dial handler)."""
    action, _, header = (part.strip() for part in fargs.partition(","))
    if chan.tech != "PJSIP":
        log.warning("PJSIP_HEADER: %s is not a PJSIP channel", chan.name)
        return
    if action.lower() in ("add", "update") and header:
        chan.sip_headers[header] = value
    elif action.lower() == "remove" and header:
        for name in [n for n in chan.sip_headers if n.lower() == header.lower()]:
            del chan.sip_headers[name]
    else:
        log.warning("PJSIP_HEADER(%s): expected add, update or remove and a header", fargs)


async def app_return(pbx: Pbx, chan: Channel, args: str) -> Outcome:
    # Return() ends a Dial pre-dial handler (pbx.sim.predial); reached any other way it is
    # "Return without Gosub", which Asterisk logs and ignores.
    log.warning("Return without Gosub on %s", chan.name)
    return None


async def app_goto(pbx: Pbx, chan: Channel, args: str) -> Outcome:
    return "goto" if pbx.goto(chan, args) else "hangup"


async def app_gotoif(pbx: Pbx, chan: Channel, args: str) -> Outcome:
    cond, _, dests = args.partition("?")
    iftrue, _, iffalse = dests.partition(":")
    truth = cond.strip() not in ("", "0")
    target = iftrue if truth else iffalse
    if not target.strip():
        return None
    return "goto" if pbx.goto(chan, target) else "hangup"


async def app_wait(pbx: Pbx, chan: Channel, args: str) -> Outcome:
    await pbx.wait(chan, _number(args, 0.0))
    return None


async def app_hangup(pbx: Pbx, chan: Channel, args: str) -> Outcome:
    cause = int(args) if args.strip().isdigit() else 0
    if cause <= 0:
        cause = chan.hangupcause or 16
    chan.hangupcause = cause
    pbx.soft_hangup(chan, cause)
    return "hangup"


async def app_musiconhold(pbx: Pbx, chan: Channel, args: str) -> Outcome:
    parts = split_args(args)
    klass = parts[0] if parts and parts[0] else "default"
    duration = _number(parts[1], 0.0) if len(parts) > 1 and parts[1] else 0.0
    chan.moh_class = klass
    pbx.emit(ev.moh_start(chan.snapshot or pbx.publish(chan), klass))
    try:
        while True:
            timed_out = await pbx.wait(chan, duration if duration > 0 else None)
            if timed_out:
                break
    finally:
        chan.moh_class = None
        if chan.snapshot is not None:
            pbx.emit(ev.moh_stop(chan.snapshot))
    return None


async def app_playtones(pbx: Pbx, chan: Channel, args: str) -> Outcome:
    # Tones play in the background; the dialplan moves on at once, as in Asterisk.
    return None


async def app_playback(pbx: Pbx, chan: Channel, args: str) -> Outcome:
    data = split_args(args)[0] if args else ""
    failed = False
    for name in data.split("&") if data else []:
        try:
            seconds = pbx.sounds.seconds(name)
        except FileNotFoundError:
            # app_playback.c: a missing file is logged (with the whole list) and skipped, and
            # the rest of the list still plays; the dialplan goes on with
            # PLAYBACKSTATUS=FAILED (seen so on Asterisk 22.10.1).
            log.warning("Playback failed on %s for %s", chan.name, data)
            failed = True
            continue
        await pbx.wait(chan, seconds)
    pbx.set_var(chan, "PLAYBACKSTATUS", "FAILED" if failed else "SUCCESS")
    return None


async def app_echo(pbx: Pbx, chan: Channel, args: str) -> Outcome:
    while True:
        await pbx.wait(chan, None)


async def app_agi(pbx: Pbx, chan: Channel, args: str) -> Outcome:
    parts = split_args(args)
    url = parts[0] if parts else ""
    if pbx.agi is None or not url:
        log.warning("AGI on %s: no FastAGI client configured", chan.name)
        pbx.set_var(chan, "AGISTATUS", "FAILURE")
        return None
    try:
        # The FastAGI client sets AGISTATUS itself, after the session, as Asterisk does.
        status = await pbx.agi(pbx, chan, url, parts[1:])
    except Exception:
        log.exception("AGI %s failed on %s", url, chan.name)
        pbx.set_var(chan, "AGISTATUS", "FAILURE")
        return None
    return "hangup" if status == "HANGUP" else None


def default_applications() -> dict[str, Application]:
    from pbx.sim.chanspy import app_chanspy
    from pbx.sim.dial import app_bridge, app_dial
    from pbx.sim.media import app_audiosocket, app_originate

    apps = [
        Application("Answer", app_answer),
        Application("NoOp", app_noop),
        Application("Set", app_set),
        Application("Goto", app_goto),
        Application("Return", app_return),
        Application("GotoIf", app_gotoif),
        Application("Wait", app_wait),
        Application("Hangup", app_hangup),
        Application("MusicOnHold", app_musiconhold),
        Application("PlayTones", app_playtones),
        Application("Playback", app_playback),
        Application("Echo", app_echo),
        Application("AGI", app_agi),
        Application("Dial", app_dial),
        Application("Bridge", app_bridge),
        Application("ChanSpy", app_chanspy),
        Application("AudioSocket", app_audiosocket),
        Application("Originate", app_originate),
    ]
    return {a.name.lower(): a for a in apps}
