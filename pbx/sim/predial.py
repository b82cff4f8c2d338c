"""Dial's pre-dial handler on the called channel (option ``b``): a Gosub run on each new
outgoing channel before it is called (app_dial.c, ``ast_pre_call``), e.g. to add SIP headers
to its INVITE with ``PJSIP_HEADER(add,...)``.

    Dial(PJSIP/1001,20,b(cc-agent-leg^s^1(${CC_INTERACTION_ID})))

The target is ``[[context^]exten^]priority[(arg1[^arg2...])]``; the arguments are ARG1...
on the channel while the handler runs, which ends at ``Return()``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from pbx.sim.ami.events import varset
from pbx.sim.channel import Channel

if TYPE_CHECKING:
    from pbx.sim.pbx import Pbx

log = logging.getLogger(__name__)

# A handler that never reaches Return() must not hold the Dial forever.
MAX_STEPS = 100


def option_argument(options: str, letter: str) -> str | None:
    """The argument of ``letter(...)`` among Dial's options (nested parentheses kept)."""
    i = 0
    while i < len(options):
        ch = options[i]
        if ch == "(":  # an argument of another option: skip it whole
            i = _close(options, i) + 1
            continue
        if ch == letter and options[i + 1 : i + 2] == "(":
            end = _close(options, i + 1)
            return options[i + 2 : end]
        i += 1
    return None


def option_flags(options: str) -> str:
    """The option letters alone, without their arguments (``b(agent^s^1)g`` -> ``bg``)."""
    out, i = [], 0
    while i < len(options):
        if options[i] == "(":
            i = _close(options, i) + 1
            continue
        out.append(options[i])
        i += 1
    return "".join(out)


def _close(text: str, start: int) -> int:
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                return i
    return len(text)


def parse_target(spec: str, chan: Channel) -> tuple[str, str, str, list[str]]:
    """``[[context^]exten^]priority[(args)]`` -> context, exten, priority, args."""
    location, _, rest = spec.partition("(")
    args = rest[:-1].split("^") if rest.endswith(")") and rest[:-1] else []
    parts = [p.strip() for p in location.split("^")]
    if len(parts) == 1:
        return chan.context, chan.exten, parts[0], args
    if len(parts) == 2:
        return chan.context, parts[0], parts[1], args
    return parts[0], parts[1], parts[2], args


async def run_handler(pbx: Pbx, chan: Channel, spec: str, option: str = "b") -> None:
    """Run the handler on ``chan`` up to its Return(), then put the channel back where it was.
    ``option`` names the Dial option that asked for it in warnings (``b``, ``U``)."""
    saved = (chan.context, chan.exten, chan.priority)
    shown = (chan.appl, chan.data)
    context, exten, prio, args = parse_target(spec, chan)
    if prio.isdigit():
        priority: int | None = int(prio)
    else:
        priority = pbx.dialplan.find_label(context, exten, prio)
    if priority is None:
        log.warning("Dial %s(): no priority %r in %s,%s", option, prio, context, exten)
        return
    # app_stack's frame: LOCAL(ARGn) then LOCAL(ARGC), announced before the jump.
    frame = [*(f"ARG{n}" for n in range(1, len(args) + 1)), "ARGC"]
    for name, value in zip(frame, [*args, str(len(args))], strict=True):
        chan.variables[name] = value
        _announce(pbx, chan, f"LOCAL({name})", value)
    chan.context, chan.exten, chan.priority = context, exten, priority
    returned: str | None = None
    try:
        for _ in range(MAX_STEPS):
            found = pbx.dialplan.lookup(chan.context, chan.exten, chan.priority, chan.caller_num)
            if found is None:
                log.warning(
                    "Dial %s() on %s ran off the end of %s,%s without Return()",
                    option,
                    chan.name,
                    chan.context,
                    chan.exten,
                )
                return
            app_name, raw = found
            if app_name.lower() == "return":
                returned = pbx.expand(chan, raw)
                chan.appl, chan.data = "Return", returned
                pbx.publish(chan)  # seen on AMI as its own step, as in Asterisk
                return
            outcome = await pbx.run_app(chan, app_name, pbx.expand(chan, raw))
            if outcome == "hangup":
                return
            if outcome != "goto":
                chan.priority += 1
        log.warning("Dial %s() on %s: no Return() after %d steps", option, chan.name, MAX_STEPS)
    finally:
        # Return() restores the location without a snapshot of its own: AMI shows it with the
        # channel's next one (Newstate Ringing after b(), app_dial's empty Exten after U()).
        chan.context, chan.exten, chan.priority = saved
        chan.appl, chan.data = shown
        for name in reversed(frame):
            chan.variables.pop(name, None)
            if returned is not None:  # the frame released newest first, then the result
                _announce(pbx, chan, name, "")
        if returned is not None:
            pbx.set_var(chan, "GOSUB_RETVAL", returned)


def _announce(pbx: Pbx, chan: Channel, name: str, value: str) -> None:
    """A VarSet on the channel's last published snapshot (where AMI last saw it)."""
    if chan.snapshot is not None:
        pbx.emit(varset(chan.snapshot, name, value))
