"""The IVR interpreter, unchanged, over the outbound socket server: a caller keys through a
menu and a collect, the script queues them; a caller who hangs up mid-menu is reported so."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest

from cc_core.ivr import IvrContext, OutcomeKind, PromptCatalog, run_script
from cc_core.ivr.model import Script
from cc_core.ivr.prompts import PromptSet
from pbx.freeswitch.outbound import OutboundServer, OutboundSession

from .fake_caller import FakeCaller

PROMPTS = PromptCatalog(
    {
        "en": PromptSet.model_validate(
            {
                "language": "en",
                "voice": "en-us",
                "prompts": {"hi": "Hi.", "menu": "Press 1.", "account": "Your account number?"},
            }
        )
    }
)
SCRIPT = Script.model_validate(
    {
        "name": "t",
        "languages": ["en"],
        "language": "en",
        "start": "hello",
        "nodes": {
            "hello": {"type": "play", "prompts": ["hi"], "next": "menu"},
            "menu": {
                "type": "menu",
                "prompts": ["menu"],
                "options": {"1": "account"},
                "fallback": "bye",
            },
            "account": {
                "type": "collect",
                "prompts": ["account"],
                "into": "account",
                "min_digits": 4,
                "max_digits": 8,
                "next": "queue",
                "fallback": "bye",
            },
            "queue": {"type": "queue", "queue": "support"},
            "bye": {"type": "hangup"},
        },
    }
)
NOON = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


async def run_call(caller: FakeCaller) -> Any:
    outcomes: list[Any] = []

    async def ivr(session: OutboundSession) -> None:
        outcomes.append(
            await run_script(SCRIPT, session, IvrContext(prompts=PROMPTS, clock=lambda: NOON))
        )

    server = OutboundServer("127.0.0.1", 0, ivr, command_timeout=2.0)
    await server.start()
    try:
        await asyncio.wait_for(caller.call(server.port), 10)
    finally:
        await server.close()
    (outcome,) = outcomes
    return outcome


@pytest.mark.parametrize("variables_in_events", [True, False])
async def test_caller_keys_through_menu_and_collect_into_a_queue(
    variables_in_events: bool,
) -> None:
    caller = FakeCaller(
        "c-1", "+4930111", "5000", keys=["1", "4711#"], variables_in_events=variables_in_events
    )
    outcome = await run_call(caller)
    assert outcome.kind is OutcomeKind.QUEUE
    assert outcome.queue == "support"
    assert outcome.attributes["account"] == "4711"
    assert outcome.attributes["caller"] == "+4930111"
    # Each prompt went to FreeSWITCH as a file under its sound prefix.
    assert len(caller.played) == 3
    assert all(p.endswith(".wav") for p in caller.played)
    assert caller.hung_up_by == ""


async def test_caller_hanging_up_in_the_menu_is_reported() -> None:
    caller = FakeCaller("c-2", "+4930222", "5000", keys=[])
    outcome = await run_call(caller)
    assert outcome.kind is OutcomeKind.CALLER_HUNG_UP
    assert caller.hung_up_by == "caller"
    assert caller.commands[-1] == "exit"
