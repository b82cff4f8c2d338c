"""Two-party (or more) bridges and their AMI events."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pbx.sim.ami import events as ev

if TYPE_CHECKING:
    from pbx.sim.channel import Channel
    from pbx.sim.pbx import Pbx


@dataclass(eq=False)
class Bridge:
    uniqueid: str = field(default_factory=lambda: str(uuid.uuid4()))
    btype: str = "basic"
    technology: str = "simple_bridge"
    creator: str = "<unknown>"
    name: str = "<unknown>"
    members: list[Channel] = field(default_factory=list)
    destroyed: bool = False

    def headers(self) -> list[tuple[str, str]]:
        return ev.bridge_headers(
            self.uniqueid, self.btype, self.technology, self.creator, self.name, len(self.members)
        )


def create(pbx: Pbx) -> Bridge:
    bridge = Bridge()
    pbx.bridges[bridge.uniqueid] = bridge
    pbx.emit(ev.bridge_event("BridgeCreate", bridge.headers()))
    return bridge


def enter(pbx: Pbx, bridge: Bridge, chan: Channel) -> None:
    bridge.members.append(chan)
    chan.bridge = bridge
    snap = pbx.publish(chan)
    pbx.emit(ev.bridge_event("BridgeEnter", bridge.headers(), snap))


def leave(pbx: Pbx, chan: Channel) -> None:
    """Take `chan` out of its bridge; a bridge left with one member breaks that member free."""
    bridge = chan.bridge
    if bridge is None:
        return
    bridge.members.remove(chan)
    chan.bridge = None
    snap = pbx.publish(chan)
    pbx.emit(ev.bridge_event("BridgeLeave", bridge.headers(), snap))
    for other in list(bridge.members):
        # A basic two-party bridge dissolves when one side leaves.
        other.interrupt.set()
    if not bridge.members:
        destroy(pbx, bridge)


def destroy(pbx: Pbx, bridge: Bridge) -> None:
    if bridge.destroyed:
        return
    bridge.destroyed = True
    pbx.bridges.pop(bridge.uniqueid, None)
    pbx.emit(ev.bridge_event("BridgeDestroy", bridge.headers()))
