"""Callback requests: a caller asked to be called back; the request waits in a queue like a
call, and when an agent is picked the ACD rings the agent, then the customer, and bridges.

A request is an ordinary voice interaction (attribute ``kind: callback``) whose PBX call id
is virtual (``callback-...``): there is no call while it waits. :class:`CallbackPort` sits
between the ACD and the real PBX port and stands in for that call, so offers, no-answer
rules, wrap-up and reports treat a callback exactly like a waiting caller:

* ``connect_agent`` on a virtual call originates a call to the agent's phone into the
  dialplan's ``cc-callback`` context (Asterisk's ``[cc-callback]``, the FreeSWITCH XML
  context of the same name), which dials the customer once the agent answers;
* the agent leg's events come back under the virtual call id: the agent's answer (Asterisk
  reports the originate's ring as a ``DialEnded``, FreeSWITCH only answers the channel) or
  the leg's end before an answer is the offer's outcome, then its hang-up ends the call;
* the customer's ring (the ``DialEnded`` of the dialplan's Dial / bridge on the agent leg)
  is the attempt's outcome: answered, or not reached (no answer, busy, unreachable) and,
  within ``max_attempts``, a new request for the same customer queued ``retry_after``
  seconds later, arrival time kept;
* a resync lists the waiting requests as live calls, so they are not taken for vanished.

The agent is rung first on purpose: a customer who answers must hear an agent, not silence or
music (regulators count such a call as abandoned), and the agent's ring then goes through
the same offer, answer and no-answer handling as any call. The price is the agent waiting
while the customer's phone rings (``callback.ring_timeout``).

Requests survive a restart (SIGKILL too): each is an open interaction in the store from the
moment it is asked for (a retry from the moment the attempt before it failed, with
``retry_at``). A starting port loads the open ones (:meth:`CallbackPort.load_open`); the
first resync judges each against the PBX's live calls (:func:`judge`) and takes it back
before the ACD adopts calls, arrival, number, queue, routing and attempt kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import logging
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cc_core.acd.adoption import routing_choice
from cc_core.acd.lifecycle import FROM_STORE, CallRecord, Stage
from cc_core.acd.port_wrapper import PortWrapper
from cc_core.config.acd_file import CallbackSettings
from cc_core.domain import ChannelKind, Interaction, SkillRequirement
from cc_core.logs import log_event
from cc_core.store.models import Interaction as InteractionRow
from cc_core.store.models import InteractionEvent
from cc_core.store.repos.callbacks import OpenCallbacks
from pbx.port import (
    CallAnswered,
    CallEvent,
    CallHungUp,
    CallState,
    DialEnded,
    DialStatus,
    EventHub,
    EventSubscription,
    HangupKind,
    LiveCall,
    PbxError,
    PbxEvent,
    PbxPort,
    Resynced,
)

if TYPE_CHECKING:
    from cc_core.acd.service import AcdService

log = logging.getLogger(__name__)

CALL_PREFIX = "callback-"
CONTEXT = "cc-callback"
TAG = "CC_INTERACTION_ID"
# What a customer number may look like once the script's template is filled in.
NUMBER = re.compile(r"\+?[0-9]{3,20}")


class Phase(enum.Enum):
    WAITING = "waiting"  # in the queue (or back there after the agent did not answer)
    RINGING_AGENT = "ringing_agent"
    RINGING_CUSTOMER = "ringing_customer"  # the agent answered; the customer is being dialled
    TALKING = "talking"
    NOT_REACHED = "not_reached"  # the customer's ring ended unanswered; the leg ends next
    DONE = "done"


class Result(enum.Enum):
    """How one attempt to reach the customer ended (the ``callback_result`` event)."""

    ANSWERED = "answered"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    UNREACHABLE = "unreachable"
    AGENT_LEFT = "agent_left"  # the agent hung up before the customer answered


_BY_STATUS = {
    DialStatus.ANSWER: Result.ANSWERED,
    DialStatus.NOANSWER: Result.NO_ANSWER,
    DialStatus.BUSY: Result.BUSY,
    DialStatus.CHANUNAVAIL: Result.UNREACHABLE,
    DialStatus.CONGESTION: Result.UNREACHABLE,
    DialStatus.CANCEL: Result.AGENT_LEFT,
}


@dataclass(slots=True)
class Callback:
    """One request (one attempt) while the ACD handles it."""

    interaction_id: str
    call_id: str  # virtual: CALL_PREFIX + a random hex id
    number: str
    queue: str
    requested_at: float  # when the caller asked; every retry keeps it as its arrival
    attempt: int
    first_interaction: str  # the IVR call that asked for it
    language: str | None = None
    retry_at: float | None = None  # a retry: queued at this time, not before
    phase: Phase = Phase.WAITING
    leg: str | None = None  # the call to the agent's phone
    agent_endpoint: str = ""
    result: Result | None = None
    variables: dict[str, str] = field(default_factory=dict)
    priority: float | None = None  # None: the queue's
    skills: dict[str, int] = field(default_factory=dict)  # besides the queue's, if chosen

    @property
    def attributes(self) -> dict[str, Any]:
        """The interaction's attributes (the store's record of the request)."""
        found: dict[str, Any] = {
            "kind": "callback",
            "caller": self.number,
            "callback_number": self.number,
            "requested_at": self.requested_at,
            "requested_in": self.first_interaction,
            "attempt": self.attempt,
        }
        if self.language:
            found["language"] = self.language
        if self.retry_at is not None:
            found["retry_at"] = self.retry_at
        return found


def is_callback(call_id: str) -> bool:
    return call_id.startswith(CALL_PREFIX)


class CallbackPort(PortWrapper):
    """The PBX port the ACD uses: the real one, plus the virtual calls of callback requests.

    Commands on a virtual call act on its agent leg (or do nothing while it waits); every
    other command and event passes through unchanged (:class:`PortWrapper` forwards what is
    not defined here, with a virtual call id replaced by its agent leg)."""

    def __init__(self, inner: PbxPort, settings: CallbackSettings | None = None) -> None:
        super().__init__(inner)
        self.settings = settings or CallbackSettings()
        self.acd: AcdService | None = None  # set by attach(); outcomes go to its journal
        self._hub = EventHub()
        self._by_call: dict[str, Callback] = {}
        self._by_leg: dict[str, Callback] = {}
        # Held while an originate is in flight, so the leg's first events wait until the
        # leg is known (the PBX may report a failed originate before the command returns).
        self._originating = asyncio.Lock()
        self._pump_task: asyncio.Task[None] | None = None
        self._subscription: EventSubscription | None = None
        self._timers: set[asyncio.TimerHandle] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        # Requests the store held open at start, judged at the first resync.
        self._open: list[_Open] = []
        self._restored = False

    def attach(self, acd: AcdService) -> None:
        self.acd = acd

    def real_call(self, call_id: str) -> str:
        callback = self._by_call.get(call_id)
        return callback.leg if callback is not None and callback.leg else call_id

    # ------------------------------------------------------------------ requests

    def waiting(self) -> list[Callback]:
        return [c for c in self._by_call.values() if c.phase is not Phase.DONE]

    def track(self, callback: Callback) -> None:
        self._by_call[callback.call_id] = callback

    # ------------------------------------------------------------------ life cycle, events

    async def start(self, *args: Any, **kwargs: Any) -> None:
        if self._pump_task is None:
            if self.acd is not None:
                try:
                    await self.load_open(self.acd)
                except Exception:  # the adoption closes what was not loaded; calls go on
                    log.exception("callback port: loading the open requests failed")
            self._subscription = self.inner.events()
            self._pump_task = asyncio.create_task(
                self._pump(self._subscription), name="callback-events"
            )
        await self.inner.start(*args, **kwargs)

    async def close(self) -> None:
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
        await self.inner.close()
        if self._subscription is not None:
            self._subscription.close()
        if self._pump_task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._pump_task, 2.0)
        for task in list(self._tasks):
            task.cancel()
        self._hub.close()

    def events(self) -> EventSubscription:
        return self._hub.subscribe()

    async def _pump(self, subscription: EventSubscription) -> None:
        async for event in subscription:
            try:
                async with self._originating:
                    if isinstance(event, Resynced) and not self._restored:
                        self._restored = True
                        if self.acd is not None and self._open:
                            self.restore_open(self.acd, event.calls)
                    for out in self._translate(event):
                        self._hub.publish(out)
            except Exception:  # one odd event must not stop every call's events
                log.exception("callback port: event %r failed", event)

    def _translate(self, event: PbxEvent) -> list[PbxEvent]:
        if isinstance(event, Resynced):
            return [Resynced(calls=(*event.calls, *self._live_calls()))]
        if not isinstance(event, CallEvent):
            return [event]
        callback = self._by_leg.get(event.call_id)
        if callback is None:
            return [event]
        if isinstance(event, DialEnded):
            return self._dial_ended(callback, event)
        if isinstance(event, CallHungUp):
            return self._leg_hung_up(callback, event)
        if callback.phase is Phase.RINGING_AGENT:
            if isinstance(event, CallAnswered):
                # The agent answered: the first word of it (FreeSWITCH's originate reports
                # no ring of its own; Asterisk's DialEnd may come after the answer).
                return self._agent_answered(callback)
            return []  # ringing: the answer or the leg's end tells the offer's outcome
        return [dataclasses.replace(event, call_id=callback.call_id)]

    def _agent_answered(self, callback: Callback) -> list[PbxEvent]:
        callback.phase = Phase.RINGING_CUSTOMER
        self._note(callback, "callback_dialling", number=callback.number, attempt=callback.attempt)
        return [
            DialEnded(
                call_id=callback.call_id,
                endpoint=callback.agent_endpoint,
                status=DialStatus.ANSWER,
            )
        ]

    def _dial_ended(self, callback: Callback, event: DialEnded) -> list[PbxEvent]:
        if callback.phase is Phase.RINGING_AGENT:
            # The ring of the agent's phone: the offer's outcome, as for a waiting caller.
            if event.status is DialStatus.ANSWER:
                return self._agent_answered(callback)
            self._back_to_waiting(callback)
            return [
                DialEnded(
                    call_id=callback.call_id, endpoint=callback.agent_endpoint, status=event.status
                )
            ]
        if callback.phase is Phase.RINGING_CUSTOMER:
            if event.endpoint == callback.agent_endpoint:
                # The originate's report of the agent's ring (Asterisk), after the answer.
                return []
            result = _BY_STATUS.get(event.status, Result.UNREACHABLE)
            callback.result = result
            if result is Result.ANSWERED:
                callback.phase = Phase.TALKING
                self._note(
                    callback, "callback_result", result=result.value, attempt=callback.attempt
                )
            else:
                callback.phase = Phase.NOT_REACHED
                self._not_reached(callback, result)
        return []

    def _leg_hung_up(self, callback: Callback, event: CallHungUp) -> list[PbxEvent]:
        if callback.phase is Phase.RINGING_AGENT:
            # The originate failed or the agent did not answer: a missed offer.
            status = (
                DialStatus.BUSY
                if event.cause.kind is HangupKind.BUSY
                else DialStatus.NOANSWER
                if event.cause.kind is HangupKind.NO_ANSWER
                else DialStatus.CHANUNAVAIL
            )
            self._back_to_waiting(callback)
            return [
                DialEnded(call_id=callback.call_id, endpoint=callback.agent_endpoint, status=status)
            ]
        if callback.phase is Phase.RINGING_CUSTOMER:
            # No end of the customer's ring: the agent (or the dialplan) gave up first.
            callback.result = Result.AGENT_LEFT
            self._not_reached(callback, Result.AGENT_LEFT)
        self._by_leg.pop(event.call_id, None)
        self._by_call.pop(callback.call_id, None)
        callback.phase = Phase.DONE
        return [CallHungUp(call_id=callback.call_id, cause=event.cause)]

    def _back_to_waiting(self, callback: Callback) -> None:
        if callback.leg is not None:
            self._by_leg.pop(callback.leg, None)
        callback.leg = None
        callback.phase = Phase.WAITING

    def _live_calls(self) -> list[LiveCall]:
        return [
            LiveCall(
                call_id=c.call_id,
                channel=f"Callback/{c.number}",
                state=CallState.UP if c.phase is Phase.TALKING else CallState.DOWN,
                caller_num=c.number,
                application="Dial" if c.phase is Phase.RINGING_AGENT else "",
                variables={TAG: c.interaction_id},
            )
            for c in self.waiting()
        ]

    # ------------------------------------------------------------------ outcomes

    def _note(self, callback: Callback, event: str, **data: Any) -> None:
        if self.acd is None:
            return
        self.acd.journal.fact(
            event,
            data,
            interaction_id=callback.interaction_id,
            queue=callback.queue,
            agent_id=None,
            at=self.acd.now(),
        )
        log_event(
            log,
            f"callback.{event}",
            interaction=callback.interaction_id,
            **{k: str(v) for k, v in data.items()},
        )

    def _not_reached(self, callback: Callback, result: Result) -> None:
        again = callback.attempt < self.settings.max_attempts
        data: dict[str, Any] = {"result": result.value, "attempt": callback.attempt}
        if again:
            data["retry_in"] = self.settings.retry_after
        else:
            data["gave_up"] = True
        self._note(callback, "callback_result", **data)
        if again and self.acd is not None:
            self._retry(self.acd, callback)

    def _retry(self, acd: AcdService, callback: Callback) -> None:
        # The retry is an interaction in the store from now on (state new, retry_at), so a
        # restart before it is due keeps it; it joins the queue at retry_at.
        task = asyncio.get_running_loop().create_task(
            request_callback(
                acd,
                number=callback.number,
                queue=callback.queue,
                requested_at=callback.requested_at,
                first_interaction=callback.first_interaction,
                attempt=callback.attempt + 1,
                language=callback.language,
                retry_of=callback.interaction_id,
                retry_at=acd.now() + self.settings.retry_after,
            )
        )
        self._keep(task)

    def _keep(self, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def queue_at(self, acd: AcdService, callback: Callback, when: float) -> None:
        """Put a tracked request (its record ARRIVED) into its queue at ``when``."""
        loop = asyncio.get_running_loop()

        def due() -> None:
            self._timers.discard(handle)
            self._keep(loop.create_task(acd.serial(lambda: _enqueue(acd, callback))))

        handle = loop.call_later(max(0.0, when - acd.now()), due)
        self._timers.add(handle)

    # ------------------------------------------------------------------ restart

    async def load_open(self, acd: AcdService) -> None:
        """At start, before the PBX is connected: the callback requests the store holds open
        (left by the ACD that ran before). Each is tracked from now on, so the first resync
        lists it; that resync judges it against the PBX's calls (:meth:`restore_open`)."""
        async with acd.store.transaction(readonly=True) as repos:
            rows = await OpenCallbacks(repos.session).list(CALL_PREFIX)
            histories = {row.id: await repos.events.for_interaction(row.id) for row in rows}
        for row in rows:
            callback = _from_row(row, histories[row.id])
            if callback is None or callback.queue not in acd.centre.queue_info:
                # Not tracked: the adoption closes it as vanished.
                log_event(
                    log,
                    "callback.unrestorable",
                    logging.ERROR,
                    interaction=row.id,
                    queue=row.queue or "",
                    attributes=str(row.attributes),
                )
                continue
            self._open.append(_Open(callback, row, histories[row.id]))
            self.track(callback)

    def restore_open(self, acd: AcdService, live_calls: Sequence[LiveCall]) -> None:
        """The first resync: judge the loaded requests (:func:`judge`) and queue one job that
        takes the live ones back. Called before the resync is passed on, so that job runs
        before the ACD's adoption (which would close what it does not find in memory)."""
        legs = {
            call.variables[TAG]: call
            for call in live_calls
            if call.variables.get(TAG) and not is_callback(call.call_id)
        }
        back: list[tuple[_Open, Verdict, LiveCall | None]] = []
        counts: dict[str, int] = {}
        for found in self._open:
            leg = legs.get(found.row.id)
            verdict = judge(found.row, leg, found.history)
            counts[verdict.value] = counts.get(verdict.value, 0) + 1
            if verdict in (Verdict.TALKING, Verdict.FINISHED):
                # Left to the adoption: it tracks the talking leg, or closes the request.
                self._by_call.pop(found.callback.call_id, None)
                continue
            back.append((found, verdict, leg))
        self._open = []
        log_event(
            log,
            "callback.restored",
            requests=sum(counts.values()),
            **{verdict: str(n) for verdict, n in sorted(counts.items())},
        )

        async def job() -> None:
            for found, verdict, leg in back:
                try:
                    await _restore(acd, self, found, verdict, leg)
                except Exception:  # one bad record must not keep the others waiting
                    log.exception("callback port: restoring %s failed", found.row.id)

        if back:
            acd.submit(job)

    async def drop_leg(self, leg: str) -> None:
        """Hang up an agent leg nobody follows any more (an attempt cut by a restart)."""
        try:
            await self.inner.hangup(leg)
        except PbxError as exc:  # gone meanwhile: nothing left to stop
            log_event(log, "callback.leg_hangup_failed", logging.INFO, call=leg, error=str(exc))

    # ------------------------------------------------------------------ commands

    async def connect_agent(
        self,
        call_id: str,
        endpoint: str,
        *,
        ring_timeout: float,
        caller_id: str | None = None,
        timeout_s: float | None = None,
    ) -> None:
        callback = self._by_call.get(call_id)
        if callback is None:
            await self.inner.connect_agent(
                call_id,
                endpoint,
                ring_timeout=ring_timeout,
                caller_id=caller_id,
                timeout_s=timeout_s,
            )
            return
        dial = self.settings.dial.replace("{number}", callback.number)
        variables = {
            TAG: callback.interaction_id,
            "CC_CALLBACK_DIAL": dial,
            "CC_CALLBACK_RING": str(self.settings.ring_timeout),
            **callback.variables,
        }
        async with self._originating:
            # The agent's phone shows whom it is about to call.
            leg = await self.inner.originate(
                endpoint,
                CONTEXT,
                "s",
                caller_id=f'"Callback" <{callback.number}>',
                variables=variables,
                ring_timeout=ring_timeout,
                timeout_s=timeout_s,
            )
            callback.leg, callback.agent_endpoint = leg, endpoint
            callback.phase = Phase.RINGING_AGENT
            self._by_leg[leg] = callback

    async def hold(
        self, call_id: str, *, moh_class: str = "default", timeout_s: float | None = None
    ) -> None:
        if is_callback(call_id):
            return  # a waiting request has nobody to hold
        await self.inner.hold(call_id, moh_class=moh_class, timeout_s=timeout_s)

    async def redirect(
        self,
        call_id: str,
        context: str,
        exten: str,
        priority: int = 1,
        *,
        timeout_s: float | None = None,
    ) -> None:
        callback = self._by_call.get(call_id)
        if callback is not None or is_callback(call_id):
            # An exit (max wait) of a request: nobody to send anywhere; the request ends.
            if callback is not None:
                await self._end(callback)
            return
        await self.inner.redirect(call_id, context, exten, priority, timeout_s=timeout_s)

    async def hangup(
        self, call_id: str, *, cause: int = 16, timeout_s: float | None = None
    ) -> None:
        callback = self._by_call.get(call_id)
        if callback is not None or is_callback(call_id):
            if callback is not None:
                await self._end(callback, cause=cause, timeout_s=timeout_s)
            return
        await self.inner.hangup(call_id, cause=cause, timeout_s=timeout_s)

    async def _end(
        self, callback: Callback, *, cause: int = 16, timeout_s: float | None = None
    ) -> None:
        leg = callback.leg
        if leg is None:
            self._by_call.pop(callback.call_id, None)
            callback.phase = Phase.DONE
            return
        # The leg's hang-up event closes the request.
        await self.inner.hangup(leg, cause=cause, timeout_s=timeout_s)

    async def set_variable(
        self, call_id: str, name: str, value: str, *, timeout_s: float | None = None
    ) -> None:
        callback = self._by_call.get(call_id)
        if callback is None:
            if not is_callback(call_id):
                await self.inner.set_variable(call_id, name, value, timeout_s=timeout_s)
            return
        if callback.leg is not None:
            await self.inner.set_variable(callback.leg, name, value, timeout_s=timeout_s)
        else:
            callback.variables[name] = value  # goes along with the agent leg's originate

    async def get_variable(
        self, call_id: str, name: str, *, timeout_s: float | None = None
    ) -> str | None:
        callback = self._by_call.get(call_id)
        if callback is None:
            if is_callback(call_id):
                return None
            return await self.inner.get_variable(call_id, name, timeout_s=timeout_s)
        if callback.leg is not None:
            return await self.inner.get_variable(callback.leg, name, timeout_s=timeout_s)
        return callback.variables.get(name)

    async def list_live_calls(self, *, timeout_s: float | None = None) -> list[LiveCall]:
        return [*await self.inner.list_live_calls(timeout_s=timeout_s), *self._live_calls()]


