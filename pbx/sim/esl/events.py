"""FreeSWITCH-shaped events: header names and order as switch_event.c / switch_channel.c
produce them (checked against the 1.10.12 captures by tests/sim/esl)."""

from __future__ import annotations

import time
import uuid as uuidlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pbx.sim.esl.channel import FsChannel

Headers = list[tuple[str, str]]

# Where the real core raises each event: (file, function, line). Clients sometimes log these.
CALLING: dict[str, tuple[str, str, int]] = {
    "API": ("switch_loadable_module.c", "switch_api_execute", 2954),
    "HEARTBEAT": ("switch_core.c", "send_heartbeat", 95),
    "BACKGROUND_JOB": ("mod_event_socket.c", "api_exec", 1572),
    "CHANNEL_STATE": ("switch_channel.c", "switch_channel_perform_set_running_state", 2408),
    "CHANNEL_CREATE": ("switch_core_state_machine.c", "switch_core_session_run", 626),
    "CHANNEL_CALLSTATE": ("switch_channel.c", "switch_channel_perform_set_callstate", 301),
    "CHANNEL_EXECUTE": ("switch_core_session.c", "switch_core_session_exec", 2944),
    "CHANNEL_EXECUTE_COMPLETE": ("switch_core_session.c", "switch_core_session_exec", 2967),
    "CHANNEL_ANSWER": ("switch_channel.c", "switch_channel_perform_mark_answered", 3846),
    "CHANNEL_PARK": ("switch_ivr.c", "switch_ivr_park", 1002),
    "CHANNEL_UNPARK": ("switch_ivr.c", "switch_ivr_park", 1213),
    "CHANNEL_HANGUP": ("switch_channel.c", "switch_channel_perform_hangup", 3445),
    "CHANNEL_HANGUP_COMPLETE": (
        "switch_core_state_machine.c",
        "switch_core_session_reporting_state",
        943,
    ),
    "CHANNEL_DESTROY": ("switch_core_session.c", "switch_core_session_perform_destroy", 1584),
    "CHANNEL_BRIDGE": ("switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", 1689),
    "CHANNEL_UNBRIDGE": ("switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", 1879),
    "uuid_bridge:a": ("switch_ivr_bridge.c", "uuid_bridge_on_soft_execute", 1236),
    "uuid_bridge:b": ("switch_ivr_bridge.c", "uuid_bridge_on_soft_execute", 1243),
    "DTMF": ("switch_channel.c", "switch_channel_dequeue_dtmf", 677),
    "CHANNEL_DATA": ("mod_commands.c", "uuid_dump_function", 5250),
    "sofia::register": ("sofia_reg.c", "sofia_reg_handle_register_token", 2059),
    "sofia::unregister": ("sofia_reg.c", "sofia_reg_handle_register_token", 2213),
    "sofia::expire": ("sofia_reg.c", "sofia_reg_del_call_back", 1091),
}

# The events the simulator raises; tests compare captures restricted to these names.
SIMULATED_EVENTS = frozenset(
    {
        "CHANNEL_CREATE",
        "CHANNEL_STATE",
        "CHANNEL_CALLSTATE",
        "CHANNEL_ANSWER",
        "CHANNEL_EXECUTE",
        "CHANNEL_EXECUTE_COMPLETE",
        "CHANNEL_PARK",
        "CHANNEL_UNPARK",
        "CHANNEL_BRIDGE",
        "CHANNEL_UNBRIDGE",
        "CHANNEL_HANGUP",
        "CHANNEL_HANGUP_COMPLETE",
        "CHANNEL_DESTROY",
        "DTMF",
        "BACKGROUND_JOB",
        "HEARTBEAT",
        "API",
        "CUSTOM",
    }
)

# CUSTOM subclasses the simulator raises (sofia's pre_register / register_attempt are not).
SIMULATED_SUBCLASSES = frozenset({"sofia::register", "sofia::unregister", "sofia::expire"})

STATE_NUMBERS = {
    "CS_NEW": 0,
    "CS_INIT": 2,
    "CS_ROUTING": 3,
    "CS_SOFT_EXECUTE": 4,
    "CS_EXECUTE": 4,
    "CS_EXCHANGE_MEDIA": 5,
    "CS_PARK": 6,
    "CS_CONSUME_MEDIA": 7,
    "CS_HIBERNATE": 8,
    "CS_RESET": 9,
    "CS_HANGUP": 10,
    "CS_REPORTING": 11,
    "CS_DESTROY": 12,
    "CS_NONE": 13,
}
CALLSTATE_NUMBERS = {
    "DOWN": 0,
    "DIALING": 1,
    "RINGING": 2,
    "EARLY": 3,
    "ACTIVE": 4,
    "HELD": 5,
    "RING_WAIT": 6,
    "HANGUP": 7,
    "UNHELD": 8,
}


