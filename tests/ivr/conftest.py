"""Shared fixtures: the shipped IVR library, a scripted walk, and a real local customer system
(aiohttp) that answers, answers slowly, fails with 500 or returns junk."""

from __future__ import annotations

import asyncio
import datetime as dt
import zoneinfo
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from cc_core.ivr import (
    HttpLookupClient,
    IvrContext,
    IvrEvent,
    IvrLibrary,
    IvrOutcome,
    LookupClient,
    OfflineLookup,
    ScriptedSession,
    load_library,
    parse_keys,
    run_script,
)
from cc_core.ivr.checks import luhn

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "configs"
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
# The shipped script's customer system; tests point it at their own server.
SCRIPT_CRM = "http://127.0.0.1:8099"


def berlin(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=BERLIN)


OPEN = berlin("2026-11-23T10:00")  # a Monday
CLOSED = berlin("2026-11-23T19:30")


def with_check_digit(stem: str) -> str:
    """``stem`` plus the digit that makes it pass the Luhn check."""
    (number,) = [stem + d for d in "0123456789" if luhn(stem + d)]
    return number


GOLD = with_check_digit("1000001")
SILVER = with_check_digit("1000002")
SLOW = with_check_digit("1000003")
FAILING = with_check_digit("1000004")
JUNK = with_check_digit("1000005")
NOT_AN_OBJECT = with_check_digit("1000006")
UNKNOWN = with_check_digit("1000007")
BAD_LUHN = GOLD[:-1] + str((int(GOLD[-1]) + 1) % 10)
KNOWN_CALLER = "+4917000000001"

CUSTOMERS: dict[str, dict[str, Any]] = {
    GOLD: {"id": "c-1", "tier": "gold", "balance": 0},
    SILVER: {"id": "c-2", "tier": "silver", "balance": 42},
}
BY_PHONE = {KNOWN_CALLER: {"id": "c-3", "tier": "bronze"}}


@dataclass
class Crm:
    url: str
    requests: list[Mapping[str, str]]
    slow_seconds: float


@pytest.fixture
async def crm() -> AsyncIterator[Crm]:
    seen: list[Mapping[str, str]] = []
    state = Crm("", seen, 2.0)

    async def customers(request: web.Request) -> web.StreamResponse:
        query = dict(request.query)
        seen.append(query)
        account = query.get("account", "")
        if account == SLOW:
            await asyncio.sleep(state.slow_seconds)
        if account == FAILING:
            return web.Response(status=500, text="database down")
        if account == JUNK:
            return web.Response(text="<html>oops</html>", content_type="text/html")
        if account == NOT_AN_OBJECT:
            return web.json_response([1, 2, 3])
        found = CUSTOMERS.get(account) or BY_PHONE.get(query.get("phone", ""))
        if found is None:
            return web.json_response({"error": "not found"}, status=404)
        return web.json_response({"customer": found})

    async def echo(request: web.Request) -> web.StreamResponse:
        return web.json_response({"got": await request.json()})

    app = web.Application()
    app.router.add_get("/customers", customers)
    app.router.add_post("/echo", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    state.url = f"http://127.0.0.1:{port}"
    yield state
    await runner.cleanup()


class Rebased:
    """The real HTTP client, with the script's customer-system address swapped for the
    test server's (the shipped script names a fixed address)."""

    def __init__(self, target: str) -> None:
        self.client = HttpLookupClient()
        self.target = target

    async def fetch(self, method: str, url: str, body: Mapping[str, str] | None,
                    deadline_s: float) -> Any:
        return await self.client.fetch(method, url.replace(SCRIPT_CRM, self.target), body,
                                       deadline_s)


@pytest.fixture
async def lookup(crm: Crm) -> AsyncIterator[Rebased]:
    client = Rebased(crm.url)
    yield client
    await client.client.close()


@pytest.fixture(scope="session")
def library() -> IvrLibrary:
    return load_library(SHIPPED)


@dataclass
class Walk:
    outcome: IvrOutcome
    session: ScriptedSession
    events: list[IvrEvent]

    def kinds(self, kind: str) -> list[IvrEvent]:
        return [e for e in self.events if e.kind == kind]


async def walk(library: IvrLibrary, script: str, keys: str, *, at: dt.datetime = OPEN,
               lookup: LookupClient | None = None, caller: str = "+4915112345678",
               attributes: Mapping[str, str] | None = None) -> Walk:
    session = ScriptedSession(parse_keys(keys), caller_num=caller, called_num="+4930901820",
                              call_id="call-1")
    events: list[IvrEvent] = []
    context = IvrContext(prompts=library.prompts, sink=events.append,
                         lookup=lookup or OfflineLookup(), clock=lambda: at,
                         attributes=dict(attributes or {}))
    outcome = await run_script(library.script(script), session, context)
    return Walk(outcome, session, events)
