"""``AsteriskPort``: the :class:`pbx.port.PbxPort` contract over Asterisk's AMI.

Calls are named by their Asterisk ``Uniqueid``. Commands become AMI actions (``commands``),
AMI events become port events (``events``), and after every login the adapter lists what is
alive (``resync``) so the ACD can re-adopt calls and learn of those that ended meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from panoramisk.message import Message

from pbx.asterisk import commands
from pbx.asterisk.ami import AmiConnection, header
from pbx.asterisk.channels import Channel, ChannelTable, channel_call
from pbx.asterisk.events import EventMapper
from pbx.asterisk.resync import (
    SERVED_VANISHED,
    VANISHED,
    listed_channels,
    live_calls,
    served_variable,
    vanished,
)
from pbx.asterisk.settings import AsteriskSettings
from pbx.link import LinkedPort
from pbx.port import (
    CallHungUp,
    CallState,
    DialEnded,
    DialStatus,
    InvalidArgument,
    LiveCall,
    NoSuchCall,
    PbxEvent,
    SpyMode,
    check_endpoint,
)

log = logging.getLogger(__name__)

# AMI events that settle (DialEnd) or end (Hangup) a ring the adapter asked for.
_DIAL_WATCH = frozenset({"dialend", "hangup"})


class AsteriskPort(LinkedPort[AsteriskSettings, AmiConnection]):
    """One Asterisk, over one supervised AMI connection."""

    session_kind = "AMI session"

    def __init__(self, settings: AsteriskSettings) -> None:
        self._table = ChannelTable()
        self._mapper = EventMapper(
            self._table,
            inbound_contexts=settings.inbound_contexts,
            tracked_variables=settings.tracked_variables,
        )
        link = AmiConnection(
            settings,
            on_event=self._on_event,
            on_up=self._on_up,
            on_down=self._on_down,
            events=self._mapper.handled | _DIAL_WATCH,
        )
        super().__init__(settings, link)

    @property
    def _ami(self) -> AmiConnection:
        # scripts/bench_acd.py reaches the AMI transport under this name.
        return self._link

    # AMI beyond the port ------------------------------------------------------------------

    @property
    def unmatched_answers(self) -> list[Message]:
        """AMI answers that matched no pending action (malformed actions get those)."""
        return list(self._link.unmatched)

    async def ping(self, *, timeout_s: float | None = None) -> float:
        """Round trip of an AMI Ping in seconds (a health check)."""
        return await self._link.ping(timeout_s=self._timeout(timeout_s))

    async def send_action(
        self,
        action: Mapping[str, str],
        *,
        as_list: bool = False,
        timeout_s: float | None = None,
    ) -> Any:
        """Send an AMI action the port has no command for (e.g. ``QueueStatus``); returns the
        answer (a list of messages when ``as_list``). Values are checked like any command's."""
        clean = {
            commands.clean("header", str(key), allow_comma=False): commands.clean(str(key), value)
            for key, value in action.items()
        }
        return await self._link.request(clean, timeout_s=self._timeout(timeout_s), as_list=as_list)

    # Events -------------------------------------------------------------------------------

    def _on_event(self, message: Message) -> None:
        kind = header(message, "Event").lower()
        caller = self._table.get(header(message, "Uniqueid")) if kind in _DIAL_WATCH else None
        if caller is not None and kind == "dialend":
            caller.dial_pending = False
        elif caller is not None and caller.dial_pending and caller.agent_endpoint:
            # A caller we rang an agent for hangs up and we never saw that ring end: its
            # DialEnd fell into an outage. Read the served mark before reporting the end.
            events = self._mapper.map(message)
            self._spawn(self._publish_after_mark(caller, events))
            return
        for event in self._mapper.map(message):
            self._hub.publish(event)

    async def _publish_after_mark(self, caller: Channel, events: Sequence[PbxEvent]) -> None:
        if caller.uniqueid in await self._served([caller]):
            self._hub.publish(
                DialEnded(
                    call_id=caller.uniqueid,
                    endpoint=caller.agent_endpoint,
                    status=DialStatus.ANSWER,
                )
            )
        for event in events:
            self._hub.publish(event)

    def _on_down(self, reason: str) -> None:
        self._table.generation += 1
        self._link_down(reason)

    async def _on_up(self) -> None:
        self._link_up()
        await self._resync()

    async def _resync(self) -> None:
        ended: set[str] = set()
        self._mapper.hung_up_during_resync = ended
        try:
            calls = await self._collect_live_calls(None)
        finally:
            self._mapper.hung_up_during_resync = None
        calls = [call for call in calls if call.call_id not in ended]
        listed = {call.call_id for call in calls}
        gone = [
            self._table.get(call_id) for call_id in vanished(self._table.stale_ids(), listed, ended)
        ]
        served = await self._served(ch for ch in gone if ch is not None)
        for channel in gone:
            if channel is None:
                continue
            self._table.remove(channel.uniqueid)
            if channel.uniqueid in served:
                # The DialEnd was lost with the link; the dialplan's mark was not.
                self._hub.publish(
                    DialEnded(
                        call_id=channel.uniqueid,
                        endpoint=channel.agent_endpoint,
                        status=DialStatus.ANSWER,
                    )
                )
                self._hub.publish(CallHungUp(call_id=channel.uniqueid, cause=SERVED_VANISHED))
            else:
                self._hub.publish(CallHungUp(call_id=channel.uniqueid, cause=VANISHED))
        # Channels seen through this link's events but created after the list was taken.
        calls.extend(channel_call(ch) for ch in self._table if ch.uniqueid not in listed)
        inbound = set(self.settings.inbound_contexts)
        for call in calls:
            channel = self._table.touch(call.call_id, call.channel)
            channel.state = call.state
            channel.context, channel.exten = call.context, call.exten
            channel.caller_num, channel.caller_name = call.caller_num, call.caller_name
            channel.application = call.application
            channel.variables.update(call.variables)
            channel.answered = channel.answered or call.state is CallState.UP
            # Listed calls are adopted through Resynced; one still before our dialplan (no
            # tracked variable, not in an inbound context) will arrive when it gets there.
            channel.arrived = channel.arrived or call.context in inbound or bool(call.variables)
        # A hang-up held back to read its served mark must be published before the list
        # that no longer shows the call, or the call would read as vanished.
        await asyncio.gather(*self._background, return_exceptions=True)
        self._resynced(tuple(calls))

    async def served_by(
        self, endpoints: Sequence[str], *, timeout_s: float | None = None
    ) -> dict[str, str]:
        timeout = self._timeout(timeout_s)
        wanted = [check_endpoint(e) for e in dict.fromkeys(endpoints)]
        answers = await asyncio.gather(
            *(
                self._link.request(
                    commands.get_global(served_variable(endpoint)), timeout_s=timeout
                )
                for endpoint in wanted
            ),
            return_exceptions=True,
        )
        marks: dict[str, str] = {}
        for endpoint, answer in zip(wanted, answers, strict=True):
            if isinstance(answer, BaseException):
                log.warning("AMI: cannot read the served mark of %s: %s", endpoint, answer)
            elif value := header(answer, "Value"):
                marks[endpoint] = value
        return marks

    async def _served(self, channels: Iterable[Channel]) -> set[str]:
        """Which of these vanished callers an agent answered (the dialplan's mark); any
        failure to read a mark leaves that call unknown, never served by guess."""
        rang = [ch for ch in channels if ch.agent_endpoint]
        if not rang:
            return set()
        marks = await self.served_by([ch.agent_endpoint for ch in rang])
        return {ch.uniqueid for ch in rang if marks.get(ch.agent_endpoint) == ch.uniqueid}

    async def _collect_live_calls(self, timeout_s: float | None) -> list[LiveCall]:
        answer = await self._link.request(
            commands.core_show_channels(), timeout_s=timeout_s, as_list=True
        )
        listed = listed_channels(answer if isinstance(answer, list) else [answer])
        wanted = [
            (item.call.call_id, name, commands.getvar(item.call.channel, name))
            for item in listed
            for name in self.settings.tracked_variables
            if name not in item.call.variables
        ]
        # Pipelined: every Getvar is on the wire before the first answer is awaited.
        answers = await asyncio.gather(
            *(
                self._link.request(action, timeout_s=timeout_s, call_id=call_id)
                for call_id, _, action in wanted
            ),
            return_exceptions=True,
        )
        variables: dict[str, dict[str, str]] = {}
        for (call_id, name, _), result in zip(wanted, answers, strict=True):
            if isinstance(result, NoSuchCall):
                continue  # hung up while we were asking; its Hangup event follows
            if isinstance(result, BaseException):
                raise result
            value = header(result, "Value")
            if value:
                variables.setdefault(call_id, {})[name] = value
        return live_calls(listed, variables)

    # Commands -----------------------------------------------------------------------------

    def _channel(self, call_id: str) -> str:
        if not isinstance(call_id, str) or not call_id or call_id != call_id.strip():
            raise InvalidArgument("call_id", call_id, "a non-empty Asterisk Uniqueid")
        # Asterisk also finds a channel by its Uniqueid when we have not seen its name.
        return self._table.name_for(call_id) or commands.clean("call_id", call_id)

    async def _send(
        self, actions: Sequence[dict[str, Any]], call_id: str | None, timeout_s: float | None
    ) -> list[Any]:
        """Send actions back to back (AMI runs them in order) and raise the first failure.

        The actions are on the socket once this coroutine has run its first step: a caller
        that does not wait for the answer still knows the command went out in order."""
        timeout = self._timeout(timeout_s)
        return await self._link.request_all(list(actions), timeout_s=timeout, call_id=call_id)

    async def hold(
        self, call_id: str, *, moh_class: str = "default", timeout_s: float | None = None
    ) -> None:
        channel = self._channel(call_id)
        commands.clean("moh_class", moh_class, allow_comma=False)
        actions = [
            commands.setvar(channel, "CC_MOH_CLASS", moh_class),
            commands.redirect(channel, self.settings.hold_context, self.settings.hold_exten),
        ]
        await self._send(actions, call_id, timeout_s)

    async def connect_agent(
        self,
        call_id: str,
        endpoint: str,
        *,
        ring_timeout: float,
        caller_id: str | None = None,
        timeout_s: float | None = None,
    ) -> None:
        channel = self._channel(call_id)
        check_endpoint(endpoint)
        variables = {
            "CC_AGENT_ENDPOINT": endpoint,
            "CC_RING_TIMEOUT": commands.ring_seconds(ring_timeout),
            # Always set, so a caller id from an earlier attempt does not stick.
            "CC_CALLER_ID": commands.clean("caller_id", caller_id or "", allow_comma=False),
            # Cleared so that [cc-connect]'s record of this ring starts empty (read after a
            # link loss to learn how a ring whose DialEnd was missed ended).
            "CC_RING_RESULT": "",
        }
        actions = [commands.setvar(channel, k, v) for k, v in variables.items()]
        actions.append(
            commands.redirect(channel, self.settings.connect_context, self.settings.connect_exten)
        )
        known = self._table.get(call_id)
        if known is not None:
            # Set before sending: the link may drop before the answer comes back.
            known.agent_endpoint, known.dial_pending = endpoint, True
        await self._send(actions, call_id, timeout_s)

    async def redirect(
        self,
        call_id: str,
        context: str,
        exten: str,
        priority: int = 1,
        *,
        timeout_s: float | None = None,
    ) -> None:
        action = commands.redirect(self._channel(call_id), context, exten, priority)
        await self._send([action], call_id, timeout_s)

    async def hangup(
        self, call_id: str, *, cause: int = 16, timeout_s: float | None = None
    ) -> None:
        await self._send([commands.hangup(self._channel(call_id), cause)], call_id, timeout_s)

    async def originate(
        self,
        endpoint: str,
        context: str,
        exten: str,
        priority: int = 1,
        *,
        caller_id: str | None = None,
        variables: Mapping[str, str] | None = None,
        ring_timeout: float = 30.0,
        timeout_s: float | None = None,
    ) -> str:
        call_id = str(uuid.uuid4())
        action = commands.originate(
            endpoint=endpoint,
            context=context,
            exten=exten,
            priority=priority,
            channel_id=call_id,
            ring_timeout=ring_timeout,
            caller_id=caller_id,
            variables=variables,
        )
        await self._originate(action, call_id, timeout_s)
        return call_id

    async def _originate(
        self, action: dict[str, Any], call_id: str, timeout_s: float | None
    ) -> None:
        # Our own ActionID lets the later OriginateResponse event name the call it is about.
        action_id = f"cc-originate-{call_id}"
        action["ActionID"] = action_id
        self._mapper.originates[action_id] = call_id
        try:
            await self._send([action], None, timeout_s)
        except BaseException:
            self._mapper.originates.pop(action_id, None)
            raise

    async def spy(
        self,
        supervisor_endpoint: str,
        target_call_id: str,
        mode: SpyMode,
        *,
        timeout_s: float | None = None,
    ) -> str:
        if not isinstance(mode, SpyMode):
            raise InvalidArgument("mode", mode, "a SpyMode (listen, whisper, barge)")
        self._channel(target_call_id)
        target = self._table.name_for(target_call_id)
        if target is None:
            # ChanSpy needs the channel name; a bare Uniqueid does not match it.
            raise NoSuchCall(target_call_id, "not among the channels this adapter has seen")
        spy_id = str(uuid.uuid4())
        action = commands.originate(
            endpoint=supervisor_endpoint,
            context=self.settings.spy_context,
            exten=self.settings.spy_exten,
            priority=1,
            channel_id=spy_id,
            ring_timeout=30.0,
            variables={
                "CC_SPY_TARGET": target,
                "CC_SPY_OPTIONS": commands.SPY_OPTIONS[mode],
                "CC_SPY_MODE": mode.value,
            },
        )
        self._mapper.spy_modes[spy_id] = mode
        try:
            await self._originate(action, spy_id, timeout_s)
        except BaseException:
            self._mapper.spy_modes.pop(spy_id, None)
            raise
        return spy_id

    async def start_recording(
        self, call_id: str, filename: str, *, timeout_s: float | None = None
    ) -> None:
        action = commands.mixmonitor(self._channel(call_id), filename)
        await self._send([action], call_id, timeout_s)

    async def stop_recording(self, call_id: str, *, timeout_s: float | None = None) -> None:
        await self._send([commands.stop_mixmonitor(self._channel(call_id))], call_id, timeout_s)

    async def set_variable(
        self, call_id: str, name: str, value: str, *, timeout_s: float | None = None
    ) -> None:
        await self._send([commands.setvar(self._channel(call_id), name, value)], call_id, timeout_s)

    async def get_variable(
        self, call_id: str, name: str, *, timeout_s: float | None = None
    ) -> str | None:
        """AMI answers an unset variable with an empty ``Value``, so ``""`` reads as ``None``."""
        action = commands.getvar(self._channel(call_id), name)
        (answer,) = await self._send([action], call_id, timeout_s)
        return header(answer, "Value") or None

    async def list_live_calls(self, *, timeout_s: float | None = None) -> list[LiveCall]:
        return await self._collect_live_calls(self._timeout(timeout_s))