@dataclass(slots=True)
class Event:
    name: str
    headers: Headers
    body: str = ""
    subclass: str = ""

    def get(self, key: str, default: str = "") -> str:
        for k, v in self.headers:
            if k == key:
                return v
        return default


@dataclass
class Identity:
    """What every event starts with: the switch's identity and clock."""

    hostname: str = "sim"
    ipv4: str = "127.0.0.1"
    ipv6: str = "::1"
    core_uuid: str = field(default_factory=lambda: str(uuidlib.uuid4()))
    clock: Callable[[], float] = time.time
    _seq: int = 0

    def now_us(self) -> int:
        return int(self.clock() * 1_000_000)

    def core_headers(self, name: str, key: str | None = None) -> Headers:
        self._seq += 1
        now = self.clock()
        file_, func, line = CALLING.get(key or name, ("switch_event.c", "switch_event_fire", 0))
        return [
            ("Event-Name", name),
            ("Core-UUID", self.core_uuid),
            ("FreeSWITCH-Hostname", self.hostname),
            ("FreeSWITCH-Switchname", self.hostname),
            ("FreeSWITCH-IPv4", self.ipv4),
            ("FreeSWITCH-IPv6", self.ipv6),
            ("Event-Date-Local", time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))),
            ("Event-Date-GMT", time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now))),
            ("Event-Date-Timestamp", str(int(now * 1_000_000))),
            ("Event-Calling-File", file_),
            ("Event-Calling-Function", func),
            ("Event-Calling-Line-Number", str(line)),
            ("Event-Sequence", str(self._seq)),
        ]

    def api_event(self, command: str, argument: str) -> Event:
        h = self.core_headers("API")
        h.append(("API-Command", command))
        if argument:
            h.append(("API-Command-Argument", argument))
        return Event("API", h)

    def background_job(self, job_uuid: str, command: str, arg: str, result: str) -> Event:
        h = self.core_headers("BACKGROUND_JOB")
        h += [("Job-UUID", job_uuid), ("Job-Command", command)]
        if arg:
            h.append(("Job-Command-Arg", arg))
        return Event("BACKGROUND_JOB", h, result)

    def heartbeat(self, started: float, sessions: int, since_startup: int, peak: int) -> Event:
        h = self.core_headers("HEARTBEAT")
        up = self.clock() - started
        h += [
            ("Event-Info", "System Ready"),
            ("Up-Time", uptime_text(up)),
            ("FreeSWITCH-Version", VERSION),
            ("Uptime-msec", str(int(up * 1000))),
            ("Session-Count", str(sessions)),
            ("Max-Sessions", "1000"),
            ("Session-Per-Sec", "100"),
            ("Session-Per-Sec-Last", "0"),
            ("Session-Per-Sec-Max", "0"),
            ("Session-Per-Sec-FiveMin", "0"),
            ("Session-Since-Startup", str(since_startup)),
            ("Session-Peak-Max", str(peak)),
            ("Session-Peak-FiveMin", str(peak)),
            ("Idle-CPU", "99.000000"),
        ]
        return Event("HEARTBEAT", h)

    def custom(self, subclass: str, fields: Headers) -> Event:
        h = self.core_headers("CUSTOM", subclass)
        h.insert(0, ("Event-Subclass", subclass))  # FreeSWITCH puts it first
        return Event("CUSTOM", h + fields, subclass=subclass)

    def channel_event(
        self,
        name: str,
        ch: FsChannel,
        *,
        prefix: Sequence[tuple[str, str]] = (),
        suffix: Sequence[tuple[str, str]] = (),
        body: str = "",
        key: str | None = None,
    ) -> Event:
        h = self.core_headers(name, key)
        h.extend(prefix)
        h.extend(ch.data_headers())
        h.extend(suffix)
        h.extend(("variable_" + k, v) for k, v in ch.variables.items())
        return Event(name, h, body)


VERSION = "1.10.12-release~64bit"


def uptime_text(seconds: float) -> str:
    us_total = int(seconds * 1_000_000)
    s, us = divmod(us_total, 1_000_000)
    ms, us = divmod(us, 1000)
    m, s = divmod(s, 60)
    h, m = divmod(m, 60)
    d, h = divmod(h, 24)
    y, d = divmod(d, 365)
    return (
        f"{y} years, {d} days, {h} hours, {m} minutes, {s} seconds, "
        f"{ms} milliseconds, {us} microseconds"
    )
