"""answered_in_sla on the queue's live counters (the wallboard's "SLA so far"): an answer
counts when the wait from arrival in the queue to the answer is within the queue's SLA
seconds. Simulated PBX with the shipped dialplan, the ACD, SQLite store, memory live state."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tests.acd.conftest import Centre, running_centre, wait_for

SLA = "    sla: {percent: 80, seconds: 1}"


async def counters(centre: Centre, queue: str) -> dict[str, Any]:
    status, body = await centre.request("GET", "/api/queues")
    assert status == 200, body
    (found,) = [q for q in body["queues"] if q["id"] == queue]
    return dict(found["counters"])


async def test_only_answers_within_the_sla_seconds_count(tmp_path: Path,
                                                         sqlite_url: str) -> None:
    async with running_centre(tmp_path, sqlite_url, sales_extra=SLA) as centre:
        late = centre.call()
        # Nobody is logged in: this caller waits past the 1 s SLA before Ann answers.
        await wait_for(lambda: late.context == "cc-hold", what="first caller on hold")
        await asyncio.sleep(1.2)
        await centre.login("ann")
        await wait_for(lambda: late.bridge is not None, what="late caller answered")

        async def answered(n: int) -> dict[str, Any] | None:
            found = await counters(centre, "sales")
            return found if found.get("answered") == n else None

        first = await wait_for(lambda: answered(1), what="first answer counted")
        assert first.get("answered_in_sla") == 0  # present, so the wallboard shows 0 %
        # Ben is free and answers at once: within the SLA.
        await centre.login("ben")
        soon = centre.call()
        await wait_for(lambda: soon.bridge is not None, what="second caller answered")
        second = await wait_for(lambda: answered(2), what="second answer counted")
        assert second["answered_in_sla"] == 1
        centre.hang_up(late)
        centre.hang_up(soon)