# ---------------------------------------------------------------------- restart: judging


class Verdict(enum.Enum):
    """What a restarted ACD makes of an open request (logged with ``callback.restored``)."""

    WAITING = "waiting"  # queued (or between offers): back into its queue, arrival kept
    RETRY_PENDING = "retry_pending"  # a retry not yet due: queued at its retry_at
    INTERRUPTED = "interrupted"  # an attempt under way that nobody can follow: queued again
    TALKING = "talking"  # agent and customer bridged: the adoption follows the call
    FINISHED = "finished"  # the attempt ended while the ACD was away: the adoption closes it


def judge(
    row: InteractionRow, leg: LiveCall | None, history: Sequence[InteractionEvent]
) -> Verdict:
    """An open request against the PBX after a restart. ``leg`` is the live call tagged
    with the request (its agent leg), if any.

    * agent leg bridged: the customer is talking to the agent; the ACD's adoption tracks
      the leg like any talking call;
    * agent leg alive, not bridged: an attempt under way (the agent's phone ringing, or
      the agent listening to the customer's phone ring) whose events went to the ACD that
      died: the leg is hung up and the request queued again with the same attempt number
      (the customer was not reached; the agent hears the call end);
    * no leg, the store says connected or wrap-up: the attempt's outcome decides. A result
      was recorded (answered, or not reached, whose retry is a request of its own): the
      request is over and the adoption closes it. None was: the customer may never have
      been dialled, so the request is queued again (a customer called twice is better than
      a request silently dropped);
    * otherwise (new, queued, offered): queued again, a retry not yet due at its time."""
    stage = FROM_STORE.get(row.state, Stage.QUEUED)
    if leg is not None:
        return Verdict.TALKING if leg.bridged_with else Verdict.INTERRUPTED
    if stage is Stage.WRAP_UP:
        return Verdict.FINISHED
    if stage is Stage.CONNECTED:
        results = [e for e in history if e.event == "callback_result"]
        return Verdict.FINISHED if results else Verdict.INTERRUPTED
    if stage is Stage.ARRIVED and (row.attributes or {}).get("retry_at") is not None:
        return Verdict.RETRY_PENDING
    return Verdict.WAITING


