"""Max wait: overflow to another queue (arrival kept), or an exit; driven by the engine timer."""

from __future__ import annotations

from pathlib import Path

from tests.acd.conftest import running_centre, wait_for


async def test_overflow_moves_the_call_to_the_other_queue(tmp_path: Path, store_url: str) -> None:
    extra = "    max_wait_seconds: 1\n    overflow: {queue: support}"
    async with running_centre(tmp_path, store_url, sales_extra=extra) as centre:
        chan = centre.call()

        async def overflowed() -> bool:
            rows = await centre.interactions()
            return bool(rows) and rows[0].queue == "support"

        await wait_for(overflowed, what="overflow to support")
        await centre.login("ben")
        await wait_for(lambda: chan.bridge is not None, what="served from support")
        (row,) = await centre.interactions()
        events = await centre.events_of(row.id)
        assert events[:5] == ["created", "ivr", "queued", "overflowed", "queued"]
        centre.hang_up(chan)


async def test_exit_ends_the_interaction_and_the_waiting_call(
    tmp_path: Path, store_url: str
) -> None:
    extra = "    max_wait_seconds: 1\n    overflow: {exit: callback}"
    async with running_centre(tmp_path, store_url, sales_extra=extra) as centre:
        chan = centre.call()
        rows = await wait_for(centre.interactions, what="interaction created")

        async def closed() -> bool:
            return not await centre.interactions()

        await wait_for(closed, what="interaction ended at max wait")
        assert centre.node.store is not None
        async with centre.node.store.transaction(readonly=True) as repos:
            events = await repos.events.for_interaction(rows[0].id)
        assert events[-1].event == "ended"
        assert events[-1].data["exit"] == "callback"
        # The shipped dialplan has no cc-exit context yet: the caller is hung up, not left.
        await wait_for(lambda: chan.hung_up, what="caller released")
