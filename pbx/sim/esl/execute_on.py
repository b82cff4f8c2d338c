"""Applications a channel variable asks to run when something happens to the channel
(switch_channel_execute_on), e.g. ``execute_on_answer`` on a bridge's called leg:

    bridge {execute_on_answer='set_global cc_served_user/1001=<caller uuid>'}user/1001

Every variable whose name starts with the hook's name (``execute_on_answer``,
``execute_on_answer_1``...) names one application, ``app arg`` or ``app:arg``. It runs at
once on that channel, its argument expanded there, with CHANNEL_EXECUTE / _COMPLETE around
it, before whoever waits for the event (a bridge, an originate) goes on. The queued form
``app::arg`` (run later by the session) is not simulated: it is logged and skipped.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from pbx.sim.esl.channel import ChannelVariables, FsChannel
from pbx.sim.esl.dialplan import expand

if TYPE_CHECKING:
    from pbx.sim.esl.switch import FsSwitch

log = logging.getLogger("pbx.sim.esl")

EXECUTE_ON_ANSWER = "execute_on_answer"


def split(value: str) -> tuple[str, str] | None:
    """``app arg`` / ``app:arg`` -> (app, arg), split at the first blank or single colon;
    None for the queued ``app::arg`` form."""
    for i, c in enumerate(value):
        if c == ":" and value[i + 1 : i + 2] == ":":
            return None
        if c in (" ", ":"):
            return value[:i], value[i + 1 :]
    return value, ""


async def run(sw: FsSwitch, ch: FsChannel, hook: str) -> None:
    """Run the applications ``ch``'s variables name for ``hook``, in the variables' order."""
    for name, value in list(ch.variables.items()):
        if not name.lower().startswith(hook) or not value.strip():
            continue
        parsed = split(value.strip())
        if parsed is None:
            log.warning(
                "%s: %s=%r: the queued form (app::arg) is not simulated", ch.name, name, value
            )
            continue
        app, arg = parsed
        scope = ChannelVariables({**sw.globals, **ch.profile_variables(), **ch.variables})
        await sw.execute(ch, app, expand(arg, scope))