def _from_row(row: InteractionRow, history: Sequence[InteractionEvent]) -> Callback | None:
    """The request an interaction row records; None when its attributes are unreadable."""
    attributes = row.attributes or {}
    try:
        number = str(attributes["callback_number"])
        retry_at = attributes.get("retry_at")
        choice = routing_choice(history)
        return Callback(
            row.id,
            row.pbx_call_id or "",
            number,
            row.queue or "",
            float(attributes["requested_at"]),
            int(attributes.get("attempt", 1)),
            str(attributes.get("requested_in", "")),
            language=attributes.get("language") or None,
            retry_at=float(retry_at) if retry_at is not None else None,
            priority=float(choice.get("priority", row.priority)),
            skills={str(k): int(v) for k, v in (choice.get("skills") or {}).items()},
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


@dataclass(slots=True)
class _Open:
    """A request found open in the store at start."""

    callback: Callback
    row: InteractionRow
    history: Sequence[InteractionEvent]


async def _restore(
    acd: AcdService, desk: CallbackPort, found: _Open, verdict: Verdict, leg: LiveCall | None
) -> None:
    """The request's record back in the ACD, queued now or at its retry time."""
    callback, row = found.callback, found.row
    stage = FROM_STORE.get(row.state, Stage.QUEUED)
    record = CallRecord(
        callback.interaction_id,
        callback.call_id,
        callback.queue,
        callback.requested_at,  # the wait counts from the request, as before the restart
        stage=stage,
        caller_num=callback.number,
    )
    acd.calls.add(record)
    now = acd.now()
    if verdict is Verdict.INTERRUPTED:
        if leg is not None:
            acd.command(desk.drop_leg(leg.call_id))
        await acd.journal.note(
            record,
            "callback_interrupted",
            now,
            attempt=callback.attempt,
            agent=row.agent_id,
            cause="attempt under way when the ACD stopped",
        )
        log_event(
            log,
            "callback.interrupted",
            logging.WARNING,
            interaction=callback.interaction_id,
            attempt=callback.attempt,
            leg=leg.call_id if leg is not None else "",
        )
    if verdict is Verdict.RETRY_PENDING and callback.retry_at is not None:
        desk.queue_at(acd, callback, callback.retry_at)
        return
    if stage is Stage.QUEUED:
        await acd.journal.note(record, "readopted", now, kind="callback")
    else:
        if stage is not Stage.ARRIVED:
            # Offered or connected when the ACD stopped: that offer is over.
            record.stage = Stage.OFFERED
        old = record.move(Stage.QUEUED)
        await acd.journal.moved(
            record,
            old,
            now,
            readopted=True,
            kind="callback",
            attempt=callback.attempt,
            callback_number=callback.number,
        )
    acd.live_sync.queue_changed(callback.queue)
    await acd.apply(acd.engine.arrive(_interaction(acd, callback), now))


async def _enqueue(acd: AcdService, callback: Callback) -> None:
    """A request's record, ARRIVED, joins its queue now (a request placed or a retry due)."""
    record = acd.calls.get(callback.interaction_id)
    if record is None or record.stage is not Stage.ARRIVED:
        return  # ended meanwhile (e.g. the ACD is stopping)
    old = record.move(Stage.QUEUED)
    await acd.journal.moved(
        record,
        old,
        acd.now(),
        kind="callback",
        attempt=callback.attempt,
        callback_number=callback.number,
    )
    acd.live_sync.queue_changed(callback.queue)
    await acd.apply(acd.engine.arrive(_interaction(acd, callback), acd.now()))


def _interaction(acd: AcdService, callback: Callback) -> Interaction:
    """The engine's view of a request: its queue's, with what it was routed by before."""
    info = acd.centre.queue_info[callback.queue]
    return Interaction(
        callback.interaction_id,
        callback.queue,
        ChannelKind.VOICE,
        callback.requested_at,  # waiting counts from the request: a retry keeps its place
        skills=tuple(SkillRequirement(s, level) for s, level in callback.skills.items()),
        language=callback.language or info.language,
        priority=info.priority if callback.priority is None else callback.priority,
        attributes={k: str(v) for k, v in callback.attributes.items()},
    )


def callbacks_of(acd: AcdService) -> CallbackPort | None:
    port = acd.port
    return port if isinstance(port, CallbackPort) else None


async def request_callback(
    acd: AcdService,
    *,
    number: str,
    queue: str,
    requested_at: float,
    first_interaction: str,
    attempt: int = 1,
    language: str | None = None,
    retry_of: str | None = None,
    retry_at: float | None = None,
) -> str | None:
    """Put a callback request into ``queue`` as a new voice interaction (kind callback) that
    arrived when the caller asked; a retry (``retry_at``) joins the queue at that time.
    Returns its id, or None when it cannot be placed (no callback port, a number that is not
    a phone number, a queue without voice)."""
    desk = callbacks_of(acd)
    info = acd.centre.queue_info.get(queue)
    problem = ""
    if desk is None:
        problem = "this PBX port places no callbacks"
    elif not NUMBER.fullmatch(number):
        problem = f"number {number!r} is not a phone number (expected digits, optional +)"
    elif info is None or "voice" not in info.channels:
        problem = f"queue {queue!r} takes no voice interactions"
    if desk is None or info is None or problem:
        log_event(
            log,
            "callback.refused",
            logging.WARNING,
            queue=queue,
            error=problem,
            interaction=first_interaction,
        )
        acd.journal.fact(
            "callback_refused",
            {"number": number, "queue": queue, "reason": problem},
            interaction_id=first_interaction,
            queue=queue,
            agent_id=None,
            at=acd.now(),
        )
        return None
    call_id = f"{CALL_PREFIX}{uuid.uuid4().hex}"
    callback = Callback(
        "",
        call_id,
        number,
        queue,
        requested_at,
        attempt,
        first_interaction,
        language=language,
        retry_at=retry_at,
    )
    attributes = callback.attributes
    if retry_of:
        attributes["retry_of"] = retry_of
    callback.interaction_id = await acd.journal.created(
        call_id=call_id, queue=queue, priority=info.priority, attributes=attributes, at=acd.now()
    )
    desk.track(callback)

    async def job() -> None:
        record = CallRecord(
            callback.interaction_id, call_id, queue, requested_at, caller_num=number
        )
        acd.calls.add(record)
        if retry_at is None:
            await _enqueue(acd, callback)
        else:
            desk.queue_at(acd, callback, retry_at)

    await acd.serial(job)
    log_event(
        log,
        "callback.queued" if retry_at is None else "callback.retry_scheduled",
        interaction=callback.interaction_id,
        queue=queue,
        attempt=attempt,
    )
    return callback.interaction_id
