"""Everything the ACD records: the store's event log (durable) and live-state events (for the
wallboard). One method per kind of fact, so every transition is written the same way.

Stage changes are written by one writer task, in the order they happened, several to a
transaction: the ACD's job loop never waits for the database, and a slow disk delays the log,
not the calls. `drain()` waits until everything recorded so far is committed (adoption reads
the store only after it). `created` hands out the new id at once (it tags the call) and
queues the row like every other write.

Nothing recorded is dropped:
* a store that is unreachable or busy (locked SQLite, a PostgreSQL restart) keeps the writes
  pending, in order, and retries with backoff until it answers;
* a write the store refuses (a state change it does not allow, a value it rejects) is kept
  as a plain event with the refusal beside it, so the fact stays in the interaction's log;
* only when even that is refused is it logged as `journal.write_failed`, with the error.

The one exception is the HA fence. A journal given a `StoreFence` (an active node of an HA
pair) first records the node's lease token in each transaction (`repos.fences.claim`, the
same transaction as the facts, before them). Once the store has seen a newer token another
node is active and owns these calls (it re-adopts them from the PBX): the batch is dropped
with one `journal.fenced` ERROR, and the fence is told, so this node steps down. A lone node's
journal has no fence and runs no extra statement.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy.exc import DBAPIError, OperationalError

from cc_core.acd.lifecycle import STORE_STATE, CallRecord, Stage
from cc_core.logs import log_event
from cc_core.store.base import new_id
from cc_core.store.database import Repositories, Store
from cc_core.store.errors import NotFound, StoreFenced
from cc_core.store.live import LiveState, LiveStateError
from cc_core.store.repos.bulk import (
    AttributeChange,
    Fact,
    LoggedEvent,
    NewInteraction,
    StateChange,
)

log = logging.getLogger(__name__)

INTERACTIONS_CHANNEL = "interactions"
AGENTS_CHANNEL = "agents"
MAX_BATCH = 1000
# How long the writer lets facts gather before a transaction (the log's lag behind the calls).
GATHER_SECONDS = 0.05
# Backoff while the store is unreachable: quick first retries (a busy SQLite), then a pace
# that does not flood a database that is restarting.
RETRY_FIRST, RETRY_MAX = 0.05, 5.0

Write = Callable[[Repositories], Awaitable[object]]
Fallback = Callable[[Repositories, Exception], Awaitable[object]]


# What a store that is busy, restarting or out of reach says, as opposed to one refusing a
# write ("no such column" is an OperationalError too, and retrying it would block the log).
_TRANSIENT_TEXT = re.compile(
    r"locked|busy|timeout|timed out|connect|closed|terminat|shutting down|i/o error|"
    r"unable to open|server|network|reset by peer|broken pipe",
    re.IGNORECASE,
)


def is_transient(exc: BaseException) -> bool:
    """Errors after which the same write can succeed later: the store, not the write, failed."""
    if isinstance(exc, (OSError, TimeoutError)):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OperationalError) and bool(_TRANSIENT_TEXT.search(str(exc.orig)))


class StoreFence(Protocol):
    """The lease an HA node acts under, as the journal's transactions carry it
    (`cc_core.acd.standby.Fence`)."""

    @property
    def lease(self) -> str: ...

    def held(self) -> int | None:
        """The token to write with (None: this node holds none, so it writes nothing)."""
        ...

    def lost(self, token: int) -> None:
        """The store has seen a newer token than ``token``: stop acting as active."""
        ...


@dataclass(slots=True)
class _Item:
    what: str
    # One of the two: a fact (written with its neighbours in a few statements) or a write
    # of another module's own.
    fact: Fact | None = None
    write: Write | None = None
    fallback: Fallback | None = None  # what to keep when the store refuses the write


def _plain(value: Any) -> Any:
    """``value`` as JSON the store accepts: odd objects by their repr, NaN and infinities as
    text."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(item) for item in value]
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    return repr(value)


