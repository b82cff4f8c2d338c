"""Callback requests end to end: a caller asks for a callback in the shipped main_menu IVR; the
request waits in its queue as an interaction of its own; when an agent is picked the ACD rings
the agent's phone (AMI Originate into the shipped dialplan's cc-callback), which then dials
the customer through the simulated trunk; answered, not answered (retry, then give up), and an
agent who does not answer (the request goes back to the queue)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from cc_core.acd.callback import CALL_PREFIX, CallbackPort
from cc_core.store.models.interactions import Interaction as InteractionRow
from pbx.sim.channel import Channel
from pbx.sim.endpoints import Behaviour, Endpoint
from pbx.sim.runtime import SimConfig, Simulator
from tests.acd.conftest import DIALPLAN, Phone, point_at, running_centre, start_node, wait_for
from tests.acd.test_ivr_flow import (
    PHONES,
    TIME_SCALE,
    UNKNOWN,
    IvrCentre,
    crm,  # noqa: F401  (fixture)
    ivr_configs,
)

# Billing (where main_menu's callback node sends requests) is served by alice (1001).
CALLBACK_KEYS = {"choose_language": ["1"], "enter_account": [UNKNOWN + "#"], "main_options": ["4"]}


@contextlib.asynccontextmanager
async def callback_centre(
    tmp_path: Path, sqlite_url: str, crm_url: str, *, max_attempts: int = 3, retry_after: int = 1
) -> AsyncIterator[tuple[IvrCentre, Endpoint]]:
    sim = Simulator(
        SimConfig(
            dialplan_path=DIALPLAN,
            time_scale=TIME_SCALE,
            globals_override={"CC_FASTAGI": "agi://127.0.0.1:1"},
            auth_fail_delay=0.05,
        )
    )
    for name, i in PHONES.items():
        sim.endpoints.add(
            Endpoint(name, port=5300 + i, behaviour=Behaviour(ring_delay=0.5, answer_delay=1.0))
        )
    # The carrier: customers answer after 2 s (simulated) unless told otherwise.
    trunk = sim.endpoints.add(
        Endpoint("trunk", port=5399, behaviour=Behaviour(ring_delay=0.5, answer_delay=2.0))
    )
    await sim.start()
    for name in (*PHONES, "trunk"):
        sim.endpoints.register(name)
    configs = ivr_configs(
        tmp_path / "configs", ami_port=sim.ami_port, store_url=sqlite_url, crm=crm_url
    )
    # Billing's 30 s wrap-up would hold alice away from the retry for most of a test.
    queues = configs / "queues.yaml"
    queues.write_text(queues.read_text().replace("wrap_up_seconds: 30", "wrap_up_seconds: 1", 1))
    with (configs / "acd.yaml").open("a") as acd_yaml:
        acd_yaml.write(
            "callback: {dial: 'PJSIP/{number}@trunk', ring_timeout: 10, "
            f"max_attempts: {max_attempts}, retry_after: {retry_after}}}\n"
        )
    node = await start_node(configs)
    point_at(sim, node)
    phones = {
        name: Phone(endpoint)
        for name in PHONES
        if (endpoint := sim.endpoints.get(name)) is not None
    }
    try:
        yield IvrCentre(sim, node, phones, []), trunk
    finally:
        await node.stop()
        await sim.stop()


async def requests_of(centre: IvrCentre, first: str) -> list[Any]:
    """The callback interactions asked for in IVR interaction ``first``, oldest first."""
    await centre.acd.journal.drain()
    async with centre.acd.store.transaction(readonly=True) as repos:
        rows = (await repos.session.scalars(select(InteractionRow))).all()
    found = [r for r in rows if r.attributes.get("requested_in") == first]
    return sorted(found, key=lambda r: r.attributes["attempt"])


async def ask_for_callback(centre: IvrCentre) -> tuple[str, str, Any]:
    """A caller asks for a callback; returns the IVR interaction, the number and the request."""
    caller = centre.call({prompt: list(keys) for prompt, keys in CALLBACK_KEYS.items()})
    first = await centre.interaction_of(caller)

    async def requested() -> Any:
        found = await requests_of(centre, first)
        return found[0] if found and found[0].state != "new" else None

    request = await wait_for(requested, seconds=20, what="callback request queued")
    await wait_for(lambda: caller.chan.hung_up, what="caller hung up after the request")
    return first, caller.chan.caller_num, request


def customer_channel(centre: IvrCentre, number: str) -> Channel | None:
    for chan in centre.sim.pbx.channels.values():
        if (
            chan.name.startswith("PJSIP/trunk-")
            and chan.endpoint is not None
            and chan.endpoint.name == number
        ):
            return chan
    return None


@pytest.fixture
async def centre_and_trunk(
    tmp_path: Path,
    sqlite_url: str,
    crm: tuple[str, list[dict[str, str]]],  # noqa: F811
) -> AsyncIterator[tuple[IvrCentre, Endpoint]]:
    async with callback_centre(tmp_path, sqlite_url, crm[0], max_attempts=2) as found:
        yield found


async def test_request_waits_in_its_queue_then_agent_is_rung_and_customer_bridged(
    centre_and_trunk: tuple[IvrCentre, Endpoint],
) -> None:
    centre, trunk = centre_and_trunk
    assert isinstance(centre.acd.port, CallbackPort)
    first, number, request = await ask_for_callback(centre)
    # The IVR call itself ended as exited, naming the request.
    (exited,) = [e for e in await centre.events(first) if e.data.get("stage") == "exited"]
    assert (exited.data["exit"], exited.data["callback_number"]) == ("callback", number)
    # The request: voice, kind callback, the customer's number, billing, arrival kept.
    assert (request.channel, request.queue, request.state) == ("voice", "billing", "queued")
    assert request.attributes["kind"] == "callback"
    assert request.attributes["callback_number"] == number
    record = centre.acd.calls.get(request.id)
    assert record is not None and record.call_id.startswith(CALL_PREFIX)
    assert record.arrival == pytest.approx(request.attributes["requested_at"])
    assert trunk.dialled == []  # nobody is called before an agent is there
    # Alice logs in and answers; then the customer answers and both are bridged.
    centre.phones["1001"].answers(after=0.5)
    await centre.login("alice")

    async def bridged() -> Channel | None:
        chan = customer_channel(centre, number)
        return chan if chan is not None and chan.bridge is not None else None

    customer = await wait_for(bridged, seconds=15, what="customer bridged to the agent")
    assert trunk.dialled == [number]
    agent_leg = [
        c
        for c in centre.sim.pbx.channels.values()
        if c.name.startswith("PJSIP/1001-") and c.bridge is customer.bridge
    ]
    assert agent_leg, "the customer is bridged with alice's phone"

    async def connected() -> Any:
        row = await centre.row(request.id)
        return row if row.state == "connected" else None

    row = await wait_for(connected, what="request connected to alice")
    assert row.agent_id == "alice"
    events = await centre.events(request.id)
    names = [e.event for e in events]
    # The agent's answer (connected) and the dialling of the customer come from one event.
    assert names.index("offered") < names.index("connected") < names.index("callback_result")
    assert names.index("offered") < names.index("callback_dialling")
    (result,) = [e for e in events if e.event == "callback_result"]
    assert (result.data["result"], result.data["attempt"]) == ("answered", 1)
    # The customer hangs up: the request's call is over like any call (wrap-up, closed).
    centre.sim.pbx.queue_hangup(customer, 16)

    async def closed() -> Any:
        row = await centre.row(request.id)
        return row if row.state in ("wrapup", "ended") else None

    await wait_for(closed, what="request's call finished")
    assert (
        centre.acd.calls.get(request.id) is None
        or centre.acd.calls.get(request.id).stage.value == "wrap_up"
    )


async def test_customer_not_answering_is_retried_then_given_up(
    centre_and_trunk: tuple[IvrCentre, Endpoint],
) -> None:
    centre, trunk = centre_and_trunk
    centre.phones["1001"].answers(after=0.5)
    await centre.login("alice")
    # Make every customer of this test never answer: the trunk's default behaviour.
    trunk.behaviour.no_answer_probability = 1.0
    first, number, _request = await ask_for_callback(centre)

    async def two_attempts() -> list[Any]:
        found = await requests_of(centre, first)
        return found if len(found) == 2 else []

    first_try, second_try = await wait_for(
        two_attempts, seconds=30, what="a second attempt after no answer"
    )
    assert second_try.attributes["retry_of"] == first_try.id
    assert second_try.attributes["attempt"] == 2
    # Arrival kept: the retry waits from the original request, not from the retry.
    assert second_try.attributes["requested_at"] == first_try.attributes["requested_at"]

    async def gave_up() -> Any:
        events = await centre.events(second_try.id)
        results = [e for e in events if e.event == "callback_result"]
        return results[0] if results else None

    final = await wait_for(gave_up, seconds=30, what="second attempt's result")
    assert (final.data["result"], final.data.get("gave_up")) == ("no_answer", True)
    results = [e for e in await centre.events(first_try.id) if e.event == "callback_result"]
    assert [(r.data["result"], r.data["retry_in"]) for r in results] == [("no_answer", 1)]
    assert trunk.dialled == [number, number]
    # No third attempt.
    assert len(await requests_of(centre, first)) == 2


async def test_agent_not_answering_puts_the_request_back_in_the_queue(
    centre_and_trunk: tuple[IvrCentre, Endpoint],
) -> None:
    centre, trunk = centre_and_trunk
    _first, _number, request = await ask_for_callback(centre)
    centre.phones["1001"].never_answers()
    await centre.login("alice")

    async def missed() -> list[Any]:
        events = await centre.events(request.id)
        return [e for e in events if e.event == "queued" and e.data.get("missed_agent")]

    (back,) = (await wait_for(missed, seconds=20, what="offer missed, back to queue"))[:1]
    assert back.data["missed_agent"] == "alice"
    record = centre.acd.calls.get(request.id)
    assert record is not None and record.stage.value in ("queued", "offered")
    assert trunk.dialled == []  # the customer is never called without an agent


async def test_max_wait_callback_exit_places_a_request_in_the_queue(
    tmp_path: Path, sqlite_url: str
) -> None:
    # Sales: one second's wait, then the caller leaves through the callback exit.
    extra = "    max_wait_seconds: 1\n    overflow: {exit: callback}"
    async with running_centre(tmp_path, sqlite_url, sales_extra=extra) as centre:
        chan = centre.call()
        number = chan.caller_num
        (first,) = await wait_for(centre.interactions, what="interaction created")

        async def requested() -> list[Any]:
            rows = await centre.interactions()
            return [r for r in rows if r.id != first.id and r.attributes.get("kind") == "callback"]

        (request,) = await wait_for(requested, what="callback request from the max-wait exit")
        assert request.queue == "sales"
        assert request.attributes["callback_number"] == number
        assert request.attributes["requested_in"] == first.id
        assert request.attributes["attempt"] == 1
        await wait_for(lambda: chan.hung_up, what="caller released")
        assert centre.node.store is not None
        async with centre.node.store.transaction(readonly=True) as repos:
            events = list(await repos.events.for_interaction(first.id))
            waiting = list(await repos.events.for_interaction(request.id))
        (exited,) = [e for e in events if e.data.get("stage") == "exited"]
        assert (exited.data["exit"], exited.data["callback_number"]) == ("callback", number)
        assert exited.data["callback_queue"] == "sales"
        assert [e.event for e in waiting][:2] == ["created", "queued"]
        # The request waits from the moment the caller left, not from a later time.
        assert request.attributes["requested_at"] == pytest.approx(
            exited.time.timestamp(), abs=1e-3
        )
