"""A FreeSWITCH session as events describe it: state, call state, caller profile, variables."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from pbx.sim.esl.events import CALLSTATE_NUMBERS, STATE_NUMBERS, Headers

PROFILE_FIELDS = (
    "Direction",
    "Logical-Direction",
    "Username",
    "Dialplan",
    "Caller-ID-Name",
    "Caller-ID-Number",
    "Orig-Caller-ID-Name",
    "Orig-Caller-ID-Number",
    "Callee-ID-Name",
    "Callee-ID-Number",
    "Network-Addr",
    "ANI",
    "Destination-Number",
    "Unique-ID",
    "Source",
    "Transfer-Source",
    "Context",
    "RDNIS",
    "Channel-Name",
    "Profile-Index",
    "Profile-Created-Time",
    "Channel-Created-Time",
    "Channel-Answered-Time",
    "Channel-Progress-Time",
    "Channel-Progress-Media-Time",
    "Channel-Hangup-Time",
    "Channel-Transfer-Time",
    "Channel-Resurrect-Time",
    "Channel-Bridged-Time",
    "Channel-Last-Hold",
    "Channel-Hold-Accum",
    "Screen-Bit",
    "Privacy-Hide-Name",
    "Privacy-Hide-Number",
)
# Time fields are printed even when zero, the others only when set (as the caller profile does).
_ALWAYS = frozenset(f for f in PROFILE_FIELDS if f.endswith(("Time", "Hold", "Accum")))


_PROFILE_VARIABLES = {
    "destination_number": "Destination-Number",
    "caller_id_name": "Caller-ID-Name",
    "caller_id_number": "Caller-ID-Number",
    "callee_id_name": "Callee-ID-Name",
    "callee_id_number": "Callee-ID-Number",
    "ani": "ANI",
    "context": "Context",
    "dialplan": "Dialplan",
    "rdnis": "RDNIS",
    "source": "Source",
    "chan_name": "Channel-Name",
    "transfer_source": "Transfer-Source",
}


class ChannelVariables(dict[str, str]):
    """Variables as FreeSWITCH keeps them: in a switch_event_t, whose lookups and deletions
    compare names case-blind (switch_event_get_header / del_header use strcasecmp). A
    variable keeps the spelling it was last set with; events show that spelling."""

    def __init__(self, items: dict[str, str] | None = None) -> None:
        super().__init__()
        self._spelling: dict[str, str] = {}  # lower-case name -> the stored key
        for name, value in (items or {}).items():
            self[name] = value

    def _key(self, name: object) -> object:
        return self._spelling.get(name.lower(), name) if isinstance(name, str) else name

    def __setitem__(self, name: str, value: str) -> None:
        old = self._spelling.get(name.lower())
        if old is not None and old != name:
            super().__delitem__(old)
        super().__setitem__(name, value)
        self._spelling[name.lower()] = name

    def __getitem__(self, name: str) -> str:
        return super().__getitem__(self._key(name))  # type: ignore[index]

    def __contains__(self, name: object) -> bool:
        return super().__contains__(self._key(name))

    def __delitem__(self, name: str) -> None:
        key = self._key(name)
        super().__delitem__(key)  # type: ignore[arg-type]
        self._spelling.pop(name.lower(), None)

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return super().get(self._key(name), default)  # type: ignore[arg-type]

    def pop(self, name: str, *default: str | None) -> str | None:  # type: ignore[override]
        if name in self:
            value = self[name]
            del self[name]
            return value
        if default:
            return default[0]
        raise KeyError(name)

    def update(self, *args: object, **kwargs: str) -> None:  # type: ignore[override]
        for name, value in dict(*args, **kwargs).items():  # type: ignore[call-overload]
            self[name] = value

    def clear(self) -> None:
        super().clear()
        self._spelling.clear()


@dataclass
class FsChannel:
    uuid: str
    name: str
    direction: str  # inbound | outbound
    session_id: int
    profile: dict[str, str] = field(default_factory=dict)
    variables: ChannelVariables = field(default_factory=ChannelVariables)
    state: str = "CS_NEW"
    callstate: str = "DOWN"
    answer_state: str = "ringing"
    hit_dialplan: bool = False
    hangup_cause: str = ""
    codec: bool = True
    sip: bool = False  # a sofia channel: early media before answer
    presence_id: str = ""
    other_type: str = ""  # originator | originatee when bridged
    other: FsChannel | None = None
    loopback_peer: FsChannel | None = None
    created_us: int = 0
    answered_us: int = 0
    bridged_us: int = 0
    last_app: tuple[str, str] | None = None
    parked: bool = False
    ending: bool = False  # leave the dialplan after the current application, then hang up
    dtmf: asyncio.Queue[tuple[str, int]] = field(default_factory=asyncio.Queue)
    interrupt: asyncio.Event = field(default_factory=asyncio.Event)
    gone: asyncio.Event = field(default_factory=asyncio.Event)
    answered: asyncio.Event = field(default_factory=asyncio.Event)
    wake: asyncio.Event = field(default_factory=asyncio.Event)  # a queued message arrived
    transfer_to: tuple[str, str] | None = None
    app_queue: list[tuple[str, str, str]] = field(default_factory=list)  # name, data, event uuid
    task: asyncio.Task[None] | None = None

    @property
    def up(self) -> bool:
        return not self.hangup_cause

    def set_var(self, name: str, value: str | None) -> None:
        # switch_channel_set_variable deletes then appends, so a re-set variable moves last.
        self.variables.pop(name, None)
        if value is not None and value != "":
            self.variables[name] = value

    def get_var(self, name: str) -> str:
        return self.variables.get(name, "")

    def profile_variables(self) -> dict[str, str]:
        """The caller-profile fields a ``${name}`` reaches when no variable has that name."""
        found = {name: self.profile.get(f, "") for name, f in _PROFILE_VARIABLES.items()}
        found["uuid"] = self.uuid
        return found

    def lookup(self, name: str) -> str:
        """A variable, else the caller-profile field of that name, as
        switch_channel_get_variable falls back to the profile."""
        if name in self.variables:
            return self.variables[name]
        field_ = _PROFILE_VARIABLES.get(name)
        return self.profile.get(field_, "") if field_ else ""

    def profile_headers(self, prefix: str, with_index: bool = True) -> Headers:
        out: Headers = []
        for f in PROFILE_FIELDS:
            # The other leg's profile is a copy taken at bridge time, before the bridge
            # stamped its own transfer source; the copy has no index.
            if not with_index and f in ("Profile-Index", "Transfer-Source", "RDNIS"):
                continue
            v = self.profile.get(f, "")
            if v or f in _ALWAYS:
                out.append((f"{prefix}-{f}", v or "0"))
        return out

    def data_headers(self) -> Headers:
        h: Headers = [
            ("Channel-State", self.state),
            ("Channel-Call-State", self.callstate),
            ("Channel-State-Number", str(STATE_NUMBERS[self.state])),
            ("Channel-Name", self.name),
            ("Unique-ID", self.uuid),
            ("Call-Direction", self.direction),
            ("Presence-Call-Direction", self.direction),
            ("Channel-HIT-Dialplan", "true" if self.hit_dialplan else "false"),
        ]
        # A brand-new session (CS_NEW) has no presence and no caller profile yet.
        new = self.state == "CS_NEW"
        if self.presence_id and not new:
            h.append(("Channel-Presence-ID", self.presence_id))
        h += [
            ("Channel-Call-UUID", self.variables.get("call_uuid", self.uuid)),
            ("Answer-State", self.answer_state),
        ]
        if self.hangup_cause:
            h.append(("Hangup-Cause", self.hangup_cause))
        if self.codec:
            h += [
                ("Channel-Read-Codec-Name", "L16"),
                ("Channel-Read-Codec-Rate", "8000"),
                ("Channel-Read-Codec-Bit-Rate", "128000"),
                ("Channel-Write-Codec-Name", "L16"),
                ("Channel-Write-Codec-Rate", "8000"),
                ("Channel-Write-Codec-Bit-Rate", "128000"),
            ]
        if not new:
            h += self.profile_headers("Caller")
        if self.other is not None and self.other_type:
            h.append(("Other-Type", self.other_type))
            h += self.other.profile_headers("Other-Leg", with_index=False)
        return h

    def callstate_number(self) -> int:
        return CALLSTATE_NUMBERS[self.callstate]
