"""Everything the ACD records: the store's event log (durable) and live-state events (for the
wallboard). One method per kind of fact, so every transition is written the same way."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from cc_core.acd.lifecycle import STORE_STATE, CallRecord, Stage
from cc_core.logs import log_event
from cc_core.store.database import Store
from cc_core.store.live import LiveState, LiveStateError

log = logging.getLogger(__name__)

INTERACTIONS_CHANNEL = "interactions"
AGENTS_CHANNEL = "agents"


def to_datetime(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class Journal:
    def __init__(self, store: Store, live: LiveState) -> None:
        self.store = store
        self.live = live

    async def created(
        self,
        *,
        call_id: str,
        queue: str,
        priority: float,
        attributes: dict[str, Any],
        at: float,
    ) -> str:
        """A new voice interaction in the store (state ``new``, event ``created``)."""
        async with self.store.transaction() as repos:
            row = await repos.interactions.create(
                "voice",
                queue=queue,
                priority=priority,
                attributes=attributes,
                pbx_call_id=call_id,
                at=to_datetime(at),
            )
            return row.id

    async def moved(
        self, record: CallRecord, old: Stage, at: float, **data: Any
    ) -> None:
        """Log one stage change of ``record`` (already applied in memory)."""
        new = record.stage
        state = STORE_STATE[new]
        payload = {"stage": new.value, "from_stage": old.value, **data}
        async with self.store.transaction() as repos:
            if state is None:
                await repos.events.append(
                    new.value,
                    interaction_id=record.interaction_id,
                    queue=record.queue,
                    agent_id=record.agent_id,
                    data=payload,
                    time=to_datetime(at),
                )
            else:
                await repos.interactions.set_state(
                    record.interaction_id,
                    state,
                    queue=record.queue,
                    agent_id=record.agent_id,
                    data=payload,
                    at=to_datetime(at),
                )
        log_event(
            log,
            f"interaction.{new.value}",
            interaction=record.interaction_id,
            queue=record.queue,
            agent=record.agent_id or "",
            call=record.call_id,
        )
        await self.publish(
            INTERACTIONS_CHANNEL,
            {
                "interaction_id": record.interaction_id,
                "stage": new.value,
                "from": old.value,
                "queue": record.queue,
                "agent_id": record.agent_id,
                "at": at,
            },
        )

    async def note(self, record: CallRecord, event: str, at: float, **data: Any) -> None:
        """A fact about an interaction that is not a stage change (e.g. re-adopted)."""
        async with self.store.transaction() as repos:
            await repos.events.append(
                event,
                interaction_id=record.interaction_id,
                queue=record.queue,
                agent_id=record.agent_id,
                data={"stage": record.stage.value, **data},
                time=to_datetime(at),
            )
        log_event(log, f"interaction.{event}", interaction=record.interaction_id)

    async def agent_event(
        self, agent_id: str, event: str, at: float, **data: Any
    ) -> None:
        """Agent-only facts (login, ready, not_ready, logout, auto not-ready)."""
        async with self.store.transaction() as repos:
            await repos.events.append(
                f"agent_{event}", agent_id=agent_id, data=dict(data), time=to_datetime(at)
            )
        log_event(log, f"agent.{event}", agent=agent_id, **{k: str(v) for k, v in data.items()})

    async def publish(self, channel: str, data: dict[str, Any]) -> None:
        # The wallboard is a convenience: losing an event must not stop a call.
        try:
            await self.live.publish(channel, data)
        except LiveStateError as exc:
            log_event(log, "live.publish_failed", logging.WARNING, channel=channel, error=str(exc))
