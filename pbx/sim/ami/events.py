"""AMI event builders. Header names and order follow Asterisk 22 (checked against captures)."""

from __future__ import annotations

from dataclasses import dataclass, field

from pbx.sim.ami.codec import encode
from pbx.sim.channel import Snapshot

# Hangup cause texts Asterisk prints in `Cause-txt` (subset the simulator produces).
CAUSE_TEXT = {
    0: "Unknown",
    1: "Unallocated (unassigned) number",
    3: "No route to destination",
    16: "Normal Clearing",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    21: "Call Rejected",
    27: "Destination out of order",
    34: "Circuit/channel congestion",
    38: "Network out of order",
    127: "Interworking, unspecified",
}


@dataclass(slots=True)
class Event:
    """One event: its name, the classes that may read it and its headers after Privilege."""

    name: str
    classes: frozenset[str]
    headers: list[tuple[str, str]]
    _wire: bytes | None = field(default=None, repr=False)

    def wire(self) -> bytes:
        """Encoded once, shared by every session that receives it."""
        if self._wire is None:
            self._wire = encode(
                [("Event", self.name), ("Privilege", _privilege(self.classes)), *self.headers]
            )
        return self._wire

    def get(self, name: str) -> str | None:
        for k, v in self.headers:
            if k == name:
                return v
        return None


def _privilege(classes: frozenset[str]) -> str:
    return ",".join(sorted(classes)) + ",all"


CALL = frozenset({"call"})
DIALPLAN = frozenset({"dialplan"})
SYSTEM = frozenset({"system"})
SECURITY = frozenset({"security"})
AGI = frozenset({"agi"})
DTMF = frozenset({"dtmf"})
USER = frozenset({"user"})


def channel_event(
    name: str, classes: frozenset[str], snap: Snapshot, *extra: tuple[str, str]
) -> Event:
    return Event(name, classes, [*snap.headers(), *extra])


def newchannel(s: Snapshot) -> Event:
    return channel_event("Newchannel", CALL, s)


def newstate(s: Snapshot) -> Event:
    return channel_event("Newstate", CALL, s)


def newexten(s: Snapshot) -> Event:
    return channel_event(
        "Newexten",
        DIALPLAN,
        s,
        ("Extension", s.exten),
        ("Application", s.appl),
        ("AppData", s.data),
    )


def newcallerid(s: Snapshot, pres: str = "0 (Presentation Allowed, Not Screened)") -> Event:
    return channel_event("NewCallerid", CALL, s, ("CID-CallingPres", pres))


def newconnectedline(s: Snapshot) -> Event:
    return channel_event("NewConnectedLine", CALL, s)


def varset(s: Snapshot, variable: str, value: str) -> Event:
    return channel_event("VarSet", DIALPLAN, s, ("Variable", variable), ("Value", value))


def global_varset(variable: str, value: str) -> Event:
    """A global variable set (Set(GLOBAL(...)), AMI Setvar without a channel): Asterisk 22
    publishes it with no channel snapshot, as Channel and Uniqueid ``none``."""
    return Event(
        "VarSet",
        DIALPLAN,
        [("Channel", "none"), ("Uniqueid", "none"), ("Variable", variable), ("Value", value)],
    )


def hangup_request(s: Snapshot, cause: int | None, soft: bool) -> Event:
    # A hang-up queued with no cause (a PJSIP BYE before any cause was set) has no Cause.
    extra = () if cause is None else (("Cause", str(cause)),)
    return channel_event("SoftHangupRequest" if soft else "HangupRequest", CALL, s, *extra)


def hangup(s: Snapshot, cause: int) -> Event:
    return channel_event(
        "Hangup", CALL, s, ("Cause", str(cause)), ("Cause-txt", CAUSE_TEXT.get(cause, "Unknown"))
    )


def local_bridge(one: Snapshot, two: Snapshot, context: str, exten: str, optimize: bool) -> Event:
    return Event(
        "LocalBridge",
        CALL,
        [
            *one.headers("LocalOne"),
            *two.headers("LocalTwo"),
            ("Context", context),
            ("Exten", exten),
            ("LocalOptimization", "Yes" if optimize else "No"),
        ],
    )


def dial_begin(caller: Snapshot | None, dest: Snapshot, dialstring: str) -> Event:
    lead = caller.headers() if caller else []
    return Event("DialBegin", CALL, [*lead, *dest.headers("Dest"), ("DialString", dialstring)])


def dial_state(caller: Snapshot, dest: Snapshot, status: str) -> Event:
    return Event(
        "DialState", CALL, [*caller.headers(), *dest.headers("Dest"), ("DialStatus", status)]
    )


