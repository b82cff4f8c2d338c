"""What the adapter knows of each live channel, kept current from events. Pure."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from pbx.port import CallState, LiveCall

# Channel-Call-State / show channels "callstate" -> the port's state.
_CALL_STATES: dict[str, CallState] = {
    "ACTIVE": CallState.UP,
    "HELD": CallState.UP,
    "RINGING": CallState.RINGING,
    "EARLY": CallState.RINGING,
    "RING_WAIT": CallState.RINGING,
    "DOWN": CallState.DOWN,
    "DIALING": CallState.DOWN,
    "HANGUP": CallState.DOWN,
}


def call_state(text: str) -> CallState:
    return _CALL_STATES.get(text.upper(), CallState.DOWN)


def is_ringing(application: str, bridged_with: str | None) -> bool:
    """Ringing an agent: in the ``bridge`` application and not bridged yet."""
    return application.lower() == "bridge" and not bridged_with


@dataclass
class Channel:
    uuid: str
    name: str = ""
    state: CallState = CallState.DOWN
    direction: str = ""
    context: str = ""
    exten: str = ""
    caller_num: str = ""
    caller_name: str = ""
    application: str = ""
    bridged_with: str | None = None
    variables: dict[str, str] = field(default_factory=dict)
    arrived: bool = False
    answered: bool = False
    generation: int = 0

    def live_call(self) -> LiveCall:
        return LiveCall(
            call_id=self.uuid,
            channel=self.name,
            state=self.state,
            caller_num=self.caller_num,
            caller_name=self.caller_name,
            called_num=self.exten,
            context=self.context,
            exten=self.exten,
            application=self.application,
            bridged_with=self.bridged_with,
            variables=dict(self.variables),
            ringing=is_ringing(self.application, self.bridged_with),
        )


class ChannelTable:
    """Live channels by UUID. ``generation`` counts links: channels from an earlier link are the
    ones a resync must confirm."""

    def __init__(self) -> None:
        self._channels: dict[str, Channel] = {}
        self.generation = 0

    def touch(self, uuid: str) -> Channel:
        channel = self._channels.get(uuid)
        if channel is None:
            channel = Channel(uuid, generation=self.generation)
            self._channels[uuid] = channel
        else:
            channel.generation = self.generation
        return channel

    def get(self, uuid: str) -> Channel | None:
        return self._channels.get(uuid)

    def remove(self, uuid: str) -> Channel | None:
        return self._channels.pop(uuid, None)

    def stale_ids(self) -> list[str]:
        return [c.uuid for c in self._channels.values() if c.generation < self.generation]

    def __iter__(self) -> Iterator[Channel]:
        return iter(list(self._channels.values()))

    def __len__(self) -> int:
        return len(self._channels)
