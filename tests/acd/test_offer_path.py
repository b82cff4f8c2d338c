"""The offer path never waits for the PBX: the connect command is sent and its answer comes
back as a job of its own (success, the caller gone, a failure retried after the resync)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from typing import Any

import pytest

from cc_core.acd import service as service_module
from cc_core.acd.lifecycle import Stage
from cc_core.acd.service import AcdService
from pbx.port import CommandTimeout, ConnectionRestored, NoSuchCall, Resynced
from tests.acd.conftest import Centre, point_at, start_node, wait_for


def acd(centre: Centre) -> AcdService:
    assert centre.node.service is not None
    return centre.node.service


def stage_of(service: AcdService, call_id: str) -> str | None:
    record = service.calls.by_call(call_id)
    return record.stage.value if record is not None else None


async def test_a_ring_whose_answer_has_not_come_holds_no_other_job(centre: Centre) -> None:
    service = acd(centre)
    port: Any = service.port
    real = port.connect_agent
    gate = asyncio.Event()
    sent: list[str] = []

    async def held(call_id: str, *args: Any, **kwargs: Any) -> None:
        sent.append(call_id)
        await gate.wait()  # the PBX's answer is late
        await real(call_id, *args, **kwargs)

    port.connect_agent = held
    await centre.login("ann")
    caller = centre.call()
    await wait_for(lambda: sent, what="the connect command sent")

    async def job() -> str | None:
        return stage_of(service, caller.uniqueid)

    # A job waiting for the PBX would hold this one until the gate opens (never, here).
    assert await asyncio.wait_for(service.serial(job), 10) == Stage.OFFERED.value
    gate.set()
    await wait_for(lambda: caller.bridge is not None, what="caller bridged to ann")
    centre.hang_up(caller)


async def test_the_caller_gone_when_the_connect_is_answered_is_abandoned(centre: Centre) -> None:
    service = acd(centre)
    port: Any = service.port

    offered: list[str] = []

    async def gone(call_id: str, *args: Any, **kwargs: Any) -> None:
        record = service.calls.by_call(call_id)
        assert record is not None and record.stage is Stage.OFFERED
        offered.append(record.interaction_id)
        raise NoSuchCall(call_id, "No such channel")

    port.connect_agent = gone
    await centre.login("ann")
    caller = centre.call()
    await wait_for(lambda: offered, what="the connect command sent")
    await wait_for(
        lambda: service.calls.by_call(caller.uniqueid) is None, what="the interaction closed"
    )
    assert (await centre.events_of(offered[0]))[-1] == "abandoned"
    # The agent was freed by the follow-up job, not left reserved.
    await wait_for(
        lambda: service.engine.agent_state("ann").value == "ready", what="ann ready again"
    )
    centre.hang_up(caller)


async def test_a_connect_that_failed_is_sent_again_after_the_resync(centre: Centre) -> None:
    service = acd(centre)
    port: Any = service.port
    real = port.connect_agent
    attempts: list[str] = []

    async def flaky(call_id: str, *args: Any, **kwargs: Any) -> None:
        attempts.append(call_id)
        if len(attempts) == 1:
            raise CommandTimeout("Redirect", 1.0)
        await real(call_id, *args, **kwargs)

    port.connect_agent = flaky
    await centre.login("ann")
    caller = centre.call()

    def failed() -> bool:
        record = service.calls.by_call(caller.uniqueid)
        return record is not None and record.connect_failed

    await wait_for(failed, what="the failed connect recorded")
    assert caller.bridge is None
    before = service.resyncs
    port.drop_link("test: link drop")
    await wait_for(lambda: service.resyncs > before, what="the resync")
    await wait_for(lambda: caller.bridge is not None, what="caller bridged after the resync")
    assert attempts == [caller.uniqueid, caller.uniqueid]
    centre.hang_up(caller)


async def test_an_offer_to_a_caller_reported_gone_is_not_sent(centre: Centre) -> None:
    service = acd(centre)
    caller = centre.call()
    await wait_for(
        lambda: stage_of(service, caller.uniqueid) == Stage.QUEUED.value, what="caller queued"
    )
    record = service.calls.by_call(caller.uniqueid)
    assert record is not None
    # As the event pump does when the PBX reports the hang-up before its job has run.
    service.hung_up.add(caller.uniqueid)
    await centre.login("ann")
    await wait_for(
        lambda: service.calls.by_call(caller.uniqueid) is None, what="the interaction closed"
    )
    assert (await centre.events_of(record.interaction_id))[-1] == "abandoned"
    assert service.engine.agent_state("ann").value == "ready"
    assert caller.bridge is None
    centre.hang_up(caller)


@pytest.fixture
def unfreeze() -> Iterator[None]:
    yield
    gc.unfreeze()


async def test_a_backlog_adopted_at_start_is_frozen_out_of_the_collector(
    centre: Centre, monkeypatch: pytest.MonkeyPatch, unfreeze: None
) -> None:
    monkeypatch.setattr(service_module, "FREEZE_BACKLOG", 2)
    callers = [centre.call(), centre.call()]
    await wait_for(lambda: len(acd(centre).calls) == 2, what="two calls waiting")
    await centre.settled()
    gc.unfreeze()
    await centre.node.stop()
    centre.node = await start_node(centre.configs)
    point_at(centre.sim, centre.node)
    await wait_for(lambda: len(acd(centre).calls) == 2, what="two calls re-adopted")
    assert gc.get_freeze_count() > 0
    for caller in callers:
        centre.hang_up(caller)


async def test_a_call_that_arrives_after_the_pbx_list_is_not_judged_by_it(
    centre: Centre,
) -> None:
    """The resync's list is judged before any job that came after it: a caller whose
    interaction is created after the list was published is not taken for vanished."""
    service = acd(centre)
    port: Any = service.port
    gate = asyncio.Event()

    async def busy() -> None:
        await gate.wait()  # the ACD is behind: jobs queue up

    service.submit(busy)
    # A link restored and its list, taken before the caller below existed.
    port._hub.publish(ConnectionRestored())
    port._hub.publish(Resynced(calls=()))
    caller = centre.call()

    async def created() -> bool:
        return any(r.pbx_call_id == caller.uniqueid for r in await centre.interactions())

    await wait_for(created, what="the caller's interaction created by the IVR flow")
    await asyncio.sleep(0.2)  # the flow's own job is queued now, behind the list
    gate.set()
    await wait_for(
        lambda: stage_of(service, caller.uniqueid) == Stage.QUEUED.value,
        what="caller queued, not abandoned as vanished",
    )
    centre.hang_up(caller)


async def test_a_caller_arriving_while_a_restart_adopts_is_not_judged_by_the_list(
    centre: Centre,
) -> None:
    """At start the adoption reads the store's open interactions: one created by a caller
    arriving meanwhile (its row committed, its record's job queued behind the adoption) is
    not in the PBX's list, which predates it, and must not be closed as vanished."""
    service = acd(centre)
    port: Any = service.port
    gate = asyncio.Event()

    async def busy() -> None:
        await gate.wait()  # the ACD is behind: jobs queue up

    service.submit(busy)
    service.resyncs = 0  # the next list is judged as a restart's: against the store
    port._hub.publish(Resynced(calls=()))
    caller = centre.call()

    async def created() -> bool:
        return any(r.pbx_call_id == caller.uniqueid for r in await centre.interactions())

    await wait_for(created, what="the caller's interaction created by the IVR flow")
    await asyncio.sleep(0.2)  # the flow's own job is queued now, behind the list
    gate.set()
    await wait_for(
        lambda: stage_of(service, caller.uniqueid) == Stage.QUEUED.value,
        what="caller queued, not abandoned as vanished",
    )
    (row,) = await centre.interactions()
    assert "abandoned" not in await centre.events_of(row.id)
    centre.hang_up(caller)
