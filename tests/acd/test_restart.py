"""ACD restart: calls waiting in the PBX are re-adopted from the PBX and the store."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import delete, select, update

from cc_core.store.database import Store
from cc_core.store.models import Interaction, InteractionEvent
from pbx.sim.channel import Channel, State
from tests.acd.conftest import Centre, point_at, running_centre, start_node, wait_for


async def restart(centre: Centre, while_down: object = None) -> None:
    await centre.node.stop()
    if callable(while_down):
        while_down()
    centre.node = await start_node(centre.configs)
    point_at(centre.sim, centre.node)


async def test_waiting_calls_are_readopted_keeping_their_arrival(centre: Centre) -> None:
    first, second, gone = centre.call(), centre.call(), centre.call()

    async def three_queued() -> bool:
        rows = await centre.interactions()
        return len(rows) == 3 and all(r.state == "queued" for r in rows)

    await wait_for(three_queued, what="three calls queued")
    before = {r.pbx_call_id: r for r in await centre.interactions()}
    await restart(centre, while_down=lambda: centre.hang_up(gone))
    assert centre.node.service is not None
    await wait_for(lambda: len(centre.node.service.calls) == 2, what="two calls re-adopted")
    records = {r.call_id: r for r in centre.node.service.calls}
    assert set(records) == {first.uniqueid, second.uniqueid}
    for call_id, record in records.items():
        assert record.arrival == before[call_id].created_at.timestamp()
        assert record.stage.value == "queued"
    events = await centre.events_of(before[gone.uniqueid].id)
    assert events[-1] == "abandoned"
    assert "readopted" in await centre.events_of(before[first.uniqueid].id)
    # Still first in line: the earliest arrival is served first after the restart.
    await centre.login("ann")
    await wait_for(lambda: first.bridge is not None, what="first caller served")
    assert second.bridge is None
    centre.hang_up(first)
    await wait_for(lambda: second.bridge is not None, what="second caller served")
    centre.hang_up(second)

    async def all_closed() -> bool:
        return not await centre.interactions()

    await wait_for(all_closed, what="all interactions closed")


async def test_a_call_in_progress_survives_a_restart(centre: Centre, tmp_path: Path) -> None:
    await centre.login("ann")
    chan = centre.call()
    await wait_for(lambda: chan.bridge is not None, what="connected")
    (row,) = await centre.interactions()
    await restart(centre)
    assert centre.node.service is not None
    await wait_for(lambda: len(centre.node.service.calls) == 1, what="talking call adopted")
    (record,) = list(centre.node.service.calls)
    assert (record.interaction_id, record.stage.value, record.agent_id) == (
        row.id,
        "connected",
        "ann",
    )
    # The agent is kept from new offers while the adopted call lasts.
    _, ann = await centre.request("GET", "/api/agents/ann")
    assert (ann["state"], ann["reason"]) == ("not_ready", "adopted-call")
    centre.hang_up(chan)

    async def closed() -> bool:
        return not await centre.interactions()

    await wait_for(closed, what="adopted call closed")
    assert (await centre.events_of(row.id))[-1] == "ended"
    _, ann = await centre.request("GET", "/api/agents/ann")
    assert ann["state"] == "ready"


async def test_a_call_the_ivr_could_not_tag_is_adopted_when_the_acd_is_back(
    centre: Centre,
) -> None:
    await centre.node.stop()
    chan = centre.call()  # FastAGI refused: the dialplan holds it with CC_IVR_FAILED
    await wait_for(lambda: chan.context == "cc-hold", what="untagged caller on hold")
    assert centre.sim.pbx.get_var(chan, "CC_IVR_FAILED") == "FAILURE"
    centre.node = await start_node(centre.configs)
    point_at(centre.sim, centre.node)
    rows = await wait_for(centre.interactions, what="interaction created for the call")
    assert rows[0].pbx_call_id == chan.uniqueid and rows[0].queue == "sales"
    assert rows[0].attributes["ivr_failed"] == "FAILURE"
    assert centre.sim.pbx.get_var(chan, "CC_INTERACTION_ID") == rows[0].id
    await centre.login("ben")
    await wait_for(lambda: chan.bridge is not None, what="adopted caller served")
    centre.hang_up(chan)


async def test_a_tagged_call_whose_row_never_reached_the_store(
    centre: Centre, store_url: str
) -> None:
    """The id tags the call before the journal commits its row: an ACD killed in between
    leaves a tagged call the store does not know. It is queued again under that id."""
    chan = centre.call()

    async def queued() -> bool:
        rows = await centre.interactions()
        return len(rows) == 1 and rows[0].state == "queued"

    await wait_for(queued, what="call queued")
    (row,) = await centre.interactions()

    await centre.node.stop()
    store = Store.from_url(store_url)
    async with store.transaction() as repos:
        await repos.session.execute(
            delete(InteractionEvent).where(InteractionEvent.interaction_id == row.id)
        )
        await repos.session.execute(delete(Interaction).where(Interaction.id == row.id))
    await store.dispose()
    centre.node = await start_node(centre.configs)
    point_at(centre.sim, centre.node)
    assert centre.node.service is not None
    await wait_for(lambda: len(centre.node.service.calls) == 1, what="call adopted")
    (record,) = list(centre.node.service.calls)
    assert (record.interaction_id, record.call_id, record.queue) == (row.id, chan.uniqueid, "sales")
    await centre.login("ann")
    await wait_for(lambda: chan.bridge is not None, what="caller served")

    async def connected() -> bool:
        # The bridge is up before the ACD has handled its event.
        return "connected" in await centre.events_of(row.id)

    await wait_for(connected, what="connected logged")
    assert (await centre.events_of(row.id))[:2] == ["created", "queued"]
    centre.hang_up(chan)


async def test_a_call_served_while_away_whose_last_facts_were_lost(
    centre: Centre, store_url: str
) -> None:
    """An ACD killed just after a call connected may not have committed `connected`; if the
    call then ends while the ACD is down, the PBX's served mark tells it was served."""
    await centre.login("ann")
    chan = centre.call()
    await wait_for(lambda: chan.bridge is not None, what="connected")
    (row,) = await centre.interactions()
    await centre.node.stop()
    store = Store.from_url(store_url)
    async with store.transaction() as repos:
        # As if the journal had not committed anything after `queued`.
        queued_at = (
            await repos.session.scalars(
                select(InteractionEvent.id).where(
                    InteractionEvent.interaction_id == row.id, InteractionEvent.event == "queued"
                )
            )
        ).one()
        await repos.session.execute(
            delete(InteractionEvent).where(
                InteractionEvent.interaction_id == row.id, InteractionEvent.id > queued_at
            )
        )
        await repos.session.execute(
            update(Interaction)
            .where(Interaction.id == row.id)
            .values(state="queued", agent_id=None, offered_at=None, answered_at=None)
        )
    await store.dispose()
    # The call ends while the ACD is down: the agent hangs up (the dialplan marks it served).
    bridge = chan.bridge
    assert bridge is not None
    (agent_leg,) = [member for member in bridge.members if member is not chan]
    centre.hang_up(agent_leg)
    await wait_for(lambda: chan.hung_up, what="caller gone")
    centre.node = await start_node(centre.configs)
    point_at(centre.sim, centre.node)

    async def closed() -> bool:
        return not await centre.interactions()

    await wait_for(closed, what="interaction closed")
    async with centre.node.store.transaction(readonly=True) as repos:  # type: ignore[union-attr]
        events = await repos.events.for_interaction(row.id)
        final = await repos.interactions.get(row.id)
    assert (final.state, final.agent_id) == ("ended", "ann")
    assert events[-1].event == "ended"
    assert events[-1].data["cause"] == "served while the ACD was away"


