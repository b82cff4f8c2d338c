"""ESL events -> ``pbx.port`` events. Pure: no I/O; keeps the :class:`ChannelTable` current.

The full table is in docs/freeswitch.md. Headers used: ``Unique-ID``, ``Channel-Name``,
``Call-Direction``, ``Caller-Context``, ``Caller-Destination-Number``, ``Caller-Caller-ID-*``,
``Channel-Call-State``, ``variable_<name>`` for tracked variables, plus each event's own.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pbx.freeswitch.channels import Channel, ChannelTable, call_state
from pbx.freeswitch.commands import job_cause
from pbx.freeswitch.protocol import EslEvent
from pbx.freeswitch.variables import VariableNames
from pbx.port import (
    CallAnswered,
    CallArrived,
    CallBridged,
    CallHungUp,
    CallRinging,
    CallUnbridged,
    DialEnded,
    DialStatus,
    DtmfReceived,
    EndpointRegistered,
    EndpointUnregistered,
    HangupCause,
    HangupKind,
    PbxEvent,
    SpyMode,
    SpyStarted,
    SpyStopped,
)

log = logging.getLogger(__name__)

# DIALSTATUS as FreeSWITCH's bridge sets it -> the port's; others by the disposition's kind.
_DIALSTATUS: dict[str, DialStatus] = {
    "SUCCESS": DialStatus.ANSWER,
    "ANSWER": DialStatus.ANSWER,
    "BUSY": DialStatus.BUSY,
    "NOANSWER": DialStatus.NOANSWER,
    "CANCEL": DialStatus.CANCEL,
    "CONGESTION": DialStatus.CONGESTION,
    "CHANUNAVAIL": DialStatus.CHANUNAVAIL,
}
_KIND_STATUS: dict[HangupKind, DialStatus] = {
    HangupKind.BUSY: DialStatus.BUSY,
    HangupKind.NO_ANSWER: DialStatus.NOANSWER,
    HangupKind.CONGESTION: DialStatus.CONGESTION,
}
# FreeSWITCH counts DTMF durations in 8 kHz samples.
_SAMPLES_PER_MS = 8
_SIP_URI = re.compile(r"<([^>]+)>")
_DIAL_PREFIX = re.compile(r"^(\{[^}]*\}|\[[^\]]*\]|<[^>]*>)+")


class MalformedEvent(ValueError):
    """An ESL event lacks a header the mapping needs (named in the message)."""


def _need(event: EslEvent, name: str) -> str:
    value = event.get(name)
    if not value:
        raise MalformedEvent(f"{event.name} event without {name}")
    return value


def dial_endpoint(application_data: str) -> str:
    """The first target of a ``bridge`` dial string, without its ``{vars}`` prefix."""
    target = _DIAL_PREFIX.sub("", application_data.strip())
    return re.split(r"[,|]", target, maxsplit=1)[0]


def dial_status(event: EslEvent) -> DialStatus:
    raw = event.get("variable_DIALSTATUS").upper()
    if raw in _DIALSTATUS:
        return _DIALSTATUS[raw]
    disposition = event.get("variable_originate_disposition") or event.get("Hangup-Cause")
    if disposition.upper() == "ORIGINATOR_CANCEL":
        return DialStatus.CANCEL
    kind = HangupCause.from_freeswitch(disposition).kind if disposition else HangupKind.FAILURE
    return _KIND_STATUS.get(kind, DialStatus.CHANUNAVAIL)


# The dialplan's record of the last ring on the caller (cc_connect_done): ANSWER or DIALSTATUS.
RING_RESULT = "cc_ring_result"
# The dialplan's per-agent mark of the last caller an agent answered (set_global by the
# cc_connect bridge's execute_on_answer, on the agent's leg as it answers).
SERVED_PREFIX = "cc_served_"


@dataclass
class _Dial:
    endpoint: str
    rung: bool = False


class EventMapper:
    """Turns ESL events into port events, one event at a time."""

    def pending_dial(self, uuid: str) -> str | None:
        """The endpoint of a ring whose end has not been seen, if any: one whose bridge began,
        or one connect_agent asked for whose bridge was never seen (its CHANNEL_EXECUTE fell
        into a link outage)."""
        dial = self._dials.get(uuid)
        return dial.endpoint if dial is not None else self.connects.get(uuid)

    def end_dial(self, uuid: str) -> str | None:
        """Forget a ring whose end the adapter learned otherwise (a resync); its endpoint."""
        dial = self._dials.pop(uuid, None)
        asked = self.connects.pop(uuid, None)
        return dial.endpoint if dial is not None else asked

    def __init__(
        self,
        table: ChannelTable,
        *,
        inbound_contexts: tuple[str, ...],
        tracked_variables: tuple[str, ...],
        names: VariableNames | None = None,
    ) -> None:
        self.table = table
        self.inbound_contexts = frozenset(inbound_contexts)
        self.tracked = tracked_variables
        self.names = names or VariableNames()
        # Filled by the adapter's commands: the endpoint connect_agent asked for, the spy mode,
        # and the Job-UUID of each originate (its BACKGROUND_JOB tells a failure).
        self.connects: dict[str, str] = {}
        self.spy_modes: dict[str, SpyMode] = {}
        self.originates: dict[str, str] = {}
        self._dials: dict[str, _Dial] = {}
        self._spying: dict[str, str] = {}
        # Hang-ups seen while a resync is in flight (the snapshot may still list them), and
        # channels events told about meanwhile (newer than the snapshot).
        self.hung_up_during_resync: set[str] | None = None
        self.touched_during_resync: set[str] | None = None
        self._handlers: Mapping[str, Callable[[EslEvent], list[PbxEvent]]] = {
            "CHANNEL_CREATE": self._create,
            "CHANNEL_ANSWER": self._answer,
            "CHANNEL_PARK": self._park,
            "CHANNEL_EXECUTE": self._execute,
            "CHANNEL_EXECUTE_COMPLETE": self._execute_complete,
            "CHANNEL_ORIGINATE": self._originate,
            "CHANNEL_BRIDGE": self._bridge,
            "CHANNEL_UNBRIDGE": self._unbridge,
            "CHANNEL_HANGUP_COMPLETE": self._hangup,
            "DTMF": self._dtmf,
            "BACKGROUND_JOB": self._background_job,
            "CUSTOM": self._custom,
        }

    def map(self, event: EslEvent) -> list[PbxEvent]:
        """The port events one ESL event means (often none). Never raises on bad input."""
        handler = self._handlers.get(event.name)
        if handler is None:
            return []
        try:
            return handler(event)
        except MalformedEvent as exc:
            log.warning("ESL: ignored malformed event (%s)", exc)
            return []

    # Channels -------------------------------------------------------------------------------

    def _channel(self, event: EslEvent) -> Channel:
        channel = self.table.touch(_need(event, "Unique-ID"))
        if self.touched_during_resync is not None:
            self.touched_during_resync.add(channel.uuid)
        headers = event.headers
        if "Channel-Name" in headers:
            channel.name = headers["Channel-Name"]
        if "Call-Direction" in headers:
            channel.direction = headers["Call-Direction"]
        if "Caller-Context" in headers:
            channel.context = headers["Caller-Context"]
            channel.exten = headers.get("Caller-Destination-Number", channel.exten)
        if "Caller-Caller-ID-Number" in headers:
            channel.caller_num = headers["Caller-Caller-ID-Number"]
            channel.caller_name = headers.get("Caller-Caller-ID-Name", "")
        if "Channel-Call-State" in headers:
            channel.state = call_state(headers["Channel-Call-State"])
        for name in self.tracked:
            # Reported under the port's name (CC_DNIS), read under the dialplan's
            # (cc_entry_number) or whichever spelling set it.
            value = self.names.lookup(headers, name)
            if value is not None:
                channel.variables[name] = value
        return channel

    def _arrival(self, channel: Channel) -> list[PbxEvent]:
        if (
            channel.arrived
            or channel.direction != "inbound"
            or channel.context not in self.inbound_contexts
        ):
            return []
        channel.arrived = True
        return [
            CallArrived(
                call_id=channel.uuid,
                channel=channel.name,
                caller_num=channel.caller_num,
                caller_name=channel.caller_name,
                called_num=channel.exten,
                variables=dict(channel.variables),
            )
        ]

    def _create(self, event: EslEvent) -> list[PbxEvent]:
        channel = self._channel(event)
        for job_uuid, call_id in list(self.originates.items()):
            if call_id == channel.uuid:
                del self.originates[job_uuid]  # it exists: its own hang-up will tell the end
        # A leg a bridge creates names its caller: the agent's phone starts ringing.
        return self._arrival(channel) + self._ringing(event, channel)

    def _answer(self, event: EslEvent) -> list[PbxEvent]:
        channel = self._channel(event)
        events = self._arrival(channel)
        if not channel.answered:
            channel.answered = True
            events.append(CallAnswered(call_id=channel.uuid, channel=channel.name))
        return events

    def _park(self, event: EslEvent) -> list[PbxEvent]:
        channel = self._channel(event)
        channel.application = "park"
        return self._arrival(channel)

    # Applications: bridge (an agent rings), eavesdrop (a supervisor joins) --------------------

    def _execute(self, event: EslEvent) -> list[PbxEvent]:
        channel = self._channel(event)
        app = event.get("Application")
        channel.application = app
        events = self._arrival(channel)
        if app == "bridge":
            endpoint = self.connects.pop(channel.uuid, "") or dial_endpoint(
                event.get("Application-Data")
            )
            self._dials[channel.uuid] = _Dial(endpoint)
        elif app == "eavesdrop" and channel.uuid in self.spy_modes:
            target = event.get("Application-Data").strip()
            self._spying[channel.uuid] = target
            events.append(
                SpyStarted(
                    spy_call_id=channel.uuid,
                    target_call_id=target,
                    mode=self.spy_modes[channel.uuid],
                )
            )
        return events

    def _execute_complete(self, event: EslEvent) -> list[PbxEvent]:
        channel = self._channel(event)
        app = event.get("Application")
        if app == "bridge":
            if channel.application == "bridge":
                channel.application = ""  # no longer ringing (LiveCall.ringing)
            dial = self._dials.pop(channel.uuid, None)
            endpoint = dial.endpoint if dial is not None else self.connects.pop(channel.uuid, None)
            if endpoint is not None:  # still ringing: the bridge never happened
                status = dial_status(event)
                return [DialEnded(call_id=channel.uuid, endpoint=endpoint, status=status)]
        elif app == "eavesdrop":
            return self._spy_stopped(channel.uuid)
        return []

    def _originate(self, event: EslEvent) -> list[PbxEvent]:
        return self._ringing(event, self._channel(event))

    def _ringing(self, event: EslEvent, channel: Channel) -> list[PbxEvent]:
        caller = event.get("Other-Leg-Unique-ID")
        dial = self._dials.get(caller)
        if dial is None or dial.rung:
            return []
        dial.rung = True
        return [CallRinging(call_id=caller, channel=channel.name)]

    def _spy_stopped(self, spy_id: str) -> list[PbxEvent]:
        target = self._spying.pop(spy_id, None)
        if target is None:
            return []
        return [SpyStopped(spy_call_id=spy_id, target_call_id=target)]

    # Bridges ---------------------------------------------------------------------------------

    def _legs(self, event: EslEvent) -> tuple[str, str]:
        a = event.get("Bridge-A-Unique-ID") or _need(event, "Unique-ID")
        b = event.get("Bridge-B-Unique-ID") or _need(event, "Other-Leg-Unique-ID")
        return a, b

    def _bridge(self, event: EslEvent) -> list[PbxEvent]:
        self._channel(event)
        a, b = self._legs(event)
        events: list[PbxEvent] = []
        dial = self._dials.pop(a, None)
        # A ring asked for whose CHANNEL_EXECUTE fell into a link outage is answered all the same.
        endpoint = dial.endpoint if dial is not None else self.connects.pop(a, None)
        if endpoint is not None:
            events.append(DialEnded(call_id=a, endpoint=endpoint, status=DialStatus.ANSWER))
        for me, other in ((a, b), (b, a)):
            self.table.touch(me).bridged_with = other
        events.append(CallBridged(call_id=a, other_call_id=b))
        events.append(CallBridged(call_id=b, other_call_id=a))
        return events

    def _unbridge(self, event: EslEvent) -> list[PbxEvent]:
        self._channel(event)
        a, b = self._legs(event)
        events: list[PbxEvent] = []
        for me, other in ((a, b), (b, a)):
            channel = self.table.get(me)
            if channel is None:
                continue  # already hung up (FreeSWITCH sends UNBRIDGE after that leg's end)
            channel.bridged_with = None
            events.append(CallUnbridged(call_id=me, other_call_id=other))
        return events

    # Endings ---------------------------------------------------------------------------------

    def _hangup(self, event: EslEvent) -> list[PbxEvent]:
        uid = _need(event, "Unique-ID")
        name = event.get("Hangup-Cause") or "NONE"
        cause = HangupCause.from_freeswitch(name)
        events: list[PbxEvent] = self._spy_stopped(uid)
        dial = self._dials.pop(uid, None)
        asked = self.connects.pop(uid, None)
        # A ring whose end (or whose start too) fell into a link outage: the dialplan's record
        # of it rides on the hang-up (cc_ring_result, emptied by connect_agent before each ring).
        answered = event.get(f"variable_{RING_RESULT}").upper() == "ANSWER"
        if dial is not None:
            status = DialStatus.ANSWER if answered else DialStatus.CANCEL
            events.append(DialEnded(call_id=uid, endpoint=dial.endpoint, status=status))
        elif asked is not None and answered:
            events.append(DialEnded(call_id=uid, endpoint=asked, status=DialStatus.ANSWER))
        self.table.remove(uid)
        self.spy_modes.pop(uid, None)
        if self.hung_up_during_resync is not None:
            self.hung_up_during_resync.add(uid)
        events.append(CallHungUp(call_id=uid, cause=cause))
        return events

    def _background_job(self, event: EslEvent) -> list[PbxEvent]:
        call_id = self.originates.pop(event.get("Job-UUID"), None)
        if call_id is None or not event.body.strip().startswith("-ERR"):
            return []
        if self.table.get(call_id) is not None:
            return []  # the channel existed; its own hang-up reports the end
        self.spy_modes.pop(call_id, None)
        return [CallHungUp(call_id=call_id, cause=job_cause(event.body))]

    # Media and endpoints ---------------------------------------------------------------------

    def _dtmf(self, event: EslEvent) -> list[PbxEvent]:
        uid = _need(event, "Unique-ID")
        digit = _need(event, "DTMF-Digit")
        try:
            duration = int(event.get("DTMF-Duration") or 0) // _SAMPLES_PER_MS
        except ValueError:
            duration = 0
        return [DtmfReceived(call_id=uid, digit=digit, duration_ms=duration)]

    def _custom(self, event: EslEvent) -> list[PbxEvent]:
        subclass = event.subclass
        if subclass not in ("sofia::register", "sofia::unregister", "sofia::expire"):
            return []
        user = event.get("username") or event.get("from-user")
        if not user:
            raise MalformedEvent(f"{subclass} event without username")
        endpoint = f"user/{user}"
        if subclass == "sofia::register":
            match = _SIP_URI.search(event.get("contact"))
            contact = match.group(1) if match else event.get("contact")
            return [EndpointRegistered(endpoint=endpoint, contact=contact)]
        return [EndpointUnregistered(endpoint=endpoint)]
