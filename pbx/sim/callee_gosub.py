"""Dial's ``U()`` option: a Gosub run on the called channel once it has answered, before the
two channels are bridged (app_dial.c, OPT_CALLEE_GOSUB). The caller's Dial waits for the
routine's Return(); its DialEnd ANSWER comes after it.

    Dial(PJSIP/1001,20,gU(cc-agent-answered^${UNIQUEID}^${CC_AGENT_ENDPOINT}))

The argument is ``context[^arg1[^arg2...]]``, not the ``[[context^]exten^]priority`` target of
``b()``: the routine always starts at ``s,1`` of that context, with ARG1... set while it runs.
It may refuse the call by setting GOSUB_RESULT on the called channel:

* ``BUSY``, ``CONGESTION``, ``CHANUNAVAIL``: DIALSTATUS becomes that; the caller goes on;
* ``CONTINUE``: the called channel is hung up and the caller goes on;
* ``ABORT``: both are hung up (the caller goes on only with Dial's ``g``);
* ``GOTO:[[context^]exten^]priority``: the caller goes on there.

Any other value (or none) bridges the call. A refusal's DialEnd carries the value as set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pbx.sim.channel import Channel
from pbx.sim.predial import run_handler

if TYPE_CHECKING:
    from pbx.sim.pbx import Pbx

_STATUSES = ("BUSY", "CONGESTION", "CHANUNAVAIL")


@dataclass(frozen=True, slots=True)
class Refusal:
    """What the routine's GOSUB_RESULT asks of Dial instead of the bridge."""

    result: str  # GOSUB_RESULT as set: the DialEnd's DialStatus
    status: str  # the DIALSTATUS the caller is left with
    go_on: bool  # the caller continues in the dialplan even without Dial's g
    goto: str | None = None  # GOTO's destination, `[[context,]exten,]priority`


def gosub_target(argument: str) -> str:
    """``context^arg1^arg2`` -> ``context^s^1(arg1^arg2)``, the target run_handler takes."""
    context, sep, args = argument.partition("^")
    return f"{context.strip()}^s^1({args})" if sep else f"{context.strip()}^s^1"


def refusal(result: str) -> Refusal | None:
    """The action a GOSUB_RESULT value names; None: bridge as usual."""
    word = result.strip()
    upper = word.upper()
    if upper in _STATUSES:
        return Refusal(word, word, go_on=True)
    if upper == "CONTINUE":
        return Refusal(word, "ANSWER", go_on=True)
    if upper == "ABORT":
        return Refusal(word, "ANSWER", go_on=False)
    if upper.startswith("GOTO:"):
        # The caller goes on only if the destination exists (ast_parseable_goto).
        return Refusal(word, "ANSWER", go_on=False, goto=word[5:].replace("^", ","))
    return None


async def run(pbx: Pbx, peer: Channel, argument: str) -> Refusal | None:
    """Run the routine on the answered ``peer`` up to its Return()."""
    await run_handler(pbx, peer, gosub_target(argument), option="U")
    return refusal(peer.variables.get("GOSUB_RESULT", ""))