def dial_end(caller: Snapshot | None, dest: Snapshot, status: str) -> Event:
    lead = caller.headers() if caller else []
    return Event("DialEnd", CALL, [*lead, *dest.headers("Dest"), ("DialStatus", status)])


def device_state(device: str, state: str) -> Event:
    return Event("DeviceStateChange", CALL, [("Device", device), ("State", state)])


def originate_response(
    action_id: str | None,
    ok: bool,
    channel: str,
    context: str,
    exten: str,
    reason: int,
    uniqueid: str,
    cid_num: str,
    cid_name: str,
) -> Event:
    headers = [("ActionID", action_id)] if action_id is not None else []
    headers += [
        ("Response", "Success" if ok else "Failure"),
        ("Channel", channel),
        ("Context", context),
        ("Exten", exten),
        ("Reason", str(reason)),
        ("Uniqueid", uniqueid),
        ("CallerIDNum", cid_num or "<unknown>"),
        ("CallerIDName", cid_name or "<unknown>"),
    ]
    return Event("OriginateResponse", CALL, headers)


def moh_start(s: Snapshot, klass: str) -> Event:
    return channel_event("MusicOnHoldStart", CALL, s, ("Class", klass))


def moh_stop(s: Snapshot) -> Event:
    return channel_event("MusicOnHoldStop", CALL, s)


def agi_exec_start(s: Snapshot, command_id: int, command: str) -> Event:
    return channel_event(
        "AGIExecStart", AGI, s, ("CommandId", str(command_id)), ("Command", command)
    )


def agi_exec_end(s: Snapshot, command_id: int, command: str, code: int, result: str) -> Event:
    return channel_event(
        "AGIExecEnd",
        AGI,
        s,
        ("CommandId", str(command_id)),
        ("Command", command),
        ("ResultCode", str(code)),
        ("Result", result),
    )


def dtmf(s: Snapshot, digit: str, direction: str, duration_ms: int | None = None) -> Event:
    if duration_ms is None:
        return channel_event("DTMFBegin", DTMF, s, ("Digit", digit), ("Direction", direction))
    return channel_event(
        "DTMFEnd",
        DTMF,
        s,
        ("Digit", digit),
        ("DurationMs", str(duration_ms)),
        ("Direction", direction),
    )


def bridge_headers(
    bridge_id: str, btype: str, tech: str, creator: str, name: str, count: int
) -> list[tuple[str, str]]:
    return [
        ("BridgeUniqueid", bridge_id),
        ("BridgeType", btype),
        ("BridgeTechnology", tech),
        ("BridgeCreator", creator),
        ("BridgeName", name),
        ("BridgeNumChannels", str(count)),
        ("BridgeVideoSourceMode", "none"),
    ]


def bridge_event(name: str, bridge: list[tuple[str, str]], snap: Snapshot | None = None) -> Event:
    return Event(name, CALL, [*bridge, *(snap.headers() if snap else [])])


def chanspy(start: bool, spyer: Snapshot, spyee: Snapshot) -> Event:
    return Event(
        "ChanSpyStart" if start else "ChanSpyStop",
        CALL,
        [*spyer.headers("Spyer"), *spyee.headers("Spyee")],
    )


def contact_status(uri: str, status: str, aor: str, endpoint: str, rtt_usec: int = 0) -> Event:
    return Event(
        "ContactStatus",
        SYSTEM,
        [
            ("URI", uri),
            ("ContactStatus", status),
            ("AOR", aor),
            ("EndpointName", endpoint),
            ("RoundtripUsec", str(rtt_usec)),
        ],
    )


def fully_booted(uptime: int, last_reload: int) -> Event:
    return Event(
        "FullyBooted",
        SYSTEM,
        [("Uptime", str(uptime)), ("LastReload", str(last_reload)), ("Status", "Fully Booted")],
    )


def successful_auth(event_tv: str, account: str, session_id: str, local: str, remote: str) -> Event:
    return Event(
        "SuccessfulAuth",
        SECURITY,
        [
            ("EventTV", event_tv),
            ("Severity", "Informational"),
            ("Service", "AMI"),
            ("EventVersion", "1"),
            ("AccountID", account),
            ("SessionID", session_id),
            ("LocalAddress", local),
            ("RemoteAddress", remote),
            ("UsingPassword", "0"),
            ("SessionTV", event_tv),
        ],
    )


def user_event(name: str, body: list[tuple[str, str]]) -> Event:
    return Event("UserEvent", USER, [("UserEvent", name), *body])