async def test_a_call_answered_while_away_whose_caller_hung_up_first(
    tmp_path: Path, store_url: str
) -> None:
    """The agent answers while the ACD is down and the caller hangs up first (no dialplan step
    runs after that on the caller's side): the served mark, left at the answer by Dial's U()
    routine, closes the call as served by that agent, not abandoned."""
    async with running_centre(tmp_path, store_url, ring=60) as centre:
        centre.phones["agent1001"].never_answers()  # rings until the test answers for it
        await centre.login("ann")
        chan = centre.call()

        def ringing() -> Channel | None:
            legs = [c for c in centre.sim.pbx.channels.values() if c.dialed_by is chan]
            return legs[0] if legs and legs[0].state == State.RINGING else None

        leg = await wait_for(ringing, what="the agent's phone ringing")
        (row,) = await centre.interactions()
        assert row.state == "offered"
        await centre.node.stop()
        centre.sim.pbx.answer(leg)  # the agent picks up while the ACD is away
        await wait_for(lambda: chan.bridge is not None, what="caller and agent bridged")
        centre.hang_up(chan)  # the caller hangs up first
        await wait_for(lambda: chan.hung_up and leg.hung_up, what="both gone")
        centre.node = await start_node(centre.configs)
        point_at(centre.sim, centre.node)

        async def closed() -> bool:
            return not await centre.interactions()

        await wait_for(closed, what="interaction closed")
        assert centre.node.store is not None
        async with centre.node.store.transaction(readonly=True) as repos:
            events = await repos.events.for_interaction(row.id)
            final = await repos.interactions.get(row.id)
        await centre.node.stop()
    assert (final.state, final.agent_id) == ("ended", "ann")
    assert "abandoned" not in [e.event for e in events]
    assert events[-1].event == "ended"
    assert events[-1].data["cause"] == "served while the ACD was away"
