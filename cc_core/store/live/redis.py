"""Live state in Redis, shared by several ACD nodes, the API and the wallboard.

Key layout (all under the namespace, see docs/live-state.md):

    {ns}:agents               set of agent ids
    {ns}:agent:{id}           hash: state reason since interactions quality version presence
    {ns}:queues               set of queue ids
    {ns}:queue:{id}           hash: waiting longest c:{counter}...
    {ns}:lease:{name}         hash: holder token, with a PX expiry
    {ns}:lease-token:{name}   fencing-token counter (kept when the lease expires)
    {ns}:quality:{id}         string: a call's live quality figures (JSON), with a PX expiry
    {ns}:ev:{channel}         pub/sub channel

The client never retries a command on its own: a command may have reached the server before the
connection broke, and replaying an increment would count twice. A lost connection surfaces as
LiveStateUnavailable and the caller decides.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import weakref
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import Any, cast

from redis import exceptions as rx
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from cc_core.logs import log_event
from cc_core.store.live import lua
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
    LiveStateError,
    LiveStateUnavailable,
    QueueStats,
    check_id,
    check_namespace,
    check_ttl,
)

log = logging.getLogger(__name__)

# How long a subscription waits for one read before checking whether it was closed.
_POLL_SECONDS = 0.25
_COUNTER_PREFIX = "c:"
# The client decodes replies (decode_responses=True); redis-py's stubs cannot know that.
StrMap = dict[str, str]


@contextlib.asynccontextmanager
async def _guard(where: str, op: str, limit: float | None) -> AsyncIterator[None]:
    """Bound the call in time and turn redis-py's exceptions into the live state's own."""
    try:
        if limit is None:
            yield
        else:
            async with asyncio.timeout(limit):
                yield
    except (rx.ConnectionError, rx.TimeoutError, OSError, TimeoutError) as exc:
        raise LiveStateUnavailable(f"redis at {where}: {op} failed: {exc!r}") from exc
    except rx.ResponseError as exc:
        raise LiveStateDataError(f"redis at {where}: {op} refused: {exc}") from exc
    except rx.RedisError as exc:
        raise LiveStateError(f"redis at {where}: {op} failed: {exc}") from exc


def _float_or_none(raw: str | None) -> float | None:
    return None if raw in (None, "") else float(raw)


class RedisSubscription:
    def __init__(
        self, pubsub: PubSub, channels: tuple[str, ...], prefix: str, where: str
    ) -> None:
        self._ps = pubsub
        self._channels = channels
        self._prefix = prefix
        self._where = where
        # Serialises reads with aclose so the connection is never closed under a reader.
        self._lock = asyncio.Lock()
        self._closed = False
        self._invalid = 0

    @property
    def channels(self) -> tuple[str, ...]:
        return self._channels

    @property
    def dropped(self) -> int:
        # Redis itself disconnects a subscriber past client-output-buffer-limit pubsub; that
        # shows up as LiveStateUnavailable, never as silently dropped events.
        return 0

    @property
    def invalid(self) -> int:
        return self._invalid

    def __aiter__(self) -> RedisSubscription:
        return self

    async def __anext__(self) -> LiveEvent:
        while True:
            if self._closed:
                raise StopAsyncIteration
            async with self._lock:
                if self._closed:
                    raise StopAsyncIteration
                try:
                    async with _guard(self._where, "reading subscription", None):
                        msg = await self._ps.get_message(
                            ignore_subscribe_messages=True, timeout=_POLL_SECONDS
                        )
                except LiveStateError:
                    self._closed = True
                    await self._close_quietly()
                    raise
            if msg is None or msg.get("type") != "message":
                continue
            channel = str(msg["channel"]).removeprefix(self._prefix)
            data = decode_event(msg["data"])
            if data is None:
                self._invalid += 1
                log_event(
                    log, "live.event_skipped", logging.WARNING,
                    channel=channel, why="payload is not a JSON object",
                )
                continue
            return LiveEvent(channel, data)

    async def _close_quietly(self) -> None:
        with contextlib.suppress(rx.RedisError, OSError):
            await self._ps.aclose()

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        async with self._lock:
            await self._close_quietly()

    async def __aenter__(self) -> RedisSubscription:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class RedisLiveState:
    """Live state in one Redis database, every key under `{namespace}:`.

    `clock` stamps records (epoch seconds); lease expiry uses the Redis server's own clock.
    """

    def __init__(
        self,
        url: str,
        namespace: str,
        *,
        clock: Callable[[], float] = time.time,
        connect_timeout: float = 2.0,
        op_timeout: float = 5.0,
    ) -> None:
        self._namespace = check_namespace(namespace)
        self._prefix = f"{namespace}:"
        self._clock = clock
        self._op_timeout = op_timeout
        try:
            self._r: Redis = Redis.from_url(
                url,
                decode_responses=True,
                # Foreign bytes on a channel must not break the reader: they become U+FFFD,
                # fail JSON decoding and are counted as invalid.
                encoding_errors="replace",
                socket_connect_timeout=connect_timeout,
                # No socket_timeout: redis-py then sends through asyncio.wait_for, which on
                # Python 3.11 can swallow a task's cancellation. Calls are bounded by
                # asyncio.timeout in _guard instead.
                socket_timeout=None,
                retry=Retry(NoBackoff(), 0),
                health_check_interval=30,
                # Names the centre in CLIENT LIST, where an operator looks first.
                client_name=f"ccplane-{namespace}",
            )
        except ValueError as exc:
            raise ValueError(
                f"redis url: got {url!r}, expected redis://[user:pass@]host[:port][/db] ({exc})"
            ) from exc
        kw = self._r.connection_pool.connection_kwargs
        self._where = f"{kw.get('host', kw.get('path', '?'))}:{kw.get('port', '')}"
        self._set_agent = self._r.register_script(lua.SET_AGENT)
        self._transition = self._r.register_script(lua.TRANSITION)
        self._fenced_transition = self._r.register_script(lua.FENCED_TRANSITION)
        self._decr_waiting = self._r.register_script(lua.DECR_WAITING)
        self._acquire = self._r.register_script(lua.ACQUIRE_LEASE)
        self._renew = self._r.register_script(lua.RENEW_LEASE)
        self._release = self._r.register_script(lua.RELEASE_LEASE)
        self._holder = self._r.register_script(lua.LEASE_HOLDER)
        self._subs: weakref.WeakSet[RedisSubscription] = weakref.WeakSet()

    @property
    def namespace(self) -> str:
        return self._namespace

    def _k(self, *parts: str) -> str:
        return self._prefix + ":".join(parts)

    def _g(self, op: str) -> contextlib.AbstractAsyncContextManager[None]:
        return _guard(self._where, op, self._op_timeout)

    async def ping(self) -> None:
        async with self._g("PING"):
            await self._r.ping()

    async def clear(self) -> int:
        deleted = 0
        cursor = 0
        # The namespace holds no glob characters, so this matches our keys and no others.
        while True:
            async with self._g("deleting the namespace"):
                cursor, keys = await self._r.scan(cursor, match=self._prefix + "*", count=500)
                if keys:
                    deleted += int(await self._r.unlink(*keys))
            if cursor == 0:
                return deleted

    async def aclose(self) -> None:
        # Subscriptions first, so their readers end cleanly instead of seeing a dead socket.
        for sub in list(self._subs):
            await sub.aclose()
        with contextlib.suppress(rx.RedisError, OSError):
            await self._r.aclose()

    # agents

    def _decode_agent(self, agent_id: str, h: dict[str, str]) -> AgentLive:
        key = self._k("agent", agent_id)
        try:
            ix = json.loads(h.get("interactions") or "[]")
            if not isinstance(ix, list):
                raise ValueError("interactions is not a JSON list")
            return AgentLive(
                agent_id=agent_id,
                state=h["state"],
                reason=h.get("reason", ""),
                since=float(h["since"]),
                interactions=tuple(ix),
                quality=_float_or_none(h.get("quality")),
                version=int(h.get("version", "0")),
                # Absent in records written before the field existed: "" (not recorded).
                presence=h.get("presence", ""),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise LiveStateDataError(f"redis key {key}: unreadable agent record ({exc})") from exc

    async def set_agent(self, record: AgentLive) -> AgentLive:
        if not isinstance(record, AgentLive):
            raise LiveStateDataError(f"record: got {type(record).__name__}, expected AgentLive")
        async with self._g("set_agent"):
            version = await self._set_agent(
                keys=[self._k("agent", record.agent_id), self._k("agents")],
                args=[
                    record.agent_id,
                    record.state,
                    record.reason,
                    repr(record.since),
                    json.dumps(list(record.interactions)),
                    "" if record.quality is None else repr(float(record.quality)),
                    record.presence,
                ],
            )
        return AgentLive(
            record.agent_id, record.state, record.since, record.reason,
            record.interactions, record.quality, int(version), record.presence,
        )

    async def get_agent(self, agent_id: str) -> AgentLive | None:
        check_id("agent_id", agent_id)
        async with self._g("get_agent"):
            h = cast(StrMap, await self._r.hgetall(self._k("agent", agent_id)))
        return self._decode_agent(agent_id, h) if h else None

    async def list_agents(self) -> list[AgentLive]:
        async with self._g("list_agents"):
            ids = sorted(cast(set[str], await self._r.smembers(self._k("agents"))))
            pipe = self._r.pipeline(transaction=False)
            for agent_id in ids:
                pipe.hgetall(self._k("agent", agent_id))
            rows = await pipe.execute() if ids else []
        out: list[AgentLive] = []
        for agent_id, h in zip(ids, rows, strict=True):
            if not h:
                continue  # removed between the two reads
            try:
                out.append(self._decode_agent(agent_id, h))
            except LiveStateDataError as exc:
                # One damaged record must not blank the whole wallboard.
                log_event(
                    log, "live.agent_unreadable", logging.ERROR, agent_id=agent_id, error=str(exc)
                )
        return out

    async def remove_agent(self, agent_id: str) -> bool:
        check_id("agent_id", agent_id)
        async with self._g("remove_agent"):
            pipe = self._r.pipeline(transaction=True)
            pipe.delete(self._k("agent", agent_id))
            pipe.srem(self._k("agents"), agent_id)
            deleted, _ = await pipe.execute()
        return bool(deleted)

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
        return await self._cas(
            agent_id, expected_state, new_state, reason, add_interaction, remove_interaction,
            max_interactions, None,
        )

    async def reserve(
        self,
        agent_id: str,
        expected_state: str,
        interaction_id: str,
        *,
        max_interactions: int | None = None,
        fence: LeaseFence | None = None,
    ) -> AgentLive | None:
        return await self._cas(
            agent_id, expected_state, RESERVED, "", check_id("interaction_id", interaction_id),
            None, max_interactions, check_fence(fence),
        )

    async def _cas(
        self,
        agent_id: str,
        expected_state: str,
        new_state: str,
        reason: str,
        add_interaction: str | None,
        remove_interaction: str | None,
        max_interactions: int | None,
        fence: LeaseFence | None,
    ) -> AgentLive | None:
        check_id("agent_id", agent_id)
        check_transition_args(
            expected_state, new_state, reason, add_interaction, remove_interaction,
            max_interactions,
        )
        keys = [self._k("agent", agent_id)]
        args: list[str | int] = [
            expected_state, new_state, reason, repr(float(self._clock())),
            add_interaction or "", remove_interaction or "", max_interactions or 0,
        ]
        script = self._transition
        if fence is not None:
            keys.append(self._k("lease", fence.lease))
            args.append(str(fence.token))
            script = self._fenced_transition
        async with self._g("transition"):
            try:
                raw = await script(keys=keys, args=args)
            except rx.ResponseError as exc:
                if "LIVEDATA" in str(exc):
                    raise LiveStateDataError(str(exc).replace("LIVEDATA ", "")) from exc
                raise
        if isinstance(raw, int) and fence is not None:
            # Only the fence check answers with an integer: the lease's current token.
            raise FenceRefused(fence.lease, fence.token, raw or None)
        if not raw:
            return None
        return self._decode_agent(agent_id, dict(zip(raw[::2], raw[1::2], strict=True)))

    # queues

    async def incr_waiting(self, queue_id: str, by: int = 1) -> int:
        check_id("queue_id", queue_id)
        by = check_amount("by", by)
        async with self._g("incr_waiting"):
            pipe = self._r.pipeline(transaction=True)
            pipe.hincrby(self._k("queue", queue_id), "waiting", by)
            pipe.sadd(self._k("queues"), queue_id)
            n, _ = await pipe.execute()
        return int(n)

    async def decr_waiting(self, queue_id: str, by: int = 1) -> int:
        check_id("queue_id", queue_id)
        by = check_amount("by", by)
        async with self._g("decr_waiting"):
            n = await self._decr_waiting(
                keys=[self._k("queue", queue_id), self._k("queues")], args=[queue_id, by]
            )
        return int(n)

    async def set_longest_wait_start(self, queue_id: str, since: float | None) -> None:
        check_id("queue_id", queue_id)
        since = check_since(since)
        async with self._g("set_longest_wait_start"):
            pipe = self._r.pipeline(transaction=True)
            pipe.hset(
                self._k("queue", queue_id), "longest", "" if since is None else repr(float(since))
            )
            pipe.sadd(self._k("queues"), queue_id)
            await pipe.execute()

    async def incr_counter(self, queue_id: str, name: str, by: int = 1) -> int:
        check_id("queue_id", queue_id)
        check_id("counter name", name)
        by = check_amount("by", by)
        async with self._g("incr_counter"):
            pipe = self._r.pipeline(transaction=True)
            pipe.hincrby(self._k("queue", queue_id), _COUNTER_PREFIX + name, by)
            pipe.sadd(self._k("queues"), queue_id)
            n, _ = await pipe.execute()
        return int(n)

    def _decode_queue(self, queue_id: str, h: dict[str, str]) -> QueueStats:
        try:
            return QueueStats(
                queue_id,
                int(h.get("waiting", "0")),
                _float_or_none(h.get("longest")),
                {
                    k.removeprefix(_COUNTER_PREFIX): int(v)
                    for k, v in h.items()
                    if k.startswith(_COUNTER_PREFIX)
                },
            )
        except ValueError as exc:
            raise LiveStateDataError(
                f"redis key {self._k('queue', queue_id)}: unreadable queue stats ({exc})"
            ) from exc

    async def get_queue(self, queue_id: str) -> QueueStats:
        check_id("queue_id", queue_id)
        async with self._g("get_queue"):
            h = cast(StrMap, await self._r.hgetall(self._k("queue", queue_id)))
        return self._decode_queue(queue_id, h)

    async def queue_snapshot(self) -> dict[str, QueueStats]:
        async with self._g("queue_snapshot"):
            ids = sorted(cast(set[str], await self._r.smembers(self._k("queues"))))
            pipe = self._r.pipeline(transaction=False)
            for queue_id in ids:
                pipe.hgetall(self._k("queue", queue_id))
            rows = await pipe.execute() if ids else []
        out: dict[str, QueueStats] = {}
        for queue_id, h in zip(ids, rows, strict=True):
            try:
                out[queue_id] = self._decode_queue(queue_id, h)
            except LiveStateDataError as exc:
                log_event(
                    log, "live.queue_unreadable", logging.ERROR, queue_id=queue_id, error=str(exc)
                )
        return out

    # leases

    def _lease(self, name: str, holder: str, raw: list[Any] | None) -> Lease | None:
        if not raw:
            return None
        token, pttl = int(raw[0]), int(raw[1])
        return Lease(name, holder, token, max(0.0, pttl / 1000.0))

    async def acquire_lease(self, name: str, holder: str, ttl: float) -> Lease | None:
        check_id("lease name", name)
        check_id("holder", holder)
        ms = max(1, round(check_ttl(ttl) * 1000))
        async with self._g("acquire_lease"):
            raw = await self._acquire(
                keys=[self._k("lease", name), self._k("lease-token", name)], args=[holder, ms]
            )
        return self._lease(name, holder, raw)

    async def renew_lease(self, name: str, holder: str, ttl: float) -> Lease | None:
        check_id("lease name", name)
        check_id("holder", holder)
        ms = max(1, round(check_ttl(ttl) * 1000))
        async with self._g("renew_lease"):
            raw = await self._renew(keys=[self._k("lease", name)], args=[holder, ms])
        return self._lease(name, holder, raw)

    async def release_lease(self, name: str, holder: str) -> bool:
        check_id("lease name", name)
        check_id("holder", holder)
        async with self._g("release_lease"):
            return bool(await self._release(keys=[self._k("lease", name)], args=[holder]))

    async def lease_holder(self, name: str) -> Lease | None:
        check_id("lease name", name)
        async with self._g("lease_holder"):
            raw = await self._holder(keys=[self._k("lease", name)])
        if not raw:
            return None
        return self._lease(name, str(raw[0]), [raw[1], raw[2]])

    # call quality

    async def set_call_quality(self, interaction_id: str, data: dict[str, Any], ttl: float) -> None:
        payload = encode_quality(interaction_id, data)
        ms = max(1, round(check_ttl(ttl) * 1000))
        async with self._g("set_call_quality"):
            await self._r.set(self._k("quality", interaction_id), payload, px=ms)

    async def get_call_quality(self, interaction_id: str) -> dict[str, Any] | None:
        check_id("interaction_id", interaction_id)
        async with self._g("get_call_quality"):
            raw = await self._r.get(self._k("quality", interaction_id))
        if raw is None:
            return None
        data = decode_event(raw)
        if data is None:
            raise LiveStateDataError(
                f"quality of {interaction_id!r}: stored value is not a JSON object"
            )
        return data

    async def remove_call_quality(self, interaction_id: str) -> bool:
        check_id("interaction_id", interaction_id)
        async with self._g("remove_call_quality"):
            return bool(await self._r.delete(self._k("quality", interaction_id)))

    # events

    async def publish(self, channel: str, data: dict[str, Any]) -> int:
        payload = encode_event(channel, data)
        async with self._g("publish"):
            return int(await self._r.publish(self._k("ev", channel), payload))

    async def subscribe(self, *channels: str) -> RedisSubscription:
        if not channels:
            raise LiveStateDataError("subscribe: expected at least one channel")
        for ch in channels:
            check_id("channel", ch)
        unique = tuple(dict.fromkeys(channels))
        ps = self._r.pubsub()
        try:
            async with self._g("subscribe"):
                await ps.subscribe(*(self._k("ev", ch) for ch in unique))
                await self._await_confirmations(ps, len(unique))
        except BaseException:
            with contextlib.suppress(rx.RedisError, OSError):
                await ps.aclose()
            raise
        sub = RedisSubscription(ps, unique, self._k("ev", ""), self._where)
        self._subs.add(sub)
        return sub

    async def _await_confirmations(self, ps: PubSub, count: int) -> None:
        # SUBSCRIBE is only in force once Redis confirms it; returning earlier would let a
        # publish that follows on another connection slip past this subscriber.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._op_timeout
        confirmed = 0
        while confirmed < count:
            left = deadline - loop.time()
            if left <= 0:
                raise LiveStateUnavailable(
                    f"redis at {self._where}: subscribe not confirmed within {self._op_timeout}s"
                )
            msg = await ps.get_message(ignore_subscribe_messages=False, timeout=left)
            if msg is not None and msg.get("type") == "subscribe":
                confirmed += 1
