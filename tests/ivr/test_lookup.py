"""The lookup node against a real local HTTP server: answers, slow answers, 500s, junk."""

from __future__ import annotations

import socket
import time

import pytest

from cc_core.ivr import HttpLookupClient, IvrLibrary, LookupFailed
from cc_core.ivr.lookup import pick

from .conftest import FAILING, GOLD, JUNK, NOT_AN_OBJECT, SLOW, UNKNOWN, Crm, Rebased, walk


async def test_answer_becomes_attributes(library: IvrLibrary, lookup: Rebased,
                                         crm: Crm) -> None:
    done = await walk(library, "main_menu", f"1,{GOLD}", lookup=lookup)
    assert crm.requests == [{"account": GOLD}]
    attrs = done.outcome.attributes
    assert (attrs["customer_id"], attrs["tier"], attrs["balance"]) == ("c-1", "gold", "0")
    (event,) = done.kinds("lookup")
    assert (event.detail["ok"], event.detail["found"]) == ("true", "customer_id,tier,balance")


@pytest.mark.parametrize(("account", "why"), [
    (FAILING, "HTTP 500"),
    (JUNK, "is not JSON"),
    (NOT_AN_OBJECT, "answer is not a JSON object"),
    (UNKNOWN, "HTTP 404"),
])
async def test_failures_take_the_fallback(account: str, why: str, library: IvrLibrary,
                                          lookup: Rebased) -> None:
    done = await walk(library, "main_menu", f"1,{account},3", lookup=lookup)
    (event,) = done.kinds("lookup")
    assert event.detail["ok"] == "false"
    assert why in event.detail["why"]
    assert event.detail["target"] == "main_options"
    assert done.outcome.queue == "sales"
    assert "tier" not in done.outcome.attributes


async def test_a_slow_system_times_out(library: IvrLibrary, lookup: Rebased,
                                       crm: Crm) -> None:
    started = time.monotonic()
    done = await walk(library, "main_menu", f"1,{SLOW},3", lookup=lookup)
    waited = time.monotonic() - started
    (event,) = done.kinds("lookup")
    assert "within 1.5 s" in event.detail["why"]
    assert done.outcome.queue == "sales"
    assert waited < crm.slow_seconds  # the caller was not kept waiting for the answer


async def test_client_errors_are_lookup_failures(crm: Crm) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    async with HttpLookupClient() as client:
        with pytest.raises(LookupFailed, match="ClientConnectorError"):
            await client.fetch("GET", f"http://127.0.0.1:{closed}/x", None, 1.0)
        with pytest.raises(LookupFailed, match=r"within 0\.2 s"):
            await client.fetch("GET", f"{crm.url}/customers?account={SLOW}", None, 0.2)
        answer = await client.fetch("POST", f"{crm.url}/echo", {"account": "42"}, 2.0)
        assert answer == {"got": {"account": "42"}}


def test_pick_paths() -> None:
    answer = {"customer": {"tier": "gold", "vip": True, "n": 3, "tags": ["a", "b"],
                           "none": None, "deep": {"x": 1}}}
    assert pick(answer, "customer.tier") == "gold"
    assert pick(answer, "customer.vip") == "true"
    assert pick(answer, "customer.n") == "3"
    assert pick(answer, "customer.tags.1") == "b"
    assert pick(answer, "customer.tags.5") is None
    assert pick(answer, "customer.none") is None
    assert pick(answer, "customer.deep") is None  # not a plain value
    assert pick(answer, "missing.path") is None


async def test_placeholders_are_url_quoted(library: IvrLibrary, lookup: Rebased,
                                           crm: Crm) -> None:
    await walk(library, "main_menu", "1,T,T,T,3", lookup=lookup, caller="+49 170&x=1")
    assert crm.requests == [{"phone": "+49 170&x=1"}]