def _keeper(
    event: str,
    interaction_id: str | None,
    queue: str | None,
    agent_id: str | None,
    payload: dict[str, Any],
    when: datetime,
) -> Fallback:
    """A fallback that keeps a refused write as a plain event: the refusal beside the data,
    and without the link to an interaction the store does not know."""

    async def keep(repos: Repositories, exc: Exception) -> None:
        linked = interaction_id
        if linked is not None:
            try:
                await repos.interactions.get(linked)
            except NotFound:
                linked = None
        data = _plain(payload)
        data["store_refused"] = f"{type(exc).__name__}: {exc}"
        if interaction_id is not None and linked is None:
            data["interaction_id"] = interaction_id
        await repos.events.append(
            event, interaction_id=linked, queue=queue, agent_id=agent_id, data=data, time=when
        )

    return keep


def _fallback_for(fact: Fact) -> Fallback | None:
    """How a refused fact is kept: as a plain event with the refusal beside it."""
    if isinstance(fact, LoggedEvent):
        return _keeper(
            fact.event, fact.interaction_id, fact.queue, fact.agent_id, fact.data or {}, fact.time
        )
    if isinstance(fact, StateChange):
        data = fact.data or {}
        # Logged under the stage's own name (its data carries it), as the event log does.
        event = str(data.get("stage", fact.state))
        return _keeper(event, fact.interaction_id, fact.queue, fact.agent_id, data, fact.at)
    if isinstance(fact, AttributeChange):
        return _keeper(
            "attributes", fact.interaction_id, None, None, fact.changes, datetime.now(UTC)
        )
    return None  # a new interaction: nothing to link a plain event to


