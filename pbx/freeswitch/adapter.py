"""``FreeSwitchPort``: the :class:`pbx.port.PbxPort` contract over FreeSWITCH's event socket.

Calls are named by their FreeSWITCH UUID. Commands become ``bgapi`` jobs correlated by our own
Job-UUID (``commands``), events become port events (``events``), and after every connect the
adapter lists what is alive (``resync``) so the ACD can re-adopt calls and learn of those that
ended meanwhile. The socket itself lives in a gevent thread (``connection``, ``bridge``).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace

from pbx.freeswitch import commands
from pbx.freeswitch.channels import ChannelTable
from pbx.freeswitch.connection import EslLink
from pbx.freeswitch.events import RING_RESULT, SERVED_PREFIX, EventMapper
from pbx.freeswitch.protocol import EslEvent
from pbx.freeswitch.resync import (
    SERVED_VANISHED,
    VANISHED,
    bridged_pairs,
    listed_channels,
    merge,
)
from pbx.freeswitch.settings import FreeSwitchSettings
from pbx.freeswitch.variables import VariableNames
from pbx.link import LinkedPort
from pbx.port import (
    CallHungUp,
    CallState,
    CommandTimeout,
    DialEnded,
    DialStatus,
    InvalidArgument,
    LiveCall,
    NotConnected,
    PbxError,
    SpyMode,
    check_endpoint,
)

log = logging.getLogger(__name__)


class FreeSwitchPort(LinkedPort[FreeSwitchSettings, EslLink]):
    """One FreeSWITCH, over one supervised inbound event socket."""

    session_kind = "event socket session"

    def __init__(self, settings: FreeSwitchSettings) -> None:
        self._table = ChannelTable()
        self.names = VariableNames(settings.variable_aliases)
        self._mapper = EventMapper(
            self._table,
            inbound_contexts=settings.inbound_contexts,
            tracked_variables=settings.tracked_variables,
            names=self.names,
        )
        link = EslLink(settings, on_event=self._on_event, on_up=self._on_up, on_down=self._on_down)
        super().__init__(settings, link)

    # FreeSWITCH beyond the port --------------------------------------------------------------

    async def api(self, command: str, *, timeout_s: float | None = None) -> str:
        """Run an API command the port has no method for (``status``, ``sofia status``) as a
        background job and return FreeSWITCH's answer text."""
        commands.text("command", command)
        return await self._link.bgapi(command, self._timeout(timeout_s))

    # Events ----------------------------------------------------------------------------------

    def _on_event(self, event: EslEvent) -> None:
        for mapped in self._mapper.map(event):
            self._hub.publish(mapped)

    def _on_down(self, reason: str) -> None:
        self._table.generation += 1
        self._link_down(reason)

    def _on_up(self) -> None:
        self._link_up()
        self._spawn(self._resync_guarded())

    async def _resync_guarded(self) -> None:
        try:
            await self._resync()
        except PbxError as exc:
            # The link failed mid-resync: the next connect resyncs again. Anything else is a
            # real answer we could not read: drop the link so the resync is retried.
            log.warning("ESL: resync failed: %s", exc)
            if self._link.connected:
                self._link.drop(f"resync failed: {exc}")

    async def _resync(self) -> None:
        ended: set[str] = set()
        touched: set[str] = set()
        self._mapper.hung_up_during_resync = ended
        self._mapper.touched_during_resync = touched
        try:
            calls, gone = await self._collect(self.settings.command_timeout)
        finally:
            self._mapper.hung_up_during_resync = None
            self._mapper.touched_during_resync = None
        calls = [call for call in calls if call.call_id not in ended]
        vanished = [c for c in gone if self._table.remove(c) is not None and c not in ended]
        served = await self._served(vanished, self.settings.command_timeout)
        for call_id in vanished:
            endpoint = self._mapper.end_dial(call_id)
            if endpoint is not None and call_id in served:
                # The bridge events were lost with the link; the dialplan's mark was not.
                self._hub.publish(
                    DialEnded(call_id=call_id, endpoint=endpoint, status=DialStatus.ANSWER)
                )
                self._hub.publish(CallHungUp(call_id=call_id, cause=SERVED_VANISHED))
            else:
                self._hub.publish(CallHungUp(call_id=call_id, cause=VANISHED))
        for call in calls:
            if call.bridged_with:
                # Bridged: whatever ring was under way is over (the ACD learns it from the list).
                self._mapper.end_dial(call.call_id)
        listed = {call.call_id for call in calls}
        # Channels this link's events announced while the list was being taken.
        calls.extend(ch.live_call() for ch in self._table if ch.uuid not in listed)
        inbound = set(self.settings.inbound_contexts)
        adopted: list[LiveCall] = []
        for call in calls:
            channel = self._table.touch(call.call_id)
            channel.variables.update(call.variables)
            channel.bridged_with = channel.bridged_with or call.bridged_with
            if call.call_id in touched:
                # Events read while the list was taken are newer than the list (a transfer to
                # hold must not be undone by the row `show channels` had before it).
                adopted.append(replace(channel.live_call(), duration_s=call.duration_s))
            else:
                channel.name = call.channel or channel.name
                channel.state = call.state
                channel.context, channel.exten = call.context, call.exten
                channel.caller_num, channel.caller_name = call.caller_num, call.caller_name
                channel.application = call.application or channel.application
                adopted.append(call)
            channel.answered = channel.answered or channel.state is CallState.UP
            # Listed calls are adopted through Resynced; one still before our dialplan arrives
            # when it gets there.
            channel.arrived = (
                channel.arrived or channel.context in inbound or bool(channel.variables)
            )
        self._link.mark_healthy()
        self._resynced(tuple(adopted))

    async def _collect(self, timeout_s: float) -> tuple[list[LiveCall], set[str]]:
        """Live calls FreeSWITCH confirms, and the remembered or listed ones it says are gone."""
        now = time.time()
        channels_answer, bridged_answer = await asyncio.gather(
            self._link.bgapi(commands.show_channels(), timeout_s),
            self._link.bgapi(commands.show_bridged_calls(), timeout_s),
        )
        listed = listed_channels(channels_answer, now)
        listed_ids = {call.call_id for call in listed}
        remembered = [ch.live_call() for ch in self._table if ch.uuid not in listed_ids]
        candidates = listed + remembered
        probes = await asyncio.gather(*(self._probe(c.call_id, timeout_s) for c in candidates))
        alive = {c.call_id: ok for c, (ok, _) in zip(candidates, probes, strict=True)}
        variables = {c.call_id: v for c, (_, v) in zip(candidates, probes, strict=True)}
        gone = {call_id for call_id, ok in alive.items() if not ok}
        return merge(candidates, alive, variables, bridged_pairs(bridged_answer)), gone

    async def served_by(
        self, endpoints: Sequence[str], *, timeout_s: float | None = None
    ) -> dict[str, str]:
        timeout = self._timeout(timeout_s)
        wanted = [check_endpoint(e) for e in dict.fromkeys(endpoints)]
        answers = await asyncio.gather(
            *(
                self._link.bgapi(f"global_getvar {SERVED_PREFIX}{endpoint}", timeout)
                for endpoint in wanted
            ),
            return_exceptions=True,
        )
        marks: dict[str, str] = {}
        for endpoint, answer in zip(wanted, answers, strict=True):
            if isinstance(answer, BaseException):
                log.warning("ESL: cannot read the served mark of %s: %s", endpoint, answer)
            elif (value := answer.strip()) and not value.startswith("-ERR"):
                marks[endpoint] = value
        return marks

    async def _served(self, call_ids: list[str], timeout_s: float) -> set[str]:
        """Which of these vanished callers, rung for an agent, that agent answered (the
        dialplan's served mark names them); a mark that cannot be read counts as not served."""
        rung = [(c, e) for c in call_ids if (e := self._mapper.pending_dial(c)) is not None]
        if not rung:
            return set()
        marks = await self.served_by([e for _, e in rung], timeout_s=timeout_s)
        return {call_id for call_id, endpoint in rung if marks.get(endpoint) == call_id}

    async def _probe(self, call_id: str, timeout_s: float) -> tuple[bool, dict[str, str]]:
        """Whether the channel exists, and its tracked variables (``uuid_getvar`` answers
        ``-ERR No such channel!`` for a gone channel, so it doubles as the existence check)."""
        tracked = self.settings.tracked_variables
        if not tracked:
            answer = await self._link.bgapi(commands.exists(call_id), timeout_s)
            return answer.strip() == "true", {}
        lines = [commands.getvar(call_id, self.names.to_freeswitch(name)) for name in tracked]
        answers = await asyncio.gather(*(self._link.bgapi(line, timeout_s) for line in lines))
        values: dict[str, str] = {}
        for name, answer in zip(tracked, answers, strict=True):
            text = answer.strip()
            if text.startswith("-ERR"):
                return False, {}
            if text and text != commands.UNSET:
                values[name] = text
        return True, values

    # Commands --------------------------------------------------------------------------------

    async def _job(self, command: str, call_id: str | None, timeout_s: float | None) -> str:
        """Run one API command as a background job; ``-ERR`` answers become typed errors."""
        answer = await self._link.bgapi(command, self._timeout(timeout_s))
        return commands.check_answer(answer, command.split(" ", 1)[0], call_id)

    async def hold(
        self, call_id: str, *, moh_class: str = "default", timeout_s: float | None = None
    ) -> None:
        uid = commands.call_uuid(call_id)
        commands.word("moh_class", moh_class)
        s = self.settings
        setvar = commands.setvar(uid, "cc_moh_class", moh_class)
        # Set before the transfer runs, without a round trip in between (see connect_agent).
        (answer,), transferred = await self._link.api_then_bgapi(
            [setvar],
            commands.transfer(uid, s.hold_context, s.hold_exten, s.dialplan),
            self._timeout(timeout_s),
        )
        commands.check_answer(answer, "uuid_setvar", uid)
        commands.check_answer(transferred, "uuid_transfer", uid)

    async def connect_agent(
        self,
        call_id: str,
        endpoint: str,
        *,
        ring_timeout: float,
        caller_id: str | None = None,
        timeout_s: float | None = None,
    ) -> None:
        uid = commands.call_uuid(call_id)
        check_endpoint(endpoint)
        variables = {
            "cc_agent_endpoint": endpoint,
            "cc_ring_timeout": commands.ring_seconds(ring_timeout),
            # Always set, so a caller id from an earlier attempt does not stick.
            "cc_caller_id": caller_id or "",
            # The dialplan records this ring's outcome here; an earlier ring's must not be read
            # for it (after a link outage the ACD asks for it).
            RING_RESULT: "",
        }
        setvars = commands.setvars(uid, variables)
        s = self.settings
        transfer = commands.transfer(uid, s.connect_context, s.connect_exten, s.dialplan)
        # The variables go as `api` commands and the transfer as a `bgapi` job written right
        # behind them: FreeSWITCH runs an `api` command before it reads the next one, while a
        # job runs on its own thread, so the transfer (what rings the agent) starts once the
        # variables are set and leaves without waiting for their answers.
        self._mapper.connects[uid] = endpoint
        try:
            answers, answer = await self._link.api_then_bgapi(
                setvars, transfer, self._timeout(timeout_s)
            )
        except (NotConnected, CommandTimeout):
            # The transfer may have been carried out with its answer lost: keep the ring
            # asked for, so its events or the caller's hang-up still tell how it ended.
            raise
        except BaseException:
            self._mapper.connects.pop(uid, None)
            raise
        transferred = not answer.strip().startswith("-ERR")
        try:
            for line, text in zip(setvars, answers, strict=True):
                commands.check_answer(text, line.split(" ", 1)[0], uid)
            commands.check_answer(answer, "uuid_transfer", uid)
        except PbxError:
            if transferred:
                # Only a refusal other than "no such channel" (a channel that is gone takes
                # no transfer either) gets here: the ring is under way all the same.
                log.error("ESL: %s transferred to ring %s, its variables refused", uid, endpoint)
            else:
                self._mapper.connects.pop(uid, None)
            raise

    async def redirect(
        self,
        call_id: str,
        context: str,
        exten: str,
        priority: int = 1,
        *,
        timeout_s: float | None = None,
    ) -> None:
        command = commands.transfer(call_id, context, exten, self.settings.dialplan, priority)
        await self._job(command, call_id, timeout_s)

    async def hangup(
        self, call_id: str, *, cause: int = 16, timeout_s: float | None = None
    ) -> None:
        await self._job(commands.kill(call_id, cause), call_id, timeout_s)

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
        line, call_id = commands.originate(
            endpoint=endpoint,
            context=context,
            exten=exten,
            dialplan=self.settings.dialplan,
            priority=priority,
            ring_timeout=ring_timeout,
            caller_id=caller_id,
            variables=variables,
        )
        await self._originate(line, call_id, timeout_s)
        return call_id

    async def _originate(self, line: str, call_id: str, timeout_s: float | None) -> None:
        # originate blocks until answered, so only FreeSWITCH's acceptance is awaited; a later
        # failure arrives as the job's BACKGROUND_JOB (the mapper turns it into CallHungUp).
        job_uuid = str(uuid.uuid4())
        self._mapper.originates[job_uuid] = call_id
        try:
            answer = await self._link.bgapi(
                line, self._timeout(timeout_s), wait=False, job_uuid=job_uuid
            )
            commands.check_answer(answer, "originate")
        except BaseException:
            self._mapper.originates.pop(job_uuid, None)
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
        target = commands.call_uuid(target_call_id)
        known = self._table.get(target)
        if (
            mode is not SpyMode.LISTEN
            and known is not None
            and known.application == "park"
            and known.bridged_with is None
        ):
            # Whisper audio is mixed into what the target sends; a parked call sends nothing.
            raise PbxError(f"cannot {mode.value} to {target}: the call is parked, not bridged")
        s = self.settings
        line, spy_id = commands.originate(
            endpoint=supervisor_endpoint,
            context=s.spy_context,
            exten=s.spy_extension(mode.value, target),
            dialplan=s.dialplan,
            ring_timeout=30.0,
            variables={
                "cc_spy_target": target,
                "cc_spy_mode": mode.value,
                **commands.SPY_VARIABLES[mode],
            },
        )
        self._mapper.spy_modes[spy_id] = mode
        try:
            await self._originate(line, spy_id, timeout_s)
        except BaseException:
            self._mapper.spy_modes.pop(spy_id, None)
            raise
        return spy_id

    async def start_recording(
        self, call_id: str, filename: str, *, timeout_s: float | None = None
    ) -> None:
        await self._job(commands.record_start(call_id, filename), call_id, timeout_s)

    async def stop_recording(self, call_id: str, *, timeout_s: float | None = None) -> None:
        await self._job(commands.record_stop(call_id), call_id, timeout_s)

    async def set_variable(
        self, call_id: str, name: str, value: str, *, timeout_s: float | None = None
    ) -> None:
        """``name`` in the port's spelling (``CC_INTERACTION_ID``); set under the dialplan's."""
        fs_name = self.names.to_freeswitch(name)
        await self._job(commands.setvar(call_id, fs_name, value), call_id, timeout_s)

    async def get_variable(
        self, call_id: str, name: str, *, timeout_s: float | None = None
    ) -> str | None:
        """FreeSWITCH answers ``_undef_`` for an unset variable; that reads as ``None``."""
        fs_name = self.names.to_freeswitch(name)
        answer = await self._job(commands.getvar(call_id, fs_name), call_id, timeout_s)
        return None if answer in ("", commands.UNSET) else answer

    async def bridge(
        self, call_id: str, other_call_id: str, *, timeout_s: float | None = None
    ) -> None:
        """Bridge two calls already up (``uuid_bridge``); FreeSWITCH only, not in the port."""
        await self._job(commands.bridge(call_id, other_call_id), call_id, timeout_s)

    async def broadcast(
        self, call_id: str, path: str, *, leg: str = "aleg", timeout_s: float | None = None
    ) -> None:
        """Play a file to a call wherever it is (``uuid_broadcast``), e.g. a position
        announcement to a held caller; FreeSWITCH only, not in the port."""
        await self._job(commands.broadcast(call_id, path, leg), call_id, timeout_s)

    async def list_live_calls(self, *, timeout_s: float | None = None) -> list[LiveCall]:
        calls, _ = await self._collect(self._timeout(timeout_s))
        return calls
