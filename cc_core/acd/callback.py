"""Callback requests: a caller asked to be called back; the request waits in a queue like a
call, and when an agent is picked the ACD rings the agent, then the customer, and bridges.

A request is an ordinary voice interaction (attribute ``kind: callback``) whose PBX call id
is virtual (``callback-...``): there is no call while it waits. :class:`CallbackPort` sits
between the ACD and the real PBX port and stands in for that call, so offers, no-answer
rules, wrap-up and reports treat a callback exactly like a waiting caller:

* ``connect_agent`` on a virtual call originates a call to the agent's phone into the
  dialplan's ``cc-callback`` context, which dials the customer once the agent answers;
* the agent leg's events come back under the virtual call id: its ring's ``DialEnded``
  (answer, or no answer and the engine re-routes), then its hang-up (the end of the call);
* the customer's ring (the second ``DialEnded`` on the agent leg) is the attempt's outcome:
  answered, or not reached (no answer, busy, unreachable) and, within ``max_attempts``, a new
  request for the same customer after ``retry_after`` seconds, arrival time kept;
* a resync lists the waiting requests as live calls, so they are not taken for vanished.

The agent is rung first on purpose: a customer who answers must hear an agent, not silence or
music (regulators count such a call as abandoned), and the agent's ring then goes through
the same offer, answer and no-answer handling as any call. The price is the agent waiting
while the customer's phone rings (``callback.ring_timeout``).

Waiting requests and pending retries live in memory: a restarted ACD closes open requests as
vanished (their interactions keep the request in the event log).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import logging
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cc_core.acd.lifecycle import CallRecord, Stage
from cc_core.config.acd_file import CallbackSettings
from cc_core.domain import ChannelKind, Interaction
from cc_core.logs import log_event
from pbx.port import (
    CallEvent,
    CallHungUp,
    CallState,
    DialEnded,
    DialStatus,
    EventHub,
    EventSubscription,
    HangupKind,
    LiveCall,
    PbxEvent,
    PbxPort,
    Resynced,
    SpyMode,
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
    phase: Phase = Phase.WAITING
    leg: str | None = None  # the call to the agent's phone
    agent_endpoint: str = ""
    result: Result | None = None
    variables: dict[str, str] = field(default_factory=dict)


def is_callback(call_id: str) -> bool:
    return call_id.startswith(CALL_PREFIX)


class CallbackPort(PbxPort):
    """The PBX port the ACD uses: the real one, plus the virtual calls of callback requests.

    Commands on a virtual call act on its agent leg (or do nothing while it waits); every
    other command and event passes through unchanged."""

    def __init__(self, inner: PbxPort, settings: CallbackSettings | None = None) -> None:
        self.inner = inner
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
        self._retries: set[asyncio.TimerHandle] = set()
        self._tasks: set[asyncio.Task[Any]] = set()

    def attach(self, acd: AcdService) -> None:
        self.acd = acd

    def __getattr__(self, name: str) -> Any:
        # Adapter-specific attributes (settings, counters) of the real port.
        return getattr(self.inner, name)

    # ------------------------------------------------------------------ requests

    def waiting(self) -> list[Callback]:
        return [c for c in self._by_call.values() if c.phase is not Phase.DONE]

    def track(self, callback: Callback) -> None:
        self._by_call[callback.call_id] = callback

    # ------------------------------------------------------------------ life cycle, events

    async def start(self, *args: Any, **kwargs: Any) -> None:
        if self._pump_task is None:
            self._subscription = self.inner.events()
            self._pump_task = asyncio.create_task(
                self._pump(self._subscription), name="callback-events"
            )
        await self.inner.start(*args, **kwargs)

    async def close(self) -> None:
        for handle in self._retries:
            handle.cancel()
        self._retries.clear()
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

    @property
    def connected(self) -> bool:
        return self.inner.connected

    async def _pump(self, subscription: EventSubscription) -> None:
        async for event in subscription:
            try:
                async with self._originating:
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
            return []  # ringing, answer: the DialEnded tells the offer's outcome
        return [dataclasses.replace(event, call_id=callback.call_id)]

    def _dial_ended(self, callback: Callback, event: DialEnded) -> list[PbxEvent]:
        if callback.phase is Phase.RINGING_AGENT:
            # The ring of the agent's phone: the offer's outcome, as for a waiting caller.
            out = DialEnded(
                call_id=callback.call_id, endpoint=callback.agent_endpoint, status=event.status
            )
            if event.status is DialStatus.ANSWER:
                callback.phase = Phase.RINGING_CUSTOMER
                self._note(
                    callback, "callback_dialling", number=callback.number, attempt=callback.attempt
                )
            else:
                self._back_to_waiting(callback)
            return [out]
        if callback.phase is Phase.RINGING_CUSTOMER:
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
            # The originate failed before any ring (phone offline): a missed offer.
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
            # No DialEnd for the customer: the agent (or the dialplan) gave up first.
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
            self._schedule_retry(self.acd, callback)

    def _schedule_retry(self, acd: AcdService, callback: Callback) -> None:
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self._retries.discard(handle)
            task = loop.create_task(
                request_callback(
                    acd,
                    number=callback.number,
                    queue=callback.queue,
                    requested_at=callback.requested_at,
                    first_interaction=callback.first_interaction,
                    attempt=callback.attempt + 1,
                    language=callback.language,
                    retry_of=callback.interaction_id,
                )
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        handle = loop.call_later(self.settings.retry_after, fire)
        self._retries.add(handle)

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
        return await self.inner.originate(
            endpoint,
            context,
            exten,
            priority,
            caller_id=caller_id,
            variables=variables,
            ring_timeout=ring_timeout,
            timeout_s=timeout_s,
        )

    async def spy(
        self,
        supervisor_endpoint: str,
        target_call_id: str,
        mode: SpyMode,
        *,
        timeout_s: float | None = None,
    ) -> str:
        return await self.inner.spy(
            supervisor_endpoint, self._real(target_call_id), mode, timeout_s=timeout_s
        )

    async def start_recording(
        self, call_id: str, filename: str, *, timeout_s: float | None = None
    ) -> None:
        await self.inner.start_recording(self._real(call_id), filename, timeout_s=timeout_s)

    async def stop_recording(self, call_id: str, *, timeout_s: float | None = None) -> None:
        await self.inner.stop_recording(self._real(call_id), timeout_s=timeout_s)

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

    def _real(self, call_id: str) -> str:
        callback = self._by_call.get(call_id)
        return callback.leg if callback is not None and callback.leg else call_id


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
) -> str | None:
    """Put a callback request into ``queue`` as a new voice interaction (kind callback) that
    arrived when the caller asked. Returns its id, or None when it cannot be placed (no
    callback port, a number that is not a phone number, a queue without voice)."""
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
    attributes: dict[str, Any] = {
        "kind": "callback",
        "caller": number,
        "callback_number": number,
        "requested_at": requested_at,
        "requested_in": first_interaction,
        "attempt": attempt,
    }
    if retry_of:
        attributes["retry_of"] = retry_of
    if language:
        attributes["language"] = language
    interaction_id = await acd.journal.created(
        call_id=call_id, queue=queue, priority=info.priority, attributes=attributes, at=acd.now()
    )
    callback = Callback(
        interaction_id,
        call_id,
        number,
        queue,
        requested_at,
        attempt,
        first_interaction,
        language=language,
    )
    desk.track(callback)

    async def job() -> None:
        at = acd.now()
        # Waiting counts from the request: a retry keeps its place behind nobody newer.
        record = CallRecord(interaction_id, call_id, queue, requested_at, caller_num=number)
        acd.calls.add(record)
        old = record.move(Stage.QUEUED)
        await acd.journal.moved(
            record, old, at, kind="callback", attempt=attempt, callback_number=number
        )
        acd.live_sync.queue_changed(queue)
        interaction = Interaction(
            interaction_id,
            queue,
            ChannelKind.VOICE,
            requested_at,
            language=language or info.language,
            priority=info.priority,
            attributes={k: str(v) for k, v in attributes.items()},
        )
        await acd.apply(acd.engine.arrive(interaction, at))

    await acd.serial(job)
    log_event(log, "callback.queued", interaction=interaction_id, queue=queue, attempt=attempt)
    return interaction_id