def to_datetime(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class Journal:
    def __init__(self, store: Store, live: LiveState, *, fence: StoreFence | None = None) -> None:
        self.store = store
        self.live = live
        self.fence = fence
        self._pending: list[_Item] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._writer: asyncio.Task[None] | None = None
        self.written = 0
        self.failed = 0
        self.kept = 0  # refused writes kept as plain events
        self.retries = 0
        self.fenced = 0  # writes dropped because the store has seen a newer lease token

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

    async def close(self, grace: float = 30.0) -> None:
        """Stop the writer once everything is in, or after ``grace`` seconds of a store that
        does not answer (then the unwritten count is logged: stopping must not hang)."""
        if self._writer is None:
            return
        try:
            await asyncio.wait_for(self.drain(), grace)
        except TimeoutError:
            log_event(log, "journal.unwritten_at_close", logging.ERROR, writes=len(self._pending))
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer
        self._writer = None

    def write(self, what: str, write: Write, *, fallback: Fallback | None = None) -> None:
        """Queue a write of another module's own (e.g. linking a customer): after every fact
        recorded so far (in the same transaction as the facts batched with it, after them),
        with the same retries; ``fallback`` keeps what it can when the store refuses it."""
        self._queue(_Item(what, write=write, fallback=fallback))

    def _record(self, what: str, fact: Fact) -> None:
        # What to keep if the store refuses the fact is worked out then, not now: a closure
        # per fact cost the collector several objects each for a case that almost never comes.
        self._queue(_Item(what, fact=fact))

    def _queue(self, item: _Item) -> None:
        self._pending.append(item)
        self._idle.clear()
        self._wake.set()

    async def _write_forever(self) -> None:
        while True:
            await self._wake.wait()
            if len(self._pending) < MAX_BATCH:
                # Group commit: the facts of the next moments share one transaction. Each
                # transaction costs the event loop a few round trips to the database
                # thread, whatever its size; the ACD never waits for it.
                await asyncio.sleep(GATHER_SECONDS)
            self._wake.clear()
            while self._pending:
                batch = self._pending[:MAX_BATCH]
                await self._store(batch)
                # Only now: `drain()` and `backlog` count a batch as pending until it is in.
                del self._pending[: len(batch)]
            if not self._pending:
                self._idle.set()

    async def claim(self) -> None:
        """HA: record this node's token in the store before the node reads anything there,
        so the previous active node's late writes are refused from now on. Raises
        `StoreFenced` (after telling the fence) when a newer token has written already; store
        errors propagate (the node cannot start without its store). No-op without a fence."""
        if self.fence is None:
            return
        try:
            async with self._begin():
                pass
        except StoreFenced as exc:
            self._refused_by_fence(exc, writes=0, what="claim at start")
            raise

    @contextlib.asynccontextmanager
    async def _begin(self) -> AsyncIterator[Repositories]:
        """A store transaction that, with a fence, first claims the node's token."""
        async with self.store.transaction() as repos:
            if self.fence is not None:
                token = self.fence.held()
                if token is None:
                    raise StoreFenced(self.fence.lease, None, None)
                await repos.fences.claim(self.fence.lease, token)
            yield repos

    async def _store(self, batch: list[_Item]) -> None:
        refused = await self._commit(batch)
        if refused is not None:
            dropped, exc = refused
            self.fenced += len(dropped)
            self._refused_by_fence(exc, writes=len(dropped), what=dropped[0].what)

    async def _commit(self, batch: list[_Item]) -> tuple[list[_Item], StoreFenced] | None:
        """Commit ``batch``, waiting out a store that is away; a refused write is isolated so
        it cannot cost the others, then kept as well as the store allows. Returns what the
        HA fence refused: the writes not committed, and why (no retry can pass them)."""
        try:
            await self._retrying(lambda: self._transaction(batch), len(batch))
            return None
        except StoreFenced as exc:
            return batch, exc
        except Exception as exc:  # refused: `_retrying` only lets non-transient errors out
            refusal = exc
        if len(batch) == 1:
            try:
                await self._retrying(lambda: self._refused(batch[0], refusal), 1)
            except StoreFenced as exc:
                return batch, exc
            return None
        for index, item in enumerate(batch):
            refused = await self._commit([item])
            if refused is not None:
                return batch[index:], refused[1]
        return None

    def _refused_by_fence(self, exc: StoreFenced, *, writes: int, what: str) -> None:
        """One ERROR per refused transaction; the fence closes so the node steps down."""
        log_event(
            log,
            "journal.fenced",
            logging.ERROR,
            lease=exc.lease,
            token=exc.token,
            current=exc.current,
            writes=writes,
            first=what,
            error=str(exc),
        )
        if self.fence is not None and exc.token is not None:
            self.fence.lost(exc.token)

    async def _retrying(self, operation: Callable[[], Awaitable[None]], writes: int) -> None:
        delay, attempt = RETRY_FIRST, 0
        while True:
            try:
                await operation()
            except Exception as exc:
                if not is_transient(exc):
                    raise
                attempt += 1
                self.retries += 1
                if attempt == 1 or attempt % 20 == 0:
                    log_event(
                        log,
                        "journal.store_unavailable",
                        logging.WARNING,
                        attempts=attempt,
                        writes=writes,
                        backlog=len(self._pending),
                        error=f"{type(exc).__name__}: {exc}",
                    )
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX)
                continue
            if attempt:
                log_event(
                    log,
                    "journal.write_recovered",
                    logging.WARNING,
                    attempts=attempt + 1,
                    writes=writes,
                )
            return

    async def _transaction(self, batch: list[_Item]) -> None:
        async with self._begin() as repos:
            # The batch's facts in one go, then the writes of other modules: those may rely
            # on the facts' rows (a customer link on its interaction); no fact relies on them.
            # Splitting the facts around each write cost a round of statements per call.
            await repos.bulk.write([item.fact for item in batch if item.fact is not None])
            for item in batch:
                if item.write is not None:
                    await item.write(repos)
        self.written += len(batch)

    async def _refused(self, item: _Item, exc: Exception) -> None:
        """The store refused ``item``: keep what can be kept, and say why."""
        error = f"{type(exc).__name__}: {exc}"
        fallback = item.fallback if item.fact is None else _fallback_for(item.fact)
        if fallback is not None:
            try:
                async with self._begin() as repos:
                    await fallback(repos, exc)
            except StoreFenced:
                raise
            except Exception as second:
                if is_transient(second):
                    raise
                error += f"; kept as an event: refused too ({type(second).__name__}: {second})"
            else:
                self.kept += 1
                log_event(
                    log,
                    "journal.write_refused",
                    logging.WARNING,
                    what=item.what,
                    kept="as an event",
                    error=error,
                )
                return
        self.failed += 1
        log_event(log, "journal.write_failed", logging.ERROR, what=item.what, error=error)

    # ------------------------------------------------------------------ facts

    async def created(
        self,
        *,
        call_id: str,
        queue: str,
        priority: float,
        attributes: dict[str, Any],
        at: float,
        interaction_id: str | None = None,
    ) -> str:
        """A new voice interaction (state ``new``, event ``created``): its id at once, the row
        through the one writer like every other fact. The id is made here (a ULID, as the
        store makes them), so tagging the call never waits for a commit; every later write
        for it is queued behind this one, so the row is there before they are."""
        if interaction_id is None:
            interaction_id = new_id()
        fact = NewInteraction(
            interaction_id,
            "voice",
            to_datetime(at),
            queue=queue,
            priority=priority,
            attributes=dict(attributes),
            pbx_call_id=call_id,
        )
        self._record(f"{interaction_id} created", fact)
        return interaction_id

    async def moved(self, record: CallRecord, old: Stage, at: float, **data: Any) -> None:
        """Log one stage change of ``record`` (already applied in memory)."""
        new = record.stage
        state = STORE_STATE[new]
        payload = {"stage": new.value, "from_stage": old.value, **data}
        interaction_id, queue, agent_id = record.interaction_id, record.queue, record.agent_id
        when = to_datetime(at)
        fact: Fact
        if state is None:
            fact = LoggedEvent(new.value, when, interaction_id, queue, agent_id, payload)
        else:
            fact = StateChange(interaction_id, state, when, queue, agent_id, payload)
        self._record(
            f"{interaction_id} {new.value}",
            fact,
        )
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
        interaction_id = record.interaction_id
        payload = {"stage": record.stage.value, **data}
        self._event(event, payload, interaction_id, record.queue, record.agent_id, at)
        log_event(log, f"interaction.{event}", interaction=interaction_id)

    def fact(
        self,
        event: str,
        data: dict[str, Any],
        *,
        interaction_id: str,
        queue: str | None,
        agent_id: str | None,
        at: float,
    ) -> None:
        """A fact about an interaction that is not a stage change (an IVR step, a survey
        score), also once the call is over. Synchronous, so the IVR's step sink can call it."""
        self._event(event, dict(data), interaction_id, queue, agent_id, at)
        log_event(log, f"interaction.{event}", logging.DEBUG, interaction=interaction_id)

    def _event(
        self,
        event: str,
        payload: dict[str, Any],
        interaction_id: str | None,
        queue: str | None,
        agent_id: str | None,
        at: float,
    ) -> None:
        """Queue one plain event, kept without its links if the store refuses them."""
        when = to_datetime(at)
        self._record(
            f"{interaction_id or agent_id} {event}",
            LoggedEvent(event, when, interaction_id, queue, agent_id, payload),
        )

    def attributes(self, interaction_id: str, changes: dict[str, Any]) -> None:
        """Merge what was learned (IVR answers, a survey score) into the interaction's
        attributes."""
        values = dict(changes)
        self._record(
            f"{interaction_id} attributes",
            AttributeChange(interaction_id, values),
        )

    async def agent_event(self, agent_id: str, event: str, at: float, **data: Any) -> None:
        """Agent-only facts (login, ready, not_ready, logout, auto not-ready)."""
        self._event(f"agent_{event}", dict(data), None, None, agent_id, at)
        log_event(log, f"agent.{event}", agent=agent_id, **{k: str(v) for k, v in data.items()})

    async def publish(self, channel: str, data: dict[str, Any]) -> None:
        # The wallboard is a convenience: losing an event must not stop a call.
        try:
            await self.live.publish(channel, data)
        except LiveStateError as exc:
            log_event(log, "live.publish_failed", logging.WARNING, channel=channel, error=str(exc))
