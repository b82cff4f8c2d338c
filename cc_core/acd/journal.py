"""Everything the ACD records: the store's event log (durable) and live-state events (for the
wallboard). One method per kind of fact, so every transition is written the same way.

Stage changes are written by one writer task, in the order they happened, several to a
transaction: the ACD's job loop never waits for the database, and a slow disk delays the log,
not the calls. `drain()` waits until everything recorded so far is committed (adoption reads
the store only after it). Creating an interaction is the exception: its id is needed at once
to tag the call, so `created` writes directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from cc_core.acd.lifecycle import STORE_STATE, CallRecord, Stage
from cc_core.logs import log_event
from cc_core.store.database import Repositories, Store
from cc_core.store.errors import StoreError
from cc_core.store.live import LiveState, LiveStateError

log = logging.getLogger(__name__)

INTERACTIONS_CHANNEL = "interactions"
AGENTS_CHANNEL = "agents"
MAX_BATCH = 50

Write = Callable[[Repositories], Awaitable[object]]


@dataclass(slots=True)
class _Item:
    what: str
    write: Write
    on_commit: Callable[[], None] | None = None
    future: asyncio.Future[Any] | None = None  # failed with the write's error


def _resolve(created: list[tuple[asyncio.Future[str], str]]) -> None:
    for future, row_id in created:
        if not future.done():
            future.set_result(row_id)


def to_datetime(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class Journal:
    def __init__(self, store: Store, live: LiveState) -> None:
        self.store = store
        self.live = live
        self._pending: list[_Item] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._writer: asyncio.Task[None] | None = None
        self.written = 0
        self.failed = 0

    # ------------------------------------------------------------------ writer

    def start(self) -> None:
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_forever(), name="acd-journal")

    @property
    def backlog(self) -> int:
        """Writes recorded but not yet committed."""
        return len(self._pending)

    async def drain(self) -> None:
        """Wait until every write recorded so far is committed (or reported as failed)."""
        await self._idle.wait()

    async def close(self) -> None:
        if self._writer is None:
            return
        await self.drain()
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer
        self._writer = None

    def _record(
        self,
        what: str,
        write: Write,
        *,
        on_commit: Callable[[], None] | None = None,
        future: asyncio.Future[Any] | None = None,
    ) -> None:
        self._pending.append(_Item(what, write, on_commit, future))
        self._idle.clear()
        self._wake.set()

    async def _write_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch = self._pending[:MAX_BATCH]
                del self._pending[:MAX_BATCH]
                await self._commit(batch)
            if not self._pending:
                self._idle.set()

    async def _commit(self, batch: list[_Item]) -> None:
        try:
            async with self.store.transaction() as repos:
                for item in batch:
                    await item.write(repos)
            self.written += len(batch)
            for item in batch:
                if item.on_commit is not None:
                    item.on_commit()
            return
        except (StoreError, SQLAlchemyError, OSError) as exc:
            if len(batch) == 1:
                self.failed += 1
                item = batch[0]
                log_event(log, "journal.write_failed", logging.ERROR, what=item.what,
                          error=str(exc))
                if item.future is not None and not item.future.done():
                    item.future.set_exception(exc)
                return
        # One bad write must not cost the others: retry them one at a time.
        for item in batch:
            await self._commit([item])

    # ------------------------------------------------------------------ facts

    async def created(
        self,
        *,
        call_id: str,
        queue: str,
        priority: float,
        attributes: dict[str, Any],
        at: float,
    ) -> str:
        """A new voice interaction in the store (state ``new``, event ``created``); returns
        its id once committed. Written by the one writer too: SQLite has one write lock, and
        a second writer would only queue on it."""
        done: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        async def write(repos: Repositories) -> None:
            row = await repos.interactions.create(
                "voice",
                queue=queue,
                priority=priority,
                attributes=attributes,
                pbx_call_id=call_id,
                at=to_datetime(at),
            )
            created[:] = [(done, row.id)]  # a retried write replaces a rolled-back one

        created: list[tuple[asyncio.Future[str], str]] = []
        self._record(f"{call_id} created", write, on_commit=lambda: _resolve(created), future=done)
        return await done

    async def moved(self, record: CallRecord, old: Stage, at: float, **data: Any) -> None:
        """Log one stage change of ``record`` (already applied in memory)."""
        new = record.stage
        state = STORE_STATE[new]
        payload = {"stage": new.value, "from_stage": old.value, **data}
        interaction_id, queue, agent_id = record.interaction_id, record.queue, record.agent_id
        when = to_datetime(at)

        async def write(repos: Repositories) -> None:
            if state is None:
                await repos.events.append(
                    new.value, interaction_id=interaction_id, queue=queue, agent_id=agent_id,
                    data=payload, time=when,
                )
            else:
                await repos.interactions.set_state(
                    interaction_id, state, queue=queue, agent_id=agent_id, data=payload, at=when
                )

        self._record(f"{interaction_id} {new.value}", write)
        log_event(
            log,
            f"interaction.{new.value}",
            interaction=interaction_id,
            queue=queue,
            agent=agent_id or "",
            call=record.call_id,
        )
        await self.publish(
            INTERACTIONS_CHANNEL,
            {
                "interaction_id": interaction_id,
                "stage": new.value,
                "from": old.value,
                "queue": queue,
                "agent_id": agent_id,
                "at": at,
            },
        )

    async def note(self, record: CallRecord, event: str, at: float, **data: Any) -> None:
        """A fact about an interaction that is not a stage change (e.g. re-adopted)."""
        interaction_id, queue, agent_id = record.interaction_id, record.queue, record.agent_id
        payload = {"stage": record.stage.value, **data}
        when = to_datetime(at)

        async def write(repos: Repositories) -> None:
            await repos.events.append(event, interaction_id=interaction_id, queue=queue,
                                      agent_id=agent_id, data=payload, time=when)

        self._record(f"{interaction_id} {event}", write)
        log_event(log, f"interaction.{event}", interaction=interaction_id)

    def fact(self, event: str, data: dict[str, Any], *, interaction_id: str,
             queue: str | None, agent_id: str | None, at: float) -> None:
        """A fact about an interaction that is not a stage change (an IVR step, a survey
        score), also once the call is over. Synchronous, so the IVR's step sink can call it."""
        payload, when = dict(data), to_datetime(at)

        async def write(repos: Repositories) -> None:
            await repos.events.append(event, interaction_id=interaction_id, queue=queue,
                                      agent_id=agent_id, data=payload, time=when)

        self._record(f"{interaction_id} {event}", write)
        log_event(log, f"interaction.{event}", logging.DEBUG, interaction=interaction_id)

    def attributes(self, interaction_id: str, changes: dict[str, Any]) -> None:
        """Merge what was learned (IVR answers, a survey score) into the interaction's
        attributes."""
        values = dict(changes)

        async def write(repos: Repositories) -> None:
            await repos.interactions.update_attributes(interaction_id, **values)

        self._record(f"{interaction_id} attributes", write)

    async def agent_event(self, agent_id: str, event: str, at: float, **data: Any) -> None:
        """Agent-only facts (login, ready, not_ready, logout, auto not-ready)."""
        payload, when = dict(data), to_datetime(at)

        async def write(repos: Repositories) -> None:
            await repos.events.append(f"agent_{event}", agent_id=agent_id, data=payload,
                                      time=when)

        self._record(f"{agent_id} agent_{event}", write)
        log_event(log, f"agent.{event}", agent=agent_id, **{k: str(v) for k, v in data.items()})

    async def publish(self, channel: str, data: dict[str, Any]) -> None:
        # The wallboard is a convenience: losing an event must not stop a call.
        try:
            await self.live.publish(channel, data)
        except LiveStateError as exc:
            log_event(log, "live.publish_failed", logging.WARNING, channel=channel, error=str(exc))
