"""Opt-in: the dialplan's served mark on a real Asterisk.

Needs what ``test_asterisk_acd.py`` needs. ``[cc-connect]``'s Dial runs ``[cc-agent-answered]``
on the agent's leg as it answers (Dial's ``U()``), which sets the global
``CC_SERVED_<endpoint>`` to the caller's Uniqueid. The ACD reads it (AMI ``Getvar`` without a
channel) after a restart to tell a call an agent answered from an abandoned one, whichever
side hung up first. These tests make the caller hang up first: a mark left only after
``Dial`` returned would never be set, as the caller's dialplan ends inside ``Dial``.
"""

from __future__ import annotations

import re

import pytest

from pbx.asterisk.ami import header
from tests.acd.conftest import wait_for
from tests.real import sipp
from tests.real import test_asterisk_acd as acd_suite
from tests.real.test_asterisk_acd import RING_SECONDS, RealCentre, closed, logs, start_node

pytestmark = pytest.mark.asterisk

centre = acd_suite.centre  # the ACD on the real Asterisk (fixture)

ENDPOINT = "PJSIP/agent1001"  # ann's phone (tests/acd/conftest.py)
MARK = f"CC_SERVED_{ENDPOINT}"
CALLER_TALK = 15.0  # seconds from the caller's answer (by cc-inbound) to its BYE
AGENT_TALK = 60.0  # the agent's phone would hang up after this: long after the caller


async def served_mark(centre: RealCentre) -> str:
    """The global as Asterisk holds it: Getvar with no channel."""
    answer = await centre.observer.send_action({"Action": "Getvar", "Variable": MARK})
    return header(answer, "Value")


def hung_up_by_pbx(phone: sipp.Phone) -> bool:
    """The phone received a BYE (sipp's message log): Asterisk ended its call."""
    path = phone.directory / f"{phone.name}_messages.log"
    text = path.read_text(errors="replace") if path.exists() else ""
    return re.search(r"message received \[\d+\] bytes :\s+BYE ", text) is not None


async def clear_mark(centre: RealCentre) -> None:
    # A mark from an earlier call of the same agent would pass for this one's.
    await centre.observer.send_action({"Action": "Setvar", "Variable": MARK, "Value": ""})
    assert await served_mark(centre) == ""


async def test_the_answer_leaves_the_served_mark_and_a_caller_hanging_up_first_keeps_it(
    centre: RealCentre,
) -> None:
    await clear_mark(centre)
    agent = await centre.agent_phone("agent1001", answer_after=0.5, talk=AGENT_TALK)
    await centre.login("ann")
    caller, caller_id = await centre.call(give_up_after=CALLER_TALK)
    row = await wait_for(
        lambda: centre.open_for(caller_id, "connected"),
        seconds=CALLER_TALK,
        what="caller connected to ann",
    )

    async def marked() -> bool:
        return await served_mark(centre) == row.pbx_call_id

    # Set at the answer, while both are still talking.
    await wait_for(marked, seconds=5, what=f"{MARK} = the caller's Uniqueid during the call")
    assert caller.process.returncode is None, "the caller hung up before the check"
    # The caller's BYE ends the call; Asterisk hangs up the agent's phone (its BYE arrives
    # long before the phone's own talk time would end the call).
    assert await caller.finished(within=30) == 0, logs(centre)
    await wait_for(lambda: hung_up_by_pbx(agent), seconds=10, what="the agent's phone hung up")
    assert await served_mark(centre) == row.pbx_call_id
    await wait_for(lambda: closed(centre, row.id), seconds=15, what="closed after wrap-up")
    names = [n for n in await centre.event_names(row.id) if not n.startswith("quality")]
    assert "abandoned" not in names and names[-3:] == ["connected", "wrapup", "ended"]


async def test_answered_while_the_acd_was_down_and_ended_by_the_caller_closes_served(
    centre: RealCentre,
) -> None:
    """The ACD stops while the agent's phone rings; the agent answers, the caller hangs up
    first, the ACD comes back: the call is closed as served by ann (the mark), not abandoned."""
    await clear_mark(centre)
    answer_after = RING_SECONDS - 1.0  # within the ring timeout the ACD set on the call
    agent = await centre.agent_phone("agent1001", answer_after=answer_after, talk=AGENT_TALK)
    await centre.login("ann")
    caller, caller_id = await centre.call(give_up_after=CALLER_TALK)
    row = await wait_for(
        lambda: centre.open_for(caller_id, "offered"), seconds=15, what="ann's phone offered"
    )
    await centre.node.stop()
    # Answered while the ACD is away, then the caller's BYE.
    assert await caller.finished(within=CALLER_TALK + 15) == 0, logs(centre)
    await wait_for(lambda: hung_up_by_pbx(agent), seconds=10, what="the agent's phone hung up")
    assert await served_mark(centre) == row.pbx_call_id
    centre.node = await start_node(centre.configs)
    await centre.point_fastagi()
    await wait_for(lambda: closed(centre, row.id), seconds=15, what="interaction closed")
    assert centre.node.store is not None
    async with centre.node.store.transaction(readonly=True) as repos:
        final = await repos.interactions.get(row.id)
    events = await centre.events(row.id)
    names = [e.event for e in events]
    # The ACD saw neither the answer nor the hang-up: only the mark tells it.
    assert "connected" not in names and "abandoned" not in names, names
    assert (final.state, final.agent_id) == ("ended", "ann")
    assert events[-1].event == "ended"
    assert events[-1].data["cause"] == "served while the ACD was away"
