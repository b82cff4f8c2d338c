"""AMI events -> ``pbx.port`` events. Pure: no I/O; feeds on panoramisk ``Message`` objects.

The mapper also keeps the :class:`ChannelTable` current, since commands need channel names and
resync needs to know which calls we believed alive. See docs/asterisk.md for the full table.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from panoramisk.message import Message

from pbx.asterisk.ami import header
from pbx.asterisk.channels import Channel, ChannelTable, call_state, caller_field, endpoint_of
from pbx.port import (
    CallAnswered,
    CallArrived,
    CallBridged,
    CallHungUp,
    CallRinging,
    CallState,
    CallUnbridged,
    DialEnded,
    DialStatus,
    DtmfReceived,
    EndpointReachability,
    EndpointRegistered,
    EndpointUnregistered,
    HangupCause,
    InvalidArgument,
    PbxEvent,
    SpyMode,
    SpyStarted,
    SpyStopped,
)

log = logging.getLogger(__name__)

# OriginateResponse "Reason" (an AST_CONTROL value) -> the Q.850 cause it amounts to.
_ORIGINATE_REASON: dict[str, int] = {"1": 16, "3": 19, "5": 17, "8": 34}

# DIALSTATUS values outside the port's enum: privacy screening and bad dial strings.
_DIAL_FALLBACK = DialStatus.CHANUNAVAIL


class MalformedEvent(ValueError):
    """An AMI event lacks a header the mapping needs (named in the message)."""


def _need(message: Message, name: str) -> str:
    value = header(message, name)
    if not value:
        raise MalformedEvent(f"{header(message, 'Event')} event without {name}")
    return value


def chan_variables(message: Message) -> dict[str, str]:
    """``ChanVariable: NAME=value`` headers (manager.conf ``channelvars``) as a dict."""
    raw = message.get("ChanVariable", [])
    items = raw if isinstance(raw, list) else [raw]
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = str(item).partition("=")
        if sep:
            out[name] = value
    return out


class EventMapper:
    """Turns AMI events into port events, one message at a time."""

    def __init__(
        self,
        table: ChannelTable,
        *,
        inbound_contexts: tuple[str, ...],
        tracked_variables: tuple[str, ...],
    ) -> None:
        self.table = table
        self.inbound_contexts = frozenset(inbound_contexts)
        self.tracked = frozenset(tracked_variables)
        # Spy call id -> mode, filled by the adapter's spy command (ChanSpyStart has no mode).
        self.spy_modes: dict[str, SpyMode] = {}
        # Originate ActionID -> the call id we chose; answered by OriginateResponse.
        self.originates: dict[str, str] = {}
        self._dials: dict[tuple[str, str], str] = {}
        # Hang-ups seen while a resync is in flight (the snapshot may still list them).
        self.hung_up_during_resync: set[str] | None = None
        self._handlers: Mapping[str, Callable[[Message], list[PbxEvent]]] = {
            "newchannel": self._newchannel,
            "newexten": self._newexten,
            "newstate": self._newstate,
            "newcallerid": self._newcallerid,
            "rename": self._rename,
            "varset": self._varset,
            "dialbegin": self._dialbegin,
            "dialend": self._dialend,
            "bridgeenter": self._bridgeenter,
            "bridgeleave": self._bridgeleave,
            "bridgedestroy": self._bridgedestroy,
            "hangup": self._hangup,
            "dtmfend": self._dtmfend,
            "contactstatus": self._contactstatus,
            "chanspystart": self._chanspystart,
            "chanspystop": self._chanspystop,
            "originateresponse": self._originateresponse,
        }

    @property
    def handled(self) -> frozenset[str]:
        """Lower-case names of the AMI events this mapper reads; it ignores every other."""
        return frozenset(self._handlers)

    def map(self, message: Message) -> list[PbxEvent]:
        """The port events one AMI event means (often none). Never raises on bad input."""
        handler = self._handlers.get(header(message, "Event").lower())
        if handler is None:
            return []
        try:
            return handler(message)
        except (MalformedEvent, InvalidArgument) as exc:
            log.warning("AMI: ignored malformed event (%s): %r", exc, message)
            return []

    # Channels -----------------------------------------------------------------------------

    def _channel(self, message: Message) -> Channel:
        channel = self.table.touch(_need(message, "Uniqueid"), header(message, "Channel"))
        if "ChannelState" in message:
            channel.state = call_state(header(message, "ChannelState"))
        if "Context" in message:
            channel.context = header(message, "Context")
            channel.exten = header(message, "Exten")
        if "CallerIDNum" in message:
            channel.caller_num = caller_field(header(message, "CallerIDNum"))
            channel.caller_name = caller_field(header(message, "CallerIDName"))
        for name, value in chan_variables(message).items():
            if name in self.tracked:
                channel.variables[name] = value
        return channel

    def _arrival(self, channel: Channel) -> list[PbxEvent]:
        if channel.arrived or channel.context not in self.inbound_contexts:
            return []
        channel.arrived = True
        return [
            CallArrived(
                call_id=channel.uniqueid,
                channel=channel.name,
                caller_num=channel.caller_num,
                caller_name=channel.caller_name,
                called_num=channel.exten,
                variables=dict(channel.variables),
            )
        ]

    def _newchannel(self, message: Message) -> list[PbxEvent]:
        _need(message, "Channel")
        channel = self._channel(message)
        for action_id, call_id in list(self.originates.items()):
            if call_id == channel.uniqueid:
                del self.originates[action_id]  # it exists: its own Hangup will tell the end
        return self._arrival(channel)

    def _newexten(self, message: Message) -> list[PbxEvent]:
        channel = self._channel(message)
        channel.application = header(message, "Application")
        # A call that reaches an inbound context by Goto (not as it was created) arrives now.
        return self._arrival(channel)

    def _newstate(self, message: Message) -> list[PbxEvent]:
        channel = self._channel(message)
        if channel.state is CallState.UP and not channel.answered:
            channel.answered = True
            return [CallAnswered(call_id=channel.uniqueid, channel=channel.name)]
        return []

    def _newcallerid(self, message: Message) -> list[PbxEvent]:
        self._channel(message)
        return []

    def _rename(self, message: Message) -> list[PbxEvent]:
        self.table.touch(_need(message, "Uniqueid"), _need(message, "Newname"))
        return []

    def _varset(self, message: Message) -> list[PbxEvent]:
        # Inherited variables are set as __NAME; the channel reports the name as written.
        name = header(message, "Variable").lstrip("_")
        # A global (Set(GLOBAL()), Setvar without a channel, a dialplan reload) comes with
        # Uniqueid "none": no channel to create, even when its name is a tracked one.
        if name in self.tracked and header(message, "Uniqueid") not in ("", "none"):
            channel = self._channel(message)
            channel.variables[name] = header(message, "Value")
        return []

    # Dialling -----------------------------------------------------------------------------

    def _dial_parties(self, message: Message) -> tuple[str, str, str]:
        dest_id = _need(message, "DestUniqueid")
        dest_channel = _need(message, "DestChannel")
        caller_id = header(message, "Uniqueid") or dest_id  # Originate dials with no caller
        return caller_id, dest_id, dest_channel

    def _dialbegin(self, message: Message) -> list[PbxEvent]:
        caller_id, dest_id, dest_channel = self._dial_parties(message)
        dest = self.table.touch(dest_id, dest_channel)
        if "DestChannelState" in message:
            dest.state = call_state(header(message, "DestChannelState"))
        tech = dest_channel.split("/", 1)[0]
        dial_string = header(message, "DialString")
        if not dial_string:
            endpoint = endpoint_of(dest_channel)
        elif dial_string.startswith(tech + "/"):
            endpoint = dial_string  # app_queue passes the whole interface
        else:
            endpoint = f"{tech}/{dial_string}"
        self._dials[(caller_id, dest_id)] = endpoint
        return [CallRinging(call_id=caller_id, channel=dest_channel)]

    def _dialend(self, message: Message) -> list[PbxEvent]:
        caller_id, dest_id, dest_channel = self._dial_parties(message)
        endpoint = self._dials.pop((caller_id, dest_id), None) or endpoint_of(dest_channel)
        raw = header(message, "DialStatus").upper()
        try:
            status = DialStatus(raw)
        except ValueError:
            log.info("AMI: DialStatus %r counted as %s", raw, _DIAL_FALLBACK.value)
            status = _DIAL_FALLBACK
        return [DialEnded(call_id=caller_id, endpoint=endpoint, status=status)]

    # Bridges ------------------------------------------------------------------------------

    def _bridgeenter(self, message: Message) -> list[PbxEvent]:
        uid = _need(message, "Uniqueid")
        bridge_id = _need(message, "BridgeUniqueid")
        self._channel(message)
        before = self.table.enter_bridge(bridge_id, uid)
        if not before:
            return []
        events: list[PbxEvent] = [
            CallBridged(call_id=uid, other_call_id=before[0], bridge_id=bridge_id)
        ]
        if len(before) == 1:
            # The first member had nobody to be bridged with until now.
            events.append(CallBridged(call_id=before[0], other_call_id=uid, bridge_id=bridge_id))
        return events

    def _bridgeleave(self, message: Message) -> list[PbxEvent]:
        uid = _need(message, "Uniqueid")
        bridge_id = _need(message, "BridgeUniqueid")
        staying = self.table.leave_bridge(bridge_id, uid)
        other = staying[0] if staying else ""
        return [CallUnbridged(call_id=uid, other_call_id=other, bridge_id=bridge_id)]

    def _bridgedestroy(self, message: Message) -> list[PbxEvent]:
        self.table.destroy_bridge(_need(message, "BridgeUniqueid"))
        return []

    # Endings ------------------------------------------------------------------------------

    def _hangup(self, message: Message) -> list[PbxEvent]:
        uid = _need(message, "Uniqueid")
        raw_cause = header(message, "Cause") or "0"
        try:
            cause = HangupCause.from_code(raw_cause, header(message, "Cause-txt") or None)
        except InvalidArgument:
            log.warning("AMI: Hangup of %s with unreadable Cause %r", uid, raw_cause)
            cause = HangupCause(0, header(message, "Cause-txt") or "Unknown")
        self.table.remove(uid)
        for key in [k for k in self._dials if uid in k]:
            del self._dials[key]
        self.spy_modes.pop(uid, None)
        if self.hung_up_during_resync is not None:
            self.hung_up_during_resync.add(uid)
        return [CallHungUp(call_id=uid, cause=cause)]

    def _originateresponse(self, message: Message) -> list[PbxEvent]:
        call_id = self.originates.pop(header(message, "ActionID"), None)
        if call_id is None or header(message, "Response") == "Success":
            return []
        if self.table.get(call_id) is not None:
            return []  # the channel existed; its Hangup event reports the end
        code = _ORIGINATE_REASON.get(header(message, "Reason"), 0)
        cause = HangupCause.from_code(code) if code else HangupCause(0, "Originate failed")
        return [CallHungUp(call_id=call_id, cause=cause)]

    # Media and endpoints ------------------------------------------------------------------

    def _dtmfend(self, message: Message) -> list[PbxEvent]:
        if header(message, "Direction") not in ("", "Received"):
            return []  # digits we played out, not the caller's
        digit = _need(message, "Digit")
        try:
            duration = int(header(message, "DurationMs") or 0)
        except ValueError:
            duration = 0
        return [DtmfReceived(call_id=_need(message, "Uniqueid"), digit=digit, duration_ms=duration)]

    def _contactstatus(self, message: Message) -> list[PbxEvent]:
        name = header(message, "EndpointName") or header(message, "AOR")
        if not name:
            raise MalformedEvent("ContactStatus event without EndpointName or AOR")
        endpoint = f"PJSIP/{name}"
        status = header(message, "ContactStatus")
        if status in ("Created", "NonQualified", "Updated"):
            return [EndpointRegistered(endpoint=endpoint, contact=header(message, "URI"))]
        if status == "Removed":
            return [EndpointUnregistered(endpoint=endpoint)]
        if status == "Reachable":
            rtt: float | None
            try:
                rtt = int(header(message, "RoundtripUsec")) / 1000.0
            except ValueError:
                rtt = None
            return [EndpointReachability(endpoint=endpoint, reachable=True, rtt_ms=rtt)]
        if status == "Unreachable":
            return [EndpointReachability(endpoint=endpoint, reachable=False)]
        return []

    def _chanspystart(self, message: Message) -> list[PbxEvent]:
        spy = _need(message, "SpyerUniqueid")
        target = _need(message, "SpyeeUniqueid")
        mode = self.spy_modes.get(spy, SpyMode.LISTEN)
        return [SpyStarted(spy_call_id=spy, target_call_id=target, mode=mode)]

    def _chanspystop(self, message: Message) -> list[PbxEvent]:
        spy = _need(message, "SpyerUniqueid")
        return [SpyStopped(spy_call_id=spy, target_call_id=header(message, "SpyeeUniqueid"))]
