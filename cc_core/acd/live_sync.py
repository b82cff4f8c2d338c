"""Keeps the live state (agent states, queue depths) in step with the engine, after each job.

Changes are marked while a job runs and written once at its end, so a burst of engine
outcomes costs one write per agent or queue touched. The reservation itself is not done here:
`offers.place` reserves atomically before any PBX command.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from cc_core.domain import PRESENCE_STATES, AgentState
from cc_core.logs import log_event
from cc_core.store.live import AgentLive, LiveStateError

if TYPE_CHECKING:
    from cc_core.acd.service import AcdService

log = logging.getLogger(__name__)

_PRESENCES = {s.value: s for s in PRESENCE_STATES}


def restored_presence(record: AgentLive) -> AgentState:
    """The presence an agent gets back at start.

    Reserved, busy or in wrap-up when the ACD stopped: the presence recorded beside the state
    (a not-ready or logout asked for meanwhile), ready when none is recorded (an older record);
    the calls themselves are re-adopted from the PBX.
    """
    if record.state in _PRESENCES:
        return _PRESENCES[record.state]
    if record.presence in _PRESENCES:
        return _PRESENCES[record.presence]
    if record.presence:
        log_event(
            log,
            "live.presence_unknown",
            logging.WARNING,
            agent_id=record.agent_id,
            presence=record.presence,
        )
    return AgentState.READY


class LiveSync:
    def __init__(self, acd: AcdService) -> None:
        self.acd = acd
        self.agents: dict[str, AgentLive] = {}  # what we last wrote
        self.waiting: dict[str, int] = {}
        self.longest: dict[str, float | None] = {}
        self._dirty_agents: set[str] = set()
        self._dirty_queues: set[str] = set()

    def agent_changed(self, agent_id: str) -> None:
        self._dirty_agents.add(agent_id)

    def queue_changed(self, queue_id: str) -> None:
        self._dirty_queues.add(queue_id)

    def written_state(self, agent_id: str) -> str:
        record = self.agents.get(agent_id)
        return record.state if record is not None else AgentState.LOGGED_OUT.value

    def recorded_presence(self, agent_id: str) -> str:
        """The presence in the agent's last known record ("" when none is known)."""
        record = self.agents.get(agent_id)
        return record.presence if record is not None else ""

    def remember(self, record: AgentLive) -> None:
        """A write done elsewhere (the reservation) is now the agent's last known record."""
        self.agents[record.agent_id] = record

    async def write_presence(self, agent_id: str, state: str, reason: str) -> None:
        """Write a presence change at once, before the engine hears of it: an offer the
        engine makes in the same step then reserves against this record."""
        last = self.agents.get(agent_id)
        held = last.interactions if last is not None else ()
        since = self.acd.now() if last is None or last.state != state else last.since
        try:
            self.agents[agent_id] = await self.acd.live.set_agent(
                AgentLive(agent_id, state, since, reason=reason, interactions=held, presence=state)
            )
        except LiveStateError as exc:
            log_event(log, "live.sync_failed", logging.WARNING, error=str(exc))
        self._dirty_agents.add(agent_id)

    async def restore_agents(self) -> None:
        """At start: agents the live state still knows as logged in get their presence back
        (with Redis this survives an ACD restart; the memory backend starts empty)."""
        try:
            records = await self.acd.live.list_agents()
        except LiveStateError as exc:
            log_event(log, "live.restore_failed", logging.WARNING, error=str(exc))
            return
        known = set(self.acd.engine.agent_ids())
        now = self.acd.now()
        for record in records:
            if record.agent_id not in known:
                continue
            state = restored_presence(record)
            reason = (record.reason or "break") if state is AgentState.NOT_READY else None
            # Known before the engine hears of it: an offer then reserves against it.
            self.agents[record.agent_id] = record
            self._dirty_agents.add(record.agent_id)
            await self.acd.apply(self.acd.engine.set_state(record.agent_id, state, now, reason))

    async def restore_queues(self) -> None:
        """At start: take the counts the live state holds as the baseline, so the first flush
        corrects them to what this ACD actually routes."""
        for queue_id in self.acd.engine.queue_ids():
            try:
                stats = await self.acd.live.get_queue(queue_id)
            except LiveStateError as exc:
                log_event(log, "live.restore_failed", logging.WARNING, error=str(exc))
                return
            self.waiting[queue_id] = stats.waiting
            self.longest[queue_id] = stats.longest_wait_since
            self._dirty_queues.add(queue_id)

    async def flush(self) -> None:
        agents, self._dirty_agents = self._dirty_agents, set()
        queues, self._dirty_queues = self._dirty_queues, set()
        if not agents and not queues:
            return
        # One pass over the live calls for all of them (it ran once per agent and queue).
        held, longest = self.acd.calls.live_view(agents, queues)
        try:
            for agent_id in sorted(agents):
                await self._write_agent(agent_id, held[agent_id])
            for queue_id in sorted(queues):
                await self._write_queue(queue_id, longest[queue_id])
        except LiveStateError as exc:
            # Live state is rebuilt from the engine on the next change; calls go on.
            log_event(log, "live.sync_failed", logging.WARNING, error=str(exc))
            self._dirty_agents |= agents
            self._dirty_queues |= queues

    async def _write_agent(self, agent_id: str, held: tuple[str, ...]) -> None:
        acd = self.acd
        state = acd.engine.agent_state(agent_id).value
        reason = acd.engine.agent_reason(agent_id) or ""
        # Beside the state: what a restart gives back once the calls and wrap-up are over.
        presence = acd.engine.agent_presence(agent_id).value
        last = self.agents.get(agent_id)
        if last is not None and (last.state, last.reason, last.interactions, last.presence) == (
            state,
            reason,
            held,
            presence,
        ):
            return
        since = acd.now() if last is None or last.state != state else last.since
        record = await acd.live.set_agent(
            AgentLive(agent_id, state, since, reason=reason, interactions=held, presence=presence)
        )
        self.agents[agent_id] = record
        await acd.journal.publish(
            "agents",
            {
                "agent_id": agent_id,
                "state": state,
                "reason": reason,
                "interactions": list(held),
                "since": since,
            },
        )

    async def _write_queue(self, queue_id: str, longest: float | None) -> None:
        acd = self.acd
        waiting = acd.engine.waiting_count(queue_id)
        delta = waiting - self.waiting.get(queue_id, 0)
        if delta > 0:
            await acd.live.incr_waiting(queue_id, delta)
        elif delta < 0:
            await acd.live.decr_waiting(queue_id, -delta)
        self.waiting[queue_id] = waiting
        if queue_id not in self.longest or self.longest[queue_id] != longest:
            await acd.live.set_longest_wait_start(queue_id, longest)
            self.longest[queue_id] = longest
        if delta:
            await acd.journal.publish(
                f"queue.{queue_id}",
                {"queue_id": queue_id, "waiting": waiting, "longest_wait_since": longest},
            )

    async def count(self, queue_id: str, counter: str) -> None:
        try:
            await self.acd.live.incr_counter(queue_id, counter)
        except LiveStateError as exc:
            log_event(log, "live.counter_failed", logging.WARNING, queue=queue_id, error=str(exc))
