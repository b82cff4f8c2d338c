"""In-process live state: the embedded default for a single ACD node.

Every method runs to completion without awaiting anything, so under one asyncio loop each call
is atomic just as a Redis Lua script is. Call it from the loop's thread only.

Slow subscribers: each subscription owns a bounded buffer (`buffer` events, 1000 by default).
When it is full the oldest event is discarded and the subscription's `dropped` counter grows, so
a stalled wallboard can never hold the publisher back or grow memory without bound. A consumer
that sees `dropped` change should re-read the snapshots it derives from events.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Any

from cc_core.store.live.codec import (
    check_amount,
    check_fence,
    check_since,
    check_transition_args,
    decode_event,
    encode_event,
    encode_quality,
)
from cc_core.store.live.port import (
    RESERVED,
    AgentLive,
    FenceRefused,
    Lease,
    LeaseFence,
    LiveEvent,
    LiveStateDataError,
    QueueStats,
    check_id,
    check_namespace,
    check_ttl,
)

DEFAULT_BUFFER = 1000


@dataclass(slots=True)
class _Held:
    holder: str
    token: int
    expires_at: float


@dataclass(slots=True)
class _Queue:
    waiting: int = 0
    longest_wait_since: float | None = None
    counters: dict[str, int] = field(default_factory=dict)


class MemorySubscription:
    def __init__(self, bus: MemoryLiveState, channels: tuple[str, ...], buffer: int) -> None:
        self._bus = bus
        self._channels = channels
        # Events are kept as JSON text so every subscriber decodes its own copy.
        self._buf: collections.deque[tuple[str, str]] = collections.deque(maxlen=buffer)
        self._ready = asyncio.Event()
        self._closed = False
        self._dropped = 0
        self._invalid = 0

    @property
    def channels(self) -> tuple[str, ...]:
        return self._channels

    @property
    def dropped(self) -> int:
        return self._dropped

    @property
    def invalid(self) -> int:
        return self._invalid

    def _deliver(self, channel: str, payload: str) -> None:
        if len(self._buf) == self._buf.maxlen:
            self._dropped += 1  # the deque discards the oldest on append
        self._buf.append((channel, payload))
        self._ready.set()

    def __aiter__(self) -> MemorySubscription:
        return self

    async def __anext__(self) -> LiveEvent:
        while True:
            if self._closed:
                raise StopAsyncIteration
            if self._buf:
                channel, payload = self._buf.popleft()
                data = decode_event(payload)
                if data is None:
                    self._invalid += 1
                    continue
                return LiveEvent(channel, data)
            self._ready.clear()
            await self._ready.wait()

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._buf.clear()
        self._bus._unsubscribe(self)
        self._ready.set()  # wake a reader parked in __anext__ so it can stop

    async def __aenter__(self) -> MemorySubscription:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class MemoryLiveState:
    """Live state held in this process.

    `clock` stamps records (epoch seconds); `monotonic` times lease expiry. Tests inject one
    fake clock for both so expiry needs no sleeping.
    """

    def __init__(
        self,
        namespace: str = "cc",
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        buffer: int = DEFAULT_BUFFER,
    ) -> None:
        if isinstance(buffer, bool) or not isinstance(buffer, int) or buffer < 1:
            raise ValueError(f"buffer: got {buffer!r}, expected an int >= 1")
        self._namespace = check_namespace(namespace)
        self._clock = clock
        self._monotonic = monotonic
        self._buffer = buffer
        self._agents: dict[str, AgentLive] = {}
        self._queues: dict[str, _Queue] = {}
        self._leases: dict[str, _Held] = {}
        self._tokens: dict[str, int] = {}
        self._subs: dict[str, list[MemorySubscription]] = {}
        self._quality: dict[str, tuple[str, float]] = {}  # id -> (JSON, expires, monotonic)

    @property
    def namespace(self) -> str:
        return self._namespace

    async def ping(self) -> None:
        return None

    async def clear(self) -> int:
        n = len(self._agents) + len(self._queues) + len(self._leases) + len(self._tokens)
        n += len(self._quality)
        self._quality.clear()
        self._agents.clear()
        self._queues.clear()
        self._leases.clear()
        self._tokens.clear()
        return n

    async def aclose(self) -> None:
        for subs in list(self._subs.values()):
            for sub in list(subs):
                await sub.aclose()

    # agents

    async def set_agent(self, record: AgentLive) -> AgentLive:
        if not isinstance(record, AgentLive):
            raise LiveStateDataError(
                f"record: got {type(record).__name__}, expected AgentLive"
            )
        old = self._agents.get(record.agent_id)
        stored = replace(record, version=(old.version if old else 0) + 1)
        self._agents[record.agent_id] = stored
        return stored

    async def get_agent(self, agent_id: str) -> AgentLive | None:
        return self._agents.get(check_id("agent_id", agent_id))

    async def list_agents(self) -> list[AgentLive]:
        return [self._agents[k] for k in sorted(self._agents)]

    async def remove_agent(self, agent_id: str) -> bool:
        return self._agents.pop(check_id("agent_id", agent_id), None) is not None

    async def transition(
        self,
        agent_id: str,
        expected_state: str,
        new_state: str,
        *,
        reason: str = "",
        add_interaction: str | None = None,
        remove_interaction: str | None = None,
        max_interactions: int | None = None,
    ) -> AgentLive | None:
        check_id("agent_id", agent_id)
        check_transition_args(
            expected_state, new_state, reason, add_interaction, remove_interaction,
            max_interactions,
        )
        cur = self._agents.get(agent_id)
        if cur is None or cur.state != expected_state:
            return None
        if max_interactions is not None and len(cur.interactions) >= max_interactions:
            return None
        ix = [i for i in cur.interactions if i != remove_interaction]
        if add_interaction is not None and add_interaction not in ix:
            ix.append(add_interaction)
        new = replace(
            cur,
            state=new_state,
            reason=reason,
            since=self._clock(),
            interactions=tuple(ix),
            version=cur.version + 1,
        )
        self._agents[agent_id] = new
        return new

    async def reserve(
        self,
        agent_id: str,
        expected_state: str,
        interaction_id: str,
        *,
        max_interactions: int | None = None,
        fence: LeaseFence | None = None,
    ) -> AgentLive | None:
        check_id("agent_id", agent_id)
        check_id("interaction_id", interaction_id)
        check_transition_args(expected_state, RESERVED, "", interaction_id, None, max_interactions)
        fence = check_fence(fence)
        if fence is not None:
            # Checked before the state, with no await in between: one atomic step, as in Lua.
            held = self._live_lease(fence.lease)
            if held is None or held.token != fence.token:
                raise FenceRefused(fence.lease, fence.token, None if held is None else held.token)
        return await self.transition(
            agent_id, expected_state, RESERVED,
            add_interaction=interaction_id,
            max_interactions=max_interactions,
        )

    # queues

    def _queue(self, queue_id: str) -> _Queue:
        return self._queues.setdefault(check_id("queue_id", queue_id), _Queue())

    async def incr_waiting(self, queue_id: str, by: int = 1) -> int:
        by = check_amount("by", by)
        q = self._queue(queue_id)
        q.waiting += by
        return q.waiting

    async def decr_waiting(self, queue_id: str, by: int = 1) -> int:
        by = check_amount("by", by)
        q = self._queue(queue_id)
        q.waiting = max(0, q.waiting - by)
        return q.waiting

    async def set_longest_wait_start(self, queue_id: str, since: float | None) -> None:
        since = check_since(since)
        self._queue(queue_id).longest_wait_since = None if since is None else float(since)

    async def incr_counter(self, queue_id: str, name: str, by: int = 1) -> int:
        check_id("counter name", name)
        by = check_amount("by", by)
        counters = self._queue(queue_id).counters
        counters[name] = counters.get(name, 0) + by
        return counters[name]

    async def get_queue(self, queue_id: str) -> QueueStats:
        q = self._queues.get(check_id("queue_id", queue_id))
        if q is None:
            return QueueStats(queue_id)
        return QueueStats(queue_id, q.waiting, q.longest_wait_since, dict(q.counters))

    async def queue_snapshot(self) -> dict[str, QueueStats]:
        return {qid: await self.get_queue(qid) for qid in sorted(self._queues)}

    # leases

    def _live_lease(self, name: str) -> _Held | None:
        held = self._leases.get(check_id("lease name", name))
        if held is not None and held.expires_at <= self._monotonic():
            del self._leases[name]
            return None
        return held

    def _lease(self, name: str, held: _Held) -> Lease:
        return Lease(name, held.holder, held.token, max(0.0, held.expires_at - self._monotonic()))

    async def acquire_lease(self, name: str, holder: str, ttl: float) -> Lease | None:
        check_id("holder", holder)
        ttl = check_ttl(ttl)
        held = self._live_lease(name)
        if held is None:
            # As the Redis script: never below the wall clock in microseconds, so tokens keep
            # growing after the counter is lost (`clear`, Redis's restart without persistence).
            token = max(self._tokens.get(name, 0) + 1, time.time_ns() // 1000)
            self._tokens[name] = token
            held = self._leases[name] = _Held(holder, token, self._monotonic() + ttl)
        elif held.holder == holder:
            held.expires_at = self._monotonic() + ttl
        else:
            return None
        return self._lease(name, held)

    async def renew_lease(self, name: str, holder: str, ttl: float) -> Lease | None:
        check_id("holder", holder)
        ttl = check_ttl(ttl)
        held = self._live_lease(name)
        if held is None or held.holder != holder:
            return None
        held.expires_at = self._monotonic() + ttl
        return self._lease(name, held)

    async def release_lease(self, name: str, holder: str) -> bool:
        check_id("holder", holder)
        held = self._live_lease(name)
        if held is None or held.holder != holder:
            return False
        del self._leases[name]
        return True

    async def lease_holder(self, name: str) -> Lease | None:
        held = self._live_lease(name)
        return None if held is None else self._lease(name, held)

    # call quality

    async def set_call_quality(self, interaction_id: str, data: dict[str, Any], ttl: float) -> None:
        payload = encode_quality(interaction_id, data)
        self._quality[interaction_id] = (payload, self._monotonic() + check_ttl(ttl))

    async def get_call_quality(self, interaction_id: str) -> dict[str, Any] | None:
        held = self._quality.get(check_id("interaction_id", interaction_id))
        if held is None:
            return None
        if held[1] <= self._monotonic():
            del self._quality[interaction_id]
            return None
        return decode_event(held[0])

    async def remove_call_quality(self, interaction_id: str) -> bool:
        present = await self.get_call_quality(interaction_id) is not None
        self._quality.pop(interaction_id, None)
        return present

    # events

    async def publish(self, channel: str, data: dict[str, Any]) -> int:
        payload = encode_event(channel, data)
        subs = self._subs.get(channel, [])
        for sub in subs:
            sub._deliver(channel, payload)
        return len(subs)

    async def subscribe(self, *channels: str) -> MemorySubscription:
        if not channels:
            raise LiveStateDataError("subscribe: expected at least one channel")
        for ch in channels:
            check_id("channel", ch)
        unique = tuple(dict.fromkeys(channels))
        sub = MemorySubscription(self, unique, self._buffer)
        for ch in unique:
            self._subs.setdefault(ch, []).append(sub)
        return sub

    def _unsubscribe(self, sub: MemorySubscription) -> None:
        for ch in sub.channels:
            subs = self._subs.get(ch, [])
            if sub in subs:
                subs.remove(sub)
            if not subs:
                self._subs.pop(ch, None)
