"""What the adapter knows about live Asterisk channels, kept current from AMI events.

Port commands name calls by Uniqueid; AMI actions name channels. This table maps one to the
other and remembers what resync needs (which channels we believed alive).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from pbx.port import CallState, LiveCall

_STATES: dict[str, CallState] = {
    "4": CallState.RINGING,  # Ring: the inbound side, before answer
    "5": CallState.RINGING,  # Ringing: the outbound side hears ringback
    "6": CallState.UP,
    "7": CallState.BUSY,
}

# "PJSIP/agent1001-0000000a" or "Local/x@ctx-00000004;1": the suffix Asterisk appends per channel.
_CHANNEL_SUFFIX = re.compile(r"-[0-9a-f]{8}(;\d)?$")


def call_state(channel_state: str) -> CallState:
    """Asterisk's numeric ChannelState (0 Down ... 6 Up, 7 Busy) as a port state."""
    return _STATES.get(channel_state.strip(), CallState.DOWN)


def endpoint_of(channel: str) -> str:
    """The endpoint of a channel: ``PJSIP/agent1001-0000000a`` -> ``PJSIP/agent1001``."""
    return _CHANNEL_SUFFIX.sub("", channel)


def caller_field(value: str) -> str:
    """Asterisk writes ``<unknown>`` for an absent caller id; the port uses ``""``."""
    return "" if value == "<unknown>" else value


@dataclass(slots=True)
class Channel:
    uniqueid: str
    name: str
    state: CallState = CallState.DOWN
    context: str = ""
    exten: str = ""
    caller_num: str = ""
    caller_name: str = ""
    application: str = ""
    generation: int = 0  # the table generation in which an event or a list last showed it
    arrived: bool = False  # CallArrived was published (or the call came from a resync)
    answered: bool = False
    # The agent endpoint the last connect command rang for this caller, and whether that
    # ring's DialEnd is still to come: if it fell into a link outage, the dialplan's served
    # mark tells whether the agent answered.
    agent_endpoint: str = ""
    dial_pending: bool = False
    variables: dict[str, str] = field(default_factory=dict)


def channel_call(channel: Channel) -> LiveCall:
    """What the table knows of a channel, as the port's LiveCall."""
    return LiveCall(
        call_id=channel.uniqueid,
        channel=channel.name,
        state=channel.state,
        caller_num=channel.caller_num,
        caller_name=channel.caller_name,
        called_num=channel.exten,
        context=channel.context,
        exten=channel.exten,
        application=channel.application,
        variables=dict(channel.variables),
        ringing=channel.application.lower() == "dial",
    )


class ChannelTable:
    def __init__(self) -> None:
        self._by_id: dict[str, Channel] = {}
        self._bridges: dict[str, list[str]] = {}
        # Bumped when the AMI link drops: channels not seen since are stale until a resync.
        self.generation = 0

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[Channel]:
        return iter(list(self._by_id.values()))

    def get(self, uniqueid: str) -> Channel | None:
        return self._by_id.get(uniqueid)

    def ids(self) -> set[str]:
        return set(self._by_id)

    def touch(self, uniqueid: str, name: str) -> Channel:
        """The channel with this id, created when unseen; its name follows renames."""
        channel = self._by_id.get(uniqueid)
        if channel is None:
            channel = self._by_id[uniqueid] = Channel(uniqueid, name)
        elif name:
            channel.name = name
        channel.generation = self.generation
        return channel

    def stale_ids(self) -> set[str]:
        """Channels known only from before the last link loss."""
        return {uid for uid, ch in self._by_id.items() if ch.generation < self.generation}

    def remove(self, uniqueid: str) -> Channel | None:
        for members in self._bridges.values():
            if uniqueid in members:
                members.remove(uniqueid)
        return self._by_id.pop(uniqueid, None)

    def name_for(self, uniqueid: str) -> str | None:
        channel = self._by_id.get(uniqueid)
        return channel.name if channel else None

    # Bridges ------------------------------------------------------------------------------

    def enter_bridge(self, bridge_id: str, uniqueid: str) -> list[str]:
        """Add a member; returns the members that were there before it."""
        members = self._bridges.setdefault(bridge_id, [])
        before = [m for m in members if m != uniqueid]
        if uniqueid not in members:
            members.append(uniqueid)
        return before

    def leave_bridge(self, bridge_id: str, uniqueid: str) -> list[str]:
        """Remove a member; returns the members that stay."""
        members = self._bridges.get(bridge_id, [])
        if uniqueid in members:
            members.remove(uniqueid)
        return list(members)

    def destroy_bridge(self, bridge_id: str) -> None:
        self._bridges.pop(bridge_id, None)
