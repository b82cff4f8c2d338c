"""Callback requests across an ACD restart: a waiting request is taken back from the store
(arrival, number, queue and attempt kept) and called back once; a retry not yet due keeps its
time; an attempt under way when the ACD stopped is cut and the request queued again."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from pbx.sim.channel import Channel
from pbx.sim.endpoints import Endpoint
from tests.acd.conftest import point_at, start_node, wait_for
from tests.acd.test_callback import (
    ask_for_callback,
    callback_centre,
    customer_channel,
    requests_of,
)
from tests.acd.test_ivr_flow import IvrCentre, crm  # noqa: F401  (fixture)


async def restart(centre: IvrCentre, configs: Path) -> None:
    await centre.node.stop()
    centre.node = await start_node(configs)
    point_at(centre.sim, centre.node)


@contextlib.asynccontextmanager
async def restartable(
    tmp_path: Path, sqlite_url: str, crm_url: str, **settings: int
) -> AsyncIterator[tuple[IvrCentre, Endpoint]]:
    async with callback_centre(tmp_path, sqlite_url, crm_url, **settings) as (centre, trunk):
        started = centre.node
        try:
            yield centre, trunk
        finally:
            if centre.node is not started:  # the context stops the first node only
                await centre.node.stop()


@pytest.fixture
async def centre_and_trunk(
    tmp_path: Path,
    sqlite_url: str,
    crm: tuple[str, list[dict[str, str]]],  # noqa: F811
) -> AsyncIterator[tuple[IvrCentre, Endpoint]]:
    async with restartable(tmp_path, sqlite_url, crm[0], max_attempts=2) as found:
        yield found


def agent_legs(centre: IvrCentre, endpoint: str) -> list[Channel]:
    return [c for c in centre.sim.pbx.channels.values() if c.name.startswith(f"PJSIP/{endpoint}-")]


async def test_waiting_request_is_taken_back_and_called_back_once(
    centre_and_trunk: tuple[IvrCentre, Endpoint], tmp_path: Path
) -> None:
    centre, trunk = centre_and_trunk
    first, number, request = await ask_for_callback(centre)
    await restart(centre, tmp_path / "configs")

    async def back() -> Any:
        record = centre.acd.calls.get(request.id)
        return record if record is not None and record.stage.value == "queued" else None

    record = await wait_for(back, what="request taken back into its queue")
    # The same request: its virtual call, its queue, its arrival (the moment it was asked for).
    assert (record.call_id, record.queue) == (request.pbx_call_id, "billing")
    assert record.arrival == pytest.approx(request.attributes["requested_at"])
    assert record.caller_num == number
    row = await centre.row(request.id)
    assert row.state == "queued"
    names = [e.event for e in await centre.events(request.id)]
    assert "readopted" in names and "abandoned" not in names
    # Alice logs in: the request is served as before the restart, the customer rung once.
    centre.phones["1001"].answers(after=0.5)
    await centre.login("alice")

    async def bridged() -> Channel | None:
        chan = customer_channel(centre, number)
        return chan if chan is not None and chan.bridge is not None else None

    customer = await wait_for(bridged, seconds=15, what="customer bridged to alice")
    (result,) = [e for e in await centre.events(request.id) if e.event == "callback_result"]
    assert (result.data["result"], result.data["attempt"]) == ("answered", 1)
    centre.sim.pbx.queue_hangup(customer, 16)

    async def over() -> Any:
        row = await centre.row(request.id)
        return row if row.state in ("wrapup", "ended") else None

    await wait_for(over, what="the callback's call over")
    assert trunk.dialled == [number]
    assert [r.id for r in await requests_of(centre, first)] == [request.id]


async def test_retry_not_yet_due_keeps_its_time_across_a_restart(
    tmp_path: Path,
    sqlite_url: str,
    crm: tuple[str, list[dict[str, str]]],  # noqa: F811
) -> None:
    # A long retry_after: the retry is still pending when the ACD restarts.
    async with restartable(tmp_path, sqlite_url, crm[0], max_attempts=2, retry_after=5) as (
        centre,
        trunk,
    ):
        centre.phones["1001"].answers(after=0.5)
        await centre.login("alice")
        trunk.behaviour.no_answer_probability = 1.0
        first, number, _request = await ask_for_callback(centre)

        async def retry() -> Any:
            found = await requests_of(centre, first)
            return found[1] if len(found) == 2 else None

        pending = await wait_for(retry, seconds=30, what="the retry created")
        assert pending.state == "new"
        assert pending.attributes["attempt"] == 2
        due = pending.attributes["retry_at"]
        await restart(centre, tmp_path / "configs")
        await centre.login("alice")

        async def dialled_twice() -> bool:
            return len(trunk.dialled) == 2

        await wait_for(dialled_twice, seconds=30, what="the retry dialled after the restart")
        events = await centre.events(pending.id)
        (queued,) = [e for e in events if e.event == "queued"]
        # Queued at its retry time, not at once after the restart nor never.
        assert queued.time.timestamp() >= due - 0.01
        assert trunk.dialled == [number, number]
        assert len(await requests_of(centre, first)) == 2


async def test_attempt_under_way_at_a_restart_is_cut_and_queued_again(
    centre_and_trunk: tuple[IvrCentre, Endpoint], tmp_path: Path
) -> None:
    centre, trunk = centre_and_trunk
    # The customer's phone rings and rings: the attempt is under way when the ACD stops.
    trunk.behaviour.no_answer_probability = 1.0
    centre.phones["1001"].answers(after=0.5)
    await centre.login("alice")
    _first, number, request = await ask_for_callback(centre)
    await wait_for(
        lambda: customer_channel(centre, number) is not None, seconds=15, what="customer rung"
    )
    (leg,) = agent_legs(centre, "1001")
    await restart(centre, tmp_path / "configs")

    async def cut() -> list[Any]:
        return [e for e in await centre.events(request.id) if e.event == "callback_interrupted"]

    (interrupted,) = await wait_for(cut, what="the attempt judged cut")
    assert interrupted.data["attempt"] == 1
    await wait_for(lambda: leg.hung_up, what="the old agent leg hung up")
    # Back in the queue with the same attempt; alice (ready again) is offered it anew.
    centre.phones["1001"].answers(after=0.5)
    await centre.login("alice")

    async def offered_again() -> list[Any]:
        events = await centre.events(request.id)
        at = [e.id for e in events].index(interrupted.id)
        return [e for e in events[at:] if e.event == "callback_dialling"]

    await wait_for(offered_again, seconds=20, what="the request served again")
    row = await centre.row(request.id)
    assert row.attributes["attempt"] == 1
