"""Reading back what Asterisk has alive (``CoreShowChannels`` + ``Getvar``) and reconciling it
with what the adapter believed before the link dropped. Pure functions over AMI messages."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from panoramisk.message import Message

from pbx.asterisk.ami import header
from pbx.asterisk.channels import call_state, caller_field
from pbx.asterisk.events import chan_variables
from pbx.port import HangupCause, LiveCall

log = logging.getLogger(__name__)

# The cause given to a call that vanished while the link was down: Asterisk no longer says why.
VANISHED = HangupCause(0, "Unknown (hung up while the AMI link was down)")
# A vanished call the dialplan marked as answered by the agent it rang.
SERVED_VANISHED = HangupCause(16, "Normal Clearing (answered; ended while the AMI link was down)")

# [cc-connect]'s Dial U() routine ([cc-agent-answered]) stores the Uniqueid of the last caller
# each agent endpoint answered in the global CC_SERVED_<endpoint> as the agent answers (one per
# agent, so nothing piles up): the one trace of a call served inside an outage that outlives
# the caller's channel, whichever side hung up first.
SERVED_PREFIX = "CC_SERVED_"


def served_variable(endpoint: str) -> str:
    return SERVED_PREFIX + endpoint


def duration_seconds(text: str) -> float:
    """CoreShowChannel ``Duration: HH:MM:SS`` in seconds (0 when unreadable)."""
    try:
        hours, minutes, seconds = (int(part) for part in text.split(":"))
    except ValueError:
        return 0.0
    return float(hours * 3600 + minutes * 60 + seconds)


@dataclass(frozen=True, slots=True)
class ListedChannel:
    call: LiveCall
    bridge_id: str


def listed_channels(answer: Sequence[Message]) -> list[ListedChannel]:
    """The ``CoreShowChannel`` items of a CoreShowChannels answer, in order."""
    out: list[ListedChannel] = []
    for message in answer:
        if header(message, "Event") != "CoreShowChannel":
            continue
        uid = header(message, "Uniqueid")
        if not uid:
            log.warning("AMI: CoreShowChannel without Uniqueid ignored: %r", message)
            continue
        call = LiveCall(
            call_id=uid,
            channel=header(message, "Channel"),
            state=call_state(header(message, "ChannelState")),
            caller_num=caller_field(header(message, "CallerIDNum")),
            caller_name=caller_field(header(message, "CallerIDName")),
            called_num=header(message, "Exten"),
            context=header(message, "Context"),
            exten=header(message, "Exten"),
            application=header(message, "Application"),
            duration_s=duration_seconds(header(message, "Duration")),
            variables=chan_variables(message),
        )
        out.append(ListedChannel(call, header(message, "BridgeId")))
    return out


def listed_total(answer: Sequence[Message]) -> int | None:
    """``ListItems`` of the closing ``CoreShowChannelsComplete`` (None when absent)."""
    for message in reversed(answer):
        if header(message, "Event") == "CoreShowChannelsComplete":
            try:
                return int(header(message, "ListItems"))
            except ValueError:
                return None
    return None


def live_calls(
    listed: Sequence[ListedChannel],
    variables: Mapping[str, Mapping[str, str]],
    *,
    dnis_variable: str = "CC_DNIS",
) -> list[LiveCall]:
    """Final LiveCalls: variables merged, bridge partner resolved, called number from the
    DNIS variable when the dialplan set one (after a Redirect the Exten is the hold's)."""
    by_bridge: dict[str, list[str]] = {}
    for item in listed:
        if item.bridge_id:
            by_bridge.setdefault(item.bridge_id, []).append(item.call.call_id)
    calls: list[LiveCall] = []
    for item in listed:
        merged = {**item.call.variables, **variables.get(item.call.call_id, {})}
        partners = [m for m in by_bridge.get(item.bridge_id, []) if m != item.call.call_id]
        calls.append(
            replace(
                item.call,
                variables=merged,
                called_num=merged.get(dnis_variable) or item.call.called_num,
                bridged_with=partners[0] if partners else None,
                ringing=item.call.application.lower() == "dial" and not partners,
            )
        )
    return calls


def vanished(believed: Iterable[str], alive: Iterable[str], ended: Iterable[str]) -> list[str]:
    """Calls we believed alive before the resync that Asterisk no longer lists and whose
    Hangup we did not see meanwhile: their hang-up must be synthesized."""
    gone = set(believed) - set(alive) - set(ended)
    return sorted(gone)
