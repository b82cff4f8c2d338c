"""Opt-in: the hold announcements on a real Asterisk.

Needs what ``test_asterisk_acd.py`` needs. The ACD (acd.yaml ``announcements:`` refreshed every
second) sets ``CC_POSITION`` and ``CC_EWT`` on the callers waiting in ``[cc-hold]``; the test
reads them back with AMI ``Getvar`` on each caller's channel.

The announcement test also needs ``CC_TEST_ASTERISK_TAP=user:secret``: an AMI account on the
same manager (``read`` with ``dialplan``, no event filters, e.g. ``read = all``) whose events
show what ``[cc-hold]`` plays (``Newexten`` of ``Playback`` and the ``PLAYBACKSTATUS`` it
leaves), which the shipped ``ccplane`` account filters out. Asterisk must have the English
core prompts the dialplan names (``queue-*``, ``digits/*``): a missing one ends the
``Playback`` with ``PLAYBACKSTATUS=FAILED``, which fails the test.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from pbx.asterisk.ami import header
from tests.acd.conftest import wait_for
from tests.real.ami_tap import AmiTap
from tests.real.test_asterisk_acd import RealCentre, _ami, real_centre

pytestmark = pytest.mark.asterisk

TAP = os.environ.get("CC_TEST_ASTERISK_TAP", "")
# Once a second (the lowest acd.yaml allows); handle time the default 180 s.
ANNOUNCE = "announcements: {refresh_seconds: 1}\n"
AGENT_TALK = 60.0  # ann's call lasts the whole test: no handle time observed meanwhile


@pytest.fixture
async def centre(tmp_path: Path, sqlite_url: str) -> AsyncIterator[RealCentre]:
    async with real_centre(tmp_path, sqlite_url, ANNOUNCE) as running:
        yield running


async def waiting_callers(centre: RealCentre, n: int) -> list[str]:
    """``n`` callers in sales, each queued before the next calls (their order in line is
    known); their Uniqueids."""
    calls = []
    for k in range(n):
        _, caller_id = await centre.call(give_up_after=90.0)
        row = await wait_for(
            lambda c=caller_id: centre.open_for(c, "queued"), seconds=20, what=f"caller {k} queued"
        )
        calls.append(row.pbx_call_id)
    return calls


async def interaction_of(centre: RealCentre, call: str, state: str) -> Any:
    """The open interaction of this PBX call in ``state``, or None."""
    rows = await centre.interactions()
    return next((r for r in rows if r.pbx_call_id == call and r.state == state), None)


async def getvars(centre: RealCentre, calls: list[str], name: str) -> list[str | None]:
    """``name`` as Asterisk holds it on each call's channel (AMI Getvar)."""
    return [await centre.observer.get_variable(call, name) for call in calls]


async def global_var(centre: RealCentre, name: str) -> str:
    answer = await centre.observer.send_action({"Action": "Getvar", "Variable": name})
    return header(answer, "Value")


async def set_global(centre: RealCentre, name: str, value: str) -> None:
    await centre.observer.send_action({"Action": "Setvar", "Variable": name, "Value": value})


async def test_waiting_callers_get_their_place_and_move_up(centre: RealCentre) -> None:
    calls = await waiting_callers(centre, 3)

    async def positions(wanted: list[str | None], of: list[str]) -> bool:
        return await getvars(centre, of, "CC_POSITION") == wanted

    await wait_for(lambda: positions(["1", "2", "3"], calls), seconds=10, what="positions set")
    # Nobody logged in counts as one agent; the default handle time is 180 s.
    assert await getvars(centre, calls, "CC_EWT") == ["180", "360", "540"]
    await centre.agent_phone("agent1001", answer_after=0.5, talk=AGENT_TALK)
    await centre.login("ann")
    first = await wait_for(
        lambda: interaction_of(centre, calls[0], "connected"), seconds=20, what="first served"
    )
    assert first.agent_id == "ann"
    rest = calls[1:]
    await wait_for(lambda: positions(["1", "2"], rest), seconds=10, what="the others moved up")
    assert await getvars(centre, rest, "CC_EWT") == ["180", "360"]  # one agent: 180 s a place
    # The connected call is left alone (its channel now talks to ann).
    assert await centre.observer.get_variable(calls[0], "CC_POSITION") == "1"


@pytest.fixture
async def tap() -> AsyncIterator[AmiTap]:
    if not TAP or ":" not in TAP:
        pytest.skip("CC_TEST_ASTERISK_TAP=user:secret (an unfiltered AMI account) is not set")
    host, port, _, _ = _ami()
    user, _, secret = TAP.partition(":")
    session = await AmiTap.open(host, port, user, secret)
    yield session
    await session.close()


@pytest.fixture
async def announce_every_second(centre: RealCentre) -> AsyncIterator[None]:
    """The dialplan's CC_ANNOUNCE_INTERVAL global at 1 s for the test, then as it was."""
    before = await global_var(centre, "CC_ANNOUNCE_INTERVAL")
    await set_global(centre, "CC_ANNOUNCE_INTERVAL", "1")
    try:
        yield
    finally:
        await set_global(centre, "CC_ANNOUNCE_INTERVAL", before)


def played(tap: AmiTap, call: str, prompts: str) -> str | None:
    """The PLAYBACKSTATUS of the first [cc-hold] Playback of ``prompts`` on ``call`` (None
    until it has ended)."""
    started = None
    for i, event in enumerate(tap.events):
        if event.get("Uniqueid") != call:
            continue
        if started is None:
            if (
                event.get("Event") == "Newexten"
                and event.get("Context") == "cc-hold"
                and event.get("Application") == "Playback"
                and event.get("AppData") == prompts
            ):
                started = i
        elif event.get("Event") == "VarSet" and event.get("Variable") == "PLAYBACKSTATUS":
            return event.get("Value")
    return None


def playbacks(tap: AmiTap) -> list[tuple[str | None, str | None]]:
    return [
        (e.get("Uniqueid"), e.get("AppData"))
        for e in tap.of("Newexten", Context="cc-hold", Application="Playback")
    ]


@pytest.mark.usefixtures("announce_every_second")
async def test_the_waiting_callers_hear_their_position_and_wait(
    centre: RealCentre, tap: AmiTap
) -> None:
    first, second = await waiting_callers(centre, 2)
    expected = [
        # Position 1 is "you are next"; 180 s and 360 s are 3 and 6 minutes.
        (first, "queue-youarenext"),
        (first, "queue-holdtime&digits/3&queue-minutes"),
        (second, "queue-thereare&digits/2&queue-callswaiting"),
        (second, "queue-holdtime&digits/6&queue-minutes"),
    ]

    def all_played() -> list[tuple[str, str, str | None]] | None:
        statuses = [(call, prompts, played(tap, call, prompts)) for call, prompts in expected]
        return None if any(status is None for *_, status in statuses) else statuses

    # A second of music, then the prompts (about 4 s with the stock English files).
    try:
        statuses = await wait_for(all_played, seconds=30, what="position and wait announced")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; Newexten Playback seen: {playbacks(tap)}") from None
    assert [status for *_, status in statuses] == ["SUCCESS"] * 4, statuses
