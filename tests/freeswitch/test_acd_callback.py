"""Callback requests on FreeSWITCH: the ACD's callback port over the FreeSWITCH port and the
simulated FreeSWITCH running the shipped XML dialplan. A request waits in its queue; when
the agent is picked the ACD originates the agent's phone into the cc-callback context, whose
bridge dials the customer through the carrier gateway: answered and bridged; the agent not
answering (back to the queue); the customer not answering (a retry, then given up)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cc_core.acd.callback import CALL_PREFIX, CallbackPort, request_callback
from cc_core.acd.centre import centre_from_config
from cc_core.acd.service import AcdService
from cc_core.config import load_configs
from cc_core.store.database import Store
from cc_core.store.live import open_live_state
from pbx.freeswitch import FreeSwitchPort, FreeSwitchSettings
from pbx.sim.esl.channel import FsChannel
from pbx.sim.esl.legs import UserEndpoint
from pbx.sim.esl.runtime import FsSimConfig, FsSimulator
from tests.acd.conftest import AGENTS_YAML, wait_for, write_configs
from tests.acd.test_freeswitch_calls import ACD_YAML, DIALPLAN, shipped_dialplan

NUMBER = "+4915112345678"
CALLBACK_YAML = (
    "callback: {dial: 'sofia/gateway/trunk/{number}', ring_timeout: 3, "
    "max_attempts: 2, retry_after: 1}\n"
)


@dataclass
class FsCallbacks:
    sim: FsSimulator
    acd: AcdService
    store: Store
    phone: UserEndpoint  # ann's, user/1001

    async def request(self) -> str:
        interaction_id = await request_callback(
            self.acd,
            number=NUMBER,
            queue="sales",
            requested_at=self.acd.now(),
            first_interaction="ivr-call",
        )
        assert interaction_id is not None
        return interaction_id

    async def events(self, interaction_id: str) -> list[Any]:
        await self.acd.journal.drain()
        async with self.store.transaction(readonly=True) as repos:
            return list(await repos.events.for_interaction(interaction_id))

    async def requests(self) -> list[Any]:
        await self.acd.journal.drain()
        async with self.store.transaction(readonly=True) as repos:
            rows = await repos.interactions.list_open()
            ended = [await repos.interactions.get(r.id) for r in rows]
        return ended

    def legs(self, prefix: str) -> list[FsChannel]:
        return [c for c in self.sim.switch.channels.values() if c.name.startswith(prefix)]


@contextlib.asynccontextmanager
async def fs_callbacks(tmp_path: Path, store_url: str) -> AsyncIterator[FsCallbacks]:
    sim = FsSimulator(FsSimConfig(dialplan_paths=DIALPLAN, port=0, heartbeat=5.0))
    await sim.start()
    sim.switch.dialplan = shipped_dialplan(1)  # no IVR here: requests are placed directly
    configs = write_configs(tmp_path / "configs", ami_port=1, store_url=store_url, ring=2)
    (configs / "agents.yaml").write_text(AGENTS_YAML.replace("PJSIP/agent", "user/"))
    (configs / "acd.yaml").write_text(
        ACD_YAML.replace("{store}", store_url).replace("{esl}", str(sim.port)) + CALLBACK_YAML
    )
    config = load_configs(configs)
    store = Store.from_url(store_url)
    await store.migrate()
    live = await open_live_state("memory", "", config.acd.node_id)
    fs = config.acd.pbx[0].esl
    assert fs is not None
    port = CallbackPort(
        FreeSwitchPort(FreeSwitchSettings(host=fs.host, port=fs.port, password=fs.password)),
        config.acd.callback,
    )
    acd = AcdService(centre_from_config(config), port, store, live)
    port.attach(acd)
    await acd.start(wait_for_pbx=True)
    phone = UserEndpoint("1001", "127.0.0.1", "sip:1001@127.0.0.1:5099", answer_delay=0.3)
    try:
        yield FsCallbacks(sim, acd, store, phone)
    finally:
        await acd.stop()
        await live.aclose()
        await store.dispose()
        await sim.stop()


async def test_agent_then_customer_bridged_over_freeswitch(tmp_path: Path, sqlite_url: str) -> None:
    async with fs_callbacks(tmp_path, sqlite_url) as centre:
        customer = UserEndpoint(NUMBER, "gateway", f"sofia/gateway/trunk/{NUMBER}")
        customer.answer_delay = 0.5
        centre.sim.switch.gateway_callees[NUMBER] = customer
        request = await centre.request()
        record = centre.acd.calls.get(request)
        assert record is not None and record.call_id.startswith(CALL_PREFIX)
        assert centre.sim.switch.gateway_dialled == []  # nobody is called before an agent
        centre.sim.register(centre.phone)  # ann logs in by registration

        def bridged() -> FsChannel | None:
            for chan in centre.legs("sofia/gateway/trunk/"):
                if chan.other is not None and chan.up:
                    return chan
            return None

        chan = await wait_for(bridged, seconds=15, what="customer bridged to ann's phone")
        agent_leg = chan.other
        assert agent_leg is not None and agent_leg.name.startswith("sofia/internal/1001")
        # The shipped cc-callback context ran on the agent's leg, with the request's tag.
        assert agent_leg.get_var("cc_state") == "callback"
        assert agent_leg.get_var("cc_interaction_id") == request
        assert centre.sim.switch.gateway_dialled == [NUMBER]

        async def connected() -> list[Any]:
            events = await centre.events(request)
            return events if "callback_result" in [e.event for e in events] else []

        events = await wait_for(connected, what="the attempt's result")
        names = [e.event for e in events]
        assert names.index("offered") < names.index("connected") < names.index("callback_result")
        assert names.index("callback_dialling") < names.index("callback_result")
        (result,) = [e for e in events if e.event == "callback_result"]
        assert (result.data["result"], result.data["attempt"]) == ("answered", 1)
        assert centre.acd.calls.get(request).agent_id == "ann"  # type: ignore[union-attr]
        # The customer hangs up: the agent's leg ends too, and the request's call is over.
        await centre.sim.switch.hangup(chan, "NORMAL_CLEARING")
        await wait_for(lambda: not agent_leg.up, what="agent leg hung up after the customer")

        async def over() -> bool:
            names = [e.event for e in await centre.events(request)]
            return "wrapup" in names or "ended" in names

        await wait_for(over, what="the request's call finished")
        assert centre.sim.switch.gateway_dialled == [NUMBER]


async def test_agent_not_answering_puts_the_request_back(tmp_path: Path, sqlite_url: str) -> None:
    async with fs_callbacks(tmp_path, sqlite_url) as centre:
        centre.phone.no_answer = True
        centre.sim.register(centre.phone)
        request = await centre.request()

        async def missed() -> list[Any]:
            events = await centre.events(request)
            return [e for e in events if e.event == "queued" and e.data.get("missed_agent")]

        (back, *_) = await wait_for(missed, seconds=20, what="offer missed, back to the queue")
        assert back.data["missed_agent"] == "ann"
        assert centre.sim.switch.gateway_dialled == []  # never the customer without an agent


async def test_customer_not_answering_is_retried_then_given_up(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with fs_callbacks(tmp_path, sqlite_url) as centre:
        customer = UserEndpoint(NUMBER, "gateway", f"sofia/gateway/trunk/{NUMBER}")
        customer.no_answer = True
        centre.sim.switch.gateway_callees[NUMBER] = customer
        centre.sim.register(centre.phone)
        first = await centre.request()

        async def results() -> list[Any]:
            found = []
            for row in await all_requests(centre):
                found += [e for e in await centre.events(row.id) if e.event == "callback_result"]
            return found if len(found) == 2 else []

        first_result, last_result = await wait_for(results, seconds=40, what="two attempts")
        assert (first_result.data["result"], first_result.data["retry_in"]) == ("no_answer", 1)
        assert first_result.interaction_id == first
        assert (last_result.data["result"], last_result.data["gave_up"]) == ("no_answer", True)
        assert centre.sim.switch.gateway_dialled == [NUMBER, NUMBER]


async def all_requests(centre: FsCallbacks) -> list[Any]:
    from sqlalchemy import select

    from cc_core.store.models.interactions import Interaction as InteractionRow

    await centre.acd.journal.drain()
    async with centre.store.transaction(readonly=True) as repos:
        rows = (await repos.session.scalars(select(InteractionRow))).all()
    return sorted(rows, key=lambda r: r.attributes.get("attempt", 0))
