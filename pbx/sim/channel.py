"""Channels of the simulated PBX and the snapshots that AMI events are built from."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pbx.sim.bridge import Bridge


class State(IntEnum):
    """ast_channel_state values, as AMI prints them in ChannelState."""

    DOWN = 0
    RSRVD = 1
    OFFHOOK = 2
    DIALING = 3
    RING = 4
    RINGING = 5
    UP = 6
    BUSY = 7


STATE_DESC = {
    State.DOWN: "Down",
    State.RSRVD: "Rsrvd",
    State.OFFHOOK: "OffHook",
    State.DIALING: "Dialing",
    State.RING: "Ring",
    State.RINGING: "Ringing",
    State.UP: "Up",
    State.BUSY: "Busy",
}

UNKNOWN = "<unknown>"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What Asterisk publishes about a channel at one moment; events quote the last one."""

    name: str
    state: State
    caller_num: str
    caller_name: str
    connected_num: str
    connected_name: str
    language: str
    accountcode: str
    context: str
    exten: str
    priority: int
    uniqueid: str
    linkedid: str
    appl: str
    data: str
    bridge_id: str

    def headers(self, prefix: str = "") -> list[tuple[str, str]]:
        """The channel block every channel event carries, in Asterisk's order."""
        return [
            (prefix + "Channel", self.name),
            (prefix + "ChannelState", str(int(self.state))),
            (prefix + "ChannelStateDesc", STATE_DESC[self.state]),
            (prefix + "CallerIDNum", self.caller_num or UNKNOWN),
            (prefix + "CallerIDName", self.caller_name or UNKNOWN),
            (prefix + "ConnectedLineNum", self.connected_num or UNKNOWN),
            (prefix + "ConnectedLineName", self.connected_name or UNKNOWN),
            (prefix + "Language", self.language),
            (prefix + "AccountCode", self.accountcode),
            (prefix + "Context", self.context),
            (prefix + "Exten", self.exten),
            (prefix + "Priority", str(self.priority)),
            (prefix + "Uniqueid", self.uniqueid),
            (prefix + "Linkedid", self.linkedid),
        ]


@dataclass(eq=False)
class Channel:
    """A live channel. Mutate fields, then let the engine publish a new snapshot."""

    name: str
    tech: str
    resource: str
    uniqueid: str
    linkedid: str
    created: float
    state: State = State.DOWN
    caller_num: str = ""
    caller_name: str = ""
    connected_num: str = ""
    connected_name: str = ""
    language: str = "en"
    accountcode: str = ""
    context: str = "default"
    exten: str = "s"
    priority: int = 1
    appl: str = ""
    data: str = ""
    variables: dict[str, str] = field(default_factory=dict)
    # PJSIP_HEADER(add,...) on an outgoing PJSIP channel: headers of the INVITE to its phone.
    sip_headers: dict[str, str] = field(default_factory=dict)
    # Names set with a leading _ or __: copied to channels this one creates.
    inheritable: dict[str, str] = field(default_factory=dict)
    hangupcause: int = 0
    # Let go by app_dial (hanguptree): Hangup reports hangupcause as it is, 0 ("Unknown")
    # for a leg that only rang, instead of defaulting to Normal Clearing.
    cause_as_is: bool = False
    bridge: Bridge | None = None
    # The other half of a Local channel pair.
    peer: Channel | None = None
    task: asyncio.Task[Any] | None = None
    snapshot: Snapshot | None = None
    hung_up: bool = False
    soft_hangup: bool = False
    # Hung up by AMI Hangup: its SoftHangupRequest comes when its dialplan ends (see Pbx._own).
    hangup_unannounced: bool = False
    hangup_queued: bool = False
    # The far end's behaviour (a simulated phone or caller), cancelled at hangup.
    remote: asyncio.Task[Any] | None = None
    answered: asyncio.Event = field(default_factory=asyncio.Event)
    gone: asyncio.Event = field(default_factory=asyncio.Event)
    dtmf: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    dialed_by: Channel | None = None
    # Set while an application waits; Redirect and hangup interrupt it.
    interrupt: asyncio.Event = field(default_factory=asyncio.Event)
    pending_goto: tuple[str, str, int] | None = None
    moh_class: str | None = None
    spied_by: set[Channel] = field(default_factory=set)
    # Options after the slash of a Local channel (`/n`: no optimization).
    local_opts: str = ""
    endpoint: Any = None
    # Set once any hangup is requested; what FastAGI and the dialler wait on.
    hangup_flag: asyncio.Event = field(default_factory=asyncio.Event)
    dnid: str = ""
    recording: str | None = None  # MixMonitor file name while recording

    def take_snapshot(self) -> Snapshot:
        return Snapshot(
            name=self.name,
            state=self.state,
            caller_num=self.caller_num,
            caller_name=self.caller_name,
            connected_num=self.connected_num,
            connected_name=self.connected_name,
            language=self.language,
            accountcode=self.accountcode,
            context=self.context,
            exten=self.exten,
            priority=self.priority,
            uniqueid=self.uniqueid,
            linkedid=self.linkedid,
            appl=self.appl,
            data=self.data,
            bridge_id=self.bridge.uniqueid if self.bridge else "",
        )

    @property
    def device(self) -> str:
        """Device name for DeviceStateChange: the channel name without its sequence suffix."""
        base = self.name.split(";", 1)[0]
        head, _, tail = base.rpartition("-")
        return head if head and len(tail) == 8 else base

    @property
    def is_up(self) -> bool:
        return self.state == State.UP
