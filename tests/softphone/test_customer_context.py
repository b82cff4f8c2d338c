"""One customer across channels, seen by the agent: the caller's number finds (or creates) the
customer; the screen-pop and the interaction context show the customer, the IVR path with
what was entered, and previous contacts; the agent endpoints need the right token."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import tests.acd.conftest as acd_conftest
import tests.acd.test_ivr_flow as ivr_flow
from cc_core.acd.agent_quality import agent_token, supervisor_token
from pbx.sim.inbound import inbound_call
from tests.acd.conftest import INBOUND, SALES_NUMBER, Centre, running_centre, wait_for
from tests.acd.test_ivr_flow import UNKNOWN, IvrCentre, running
from tests.acd.test_ivr_flow import crm as crm  # the IVR's customer system (a fixture)

SECRET = "s3cret-for-the-agent-tokens"
API_LINE = "api: {host: 127.0.0.1, port: 8080}"
API_WITH_SECRET = f"api: {{host: 127.0.0.1, port: 8080, agent_secret: {SECRET}}}"
FIRST_CALLER = "+493015550001"  # IvrCentre.call's first caller number


def bearer(token: str | None) -> dict[str, str]:
    return {} if token is None else {"Authorization": f"Bearer {token}"}


async def get(api: str, path: str, token: str | None) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.get(api + path, headers=bearer(token)) as r:
        return r.status, await r.json()


@contextlib.asynccontextmanager
async def ivr_centre(
    tmp_path: Path, sqlite_url: str, crm: tuple[str, list[dict[str, str]]]
) -> AsyncIterator[IvrCentre]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ivr_flow, "ACD_YAML", ivr_flow.ACD_YAML.replace(API_LINE, API_WITH_SECRET))
        async with running(tmp_path, sqlite_url, crm) as centre:
            yield centre


async def seed_history(centre: IvrCentre) -> tuple[str, str, str]:
    """The first caller as a known customer: an earlier voice call (bob, CSAT 5) and a later
    email (created through the store, as the email channel would)."""
    now = datetime.now(UTC)
    async with centre.acd.store.transaction() as repos:
        customer, created = await repos.customers.find_or_create_by_identity(
            "phone", FIRST_CALLER, display_name="Ada Example"
        )
        assert created
        await repos.customers.add_identity(customer.id, "email", "Ada@Example.com")
        voice = await repos.interactions.create(
            "voice",
            queue="billing",
            customer_id=customer.id,
            at=now - timedelta(days=3),
            attributes={"caller": FIRST_CALLER},
        )
        for state in ("queued", "offered", "connected", "ended"):
            await repos.interactions.set_state(
                voice.id, state, agent_id="bob", at=now - timedelta(days=3)
            )
        await repos.interactions.update_attributes(voice.id, csat_score=5, csat_agent="bob")
        email = await repos.interactions.create(
            "email", queue="billing", customer_id=customer.id, at=now - timedelta(days=1)
        )
        for state in ("queued", "offered", "connected", "ended"):
            await repos.interactions.set_state(
                email.id, state, agent_id="alice", at=now - timedelta(days=1)
            )
    return customer.id, voice.id, email.id


async def test_screen_pop_shows_customer_ivr_and_previous_contacts_to_the_right_agent(
    tmp_path: Path, sqlite_url: str, crm: tuple[str, list[dict[str, str]]]
) -> None:
    async with ivr_centre(tmp_path, sqlite_url, crm) as centre:
        api = f"http://127.0.0.1:{centre.node.api_bound}"
        customer_id, voice_id, email_id = await seed_history(centre)
        alice, bob = agent_token(SECRET, "alice"), agent_token(SECRET, "bob")
        centre.phones["1001"].answers(after=0.2, talk=30.0)
        await centre.login("alice")
        caller = centre.call(
            {"choose_language": ["1"], "enter_account": [UNKNOWN + "#"], "main_options": ["1"]}
        )
        interaction_id = await centre.interaction_of(caller)
        await wait_for(lambda: caller.chan.bridge is not None, what="caller bridged to alice")
        # The agent's INVITE named the interaction the pop is about.
        assert centre.phones["1001"].endpoint.invites[-1] == {"X-CC-Interaction": interaction_id}

        pop_path = "/api/agents/alice/screen-pop"
        assert (await get(api, pop_path, None))[0] == 401
        status, body = await get(api, pop_path, bob)
        assert (status, body["error"]["code"]) == (403, "forbidden")
        status, pop = await get(api, pop_path, alice)
        assert status == 200, pop
        assert pop["call"]["interaction_id"] == interaction_id
        assert pop["interaction"]["id"] == interaction_id
        assert pop["interaction"]["caller"] == FIRST_CALLER
        # The voice call found the seeded customer by its number: no new customer.
        assert pop["customer"]["id"] == customer_id
        assert pop["customer"]["name"] == "Ada Example"
        assert sorted((i["kind"], i["value"]) for i in pop["customer"]["identities"]) == [
            ("email", "ada@example.com"),
            ("phone", FIRST_CALLER),
        ]
        ivr = pop["ivr"]
        assert ivr["script"] == "main_menu"
        assert ivr["path"][:5] == ["welcome", "language", "lang_en", "opening_hours", "account"]
        assert "main_options" in ivr["path"]
        entered = [(i["node"], i["digits"]) for i in ivr["inputs"] if i["kind"] == "input"]
        assert entered == [("language", "1"), ("account", UNKNOWN), ("main_options", "1")]
        assert ivr["outcome"] == "queue"
        previous = [
            (p["interaction_id"], p["channel"], p["queue"], p["agent_id"], p["outcome"], p["csat"])
            for p in pop["previous_contacts"]
        ]
        assert previous == [
            (email_id, "email", "billing", "alice", "ended", None),
            (voice_id, "voice", "billing", "bob", "ended", 5),
        ]

        context_path = f"/api/interactions/{interaction_id}/context"
        assert (await get(api, context_path, None))[0] == 401
        assert (await get(api, context_path, bob))[0] == 403
        assert (await get(api, context_path, "not-a-token"))[0] == 403
        status, context = await get(api, context_path, alice)
        assert status == 200
        assert context["customer"]["id"] == customer_id
        assert len(context["previous_contacts"]) == 2
        status, context = await get(api, context_path, supervisor_token(SECRET))
        assert (status, context["interaction"]["agent_id"]) == (200, "alice")
        status, body = await get(api, "/api/interactions/nope/context", supervisor_token(SECRET))
        assert (status, body["error"]["code"]) == (404, "unknown_interaction")
        # The earlier email's context, for the email desk: this call is now its history.
        status, context = await get(
            api, f"/api/interactions/{email_id}/context", supervisor_token(SECRET)
        )
        assert status == 200 and context["ivr"] is None
        assert [p["interaction_id"] for p in context["previous_contacts"]] == [
            interaction_id,
            voice_id,
        ]

        quality_path = "/api/agents/alice/quality"
        assert (await get(api, quality_path, None))[0] == 401
        assert (await get(api, quality_path, bob))[0] == 403
        assert (await get(api, quality_path, alice))[0] == 200


@contextlib.asynccontextmanager
async def direct_centre(tmp_path: Path, sqlite_url: str, region: str) -> AsyncIterator[Centre]:
    """The small two-agent centre (numbers straight to queues), callers in national form."""
    text = acd_conftest.ACD_YAML.replace(API_LINE, API_WITH_SECRET)
    text += f"customers: {{phone_region: {region}}}\n"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(acd_conftest, "ACD_YAML", text)
        async with running_centre(tmp_path, sqlite_url) as centre:
            yield centre


async def test_callers_numbers_find_or_create_customers_withheld_gets_none(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with direct_centre(tmp_path, sqlite_url, "US") as centre:
        # Nobody logged in: the calls wait, open, in the store.
        first = centre.call()  # 2015550101: national, read as +12015550101
        second = centre.call()  # 2015550102
        again = inbound_call(centre.sim.pbx, SALES_NUMBER, context=INBOUND, caller_num="2015550101")
        withheld = inbound_call(
            centre.sim.pbx, SALES_NUMBER, context=INBOUND, caller_num="anonymous"
        )
        assert centre.node.store is not None

        async def rows() -> dict[str, Any] | None:
            await centre.settled()
            async with centre.node.store.transaction(readonly=True) as repos:
                found = {}
                for chan in (first, second, again, withheld):
                    row = await repos.interactions.find_by_pbx_call_id(chan.uniqueid)
                    if row is None:
                        return None
                    found[chan.uniqueid] = row
                return found

        found = await wait_for(rows, what="four interactions in the store")
        await centre.settled()
        async with centre.node.store.transaction(readonly=True) as repos:
            by_call = {c: await repos.interactions.get(r.id) for c, r in found.items()}
            known = await repos.customers.find_by_identity("phone", "+12015550101")
            other = await repos.customers.find_by_identity("phone", "+12015550102")
        assert known is not None and other is not None and known.id != other.id
        assert by_call[first.uniqueid].customer_id == known.id
        assert by_call[again.uniqueid].customer_id == known.id  # the same caller, one customer
        assert by_call[second.uniqueid].customer_id == other.id
        assert by_call[withheld.uniqueid].customer_id is None


async def test_freeswitch_agent_leg_carries_the_interaction_header(
    tmp_path: Path, sqlite_url: str
) -> None:
    from tests.acd.test_freeswitch_calls import running as fs_running

    async with fs_running(tmp_path, sqlite_url) as centre:
        centre.phones["ann"].talk_time = 30.0
        await centre.login("ann")
        caller = centre.call()
        await wait_for(lambda: caller.other is not None, what="caller bridged to ann")
        leg = caller.other
        assert leg is not None
        tag = caller.get_var("cc_interaction_id")
        assert tag and leg.get_var("sip_h_X-CC-Interaction") == tag


def test_console_pop_is_refused_for_another_calls_interaction() -> None:
    from agent_softphone.cli import screen_pop_lines

    pop = {
        "interaction": {"id": "i-2", "caller": "+12015550101", "queue": "sales"},
        "customer": {"id": "c", "name": "Ada", "identities": [{"kind": "phone", "value": "+1"}]},
        "ivr": {"script": "main_menu", "path": ["welcome", "account"], "inputs": []},
        "previous_contacts": [
            {
                "created_at": "t",
                "channel": "email",
                "queue": "billing",
                "outcome": "ended",
                "agent_id": "bob",
                "csat": 4,
            },
        ],
    }
    assert "not shown" in screen_pop_lines(pop, "i-1")[0]
    lines = screen_pop_lines(pop, "i-2")
    assert lines[0].endswith("interaction i-2")
    assert any("Ada" in line for line in lines)
    assert any("welcome > account" in line for line in lines)
    assert any("email billing ended agent bob csat 4" in line for line in lines)
    assert screen_pop_lines({"interaction": None}) == [
        "[screen-pop] no ACD interaction for this call"
    ]
