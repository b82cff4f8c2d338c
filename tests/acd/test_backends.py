"""The same service on PostgreSQL and Redis: a call served, a restart with presence kept."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from cc_core.store.live import open_live_state
from tests.acd.conftest import point_at, running_centre, start_node, wait_for


async def test_postgres_and_redis_serve_and_survive_a_restart(
    tmp_path: Path, pg_database: Callable[[], str], redis_url: str
) -> None:
    async with running_centre(
        tmp_path, pg_database(), backend="redis", redis_url=redis_url
    ) as centre:
        namespace = centre.node.config.acd.node_id
        try:
            await centre.login("ann")
            served = centre.call()
            await wait_for(lambda: served.bridge is not None, what="served on PostgreSQL")
            assert centre.node.live is not None
            live = centre.node.live

            async def ann_busy() -> bool:
                record = await live.get_agent("ann")
                return record is not None and record.state == "busy"

            await wait_for(ann_busy, what="ann busy in Redis")
            centre.hang_up(served)
            await centre.request("PUT", "/api/agents/ann/state", {"state": "not_ready"})
            waiting = centre.call()

            async def queued() -> bool:
                rows = await centre.interactions()
                return [r.state for r in rows] == ["queued"]

            await wait_for(queued, what="call waiting")
            await centre.node.stop()
            centre.node = await start_node(centre.configs)
            assert centre.node.service is not None
            point_at(centre.sim, centre.node)
            # Presence came back from Redis: ann is still logged in (not ready).
            _, ann = await centre.request("GET", "/api/agents/ann")
            assert (ann["state"], ann["reason"]) == ("not_ready", "break")
            await wait_for(lambda: len(centre.node.service.calls) == 1, what="call re-adopted")
            await centre.request("PUT", "/api/agents/ann/state", {"state": "ready"})
            await wait_for(lambda: waiting.bridge is not None, what="served after restart")
            centre.hang_up(waiting)
            live = centre.node.live
            assert live is not None

            async def answered_twice() -> bool:
                stats = await live.get_queue("sales")
                return stats.counters.get("answered") == 2

            await wait_for(answered_twice, what="both answers counted in Redis")
        finally:
            live = await open_live_state("redis", redis_url, namespace)
            await live.clear()
            await live.aclose()
