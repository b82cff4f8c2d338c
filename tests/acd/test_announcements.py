"""Hold announcements end to end: the ACD sets CC_POSITION / CC_EWT on waiting calls over AMI
and the shipped [cc-hold] speaks them (simulated Asterisk)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pbx.sim.ami.events import Event
from pbx.sim.channel import Channel
from tests.acd.conftest import Centre, running_centre, wait_for

# Refresh once a second (the lowest acd.yaml allows), the default 180 s handle time.
ANNOUNCE = "announcements: {refresh_seconds: 1}\n"
VARIABLES = ("CC_POSITION", "CC_EWT")


@pytest.fixture
async def centre(tmp_path: Path, store_url: str) -> AsyncIterator[Centre]:
    async with running_centre(tmp_path, store_url, acd_extra=ANNOUNCE) as c:
        yield c


def queued(centre: Centre) -> int:
    assert centre.node.service is not None
    return sum(1 for r in centre.node.service.calls if r.stage.value == "queued")


async def callers(centre: Centre, n: int) -> list[Channel]:
    """``n`` callers, each queued before the next calls (their order in line is known)."""
    chans = []
    for k in range(1, n + 1):
        chans.append(centre.call())
        await wait_for(lambda k=k: queued(centre) == k, what=f"{k} calls queued")
    return chans


def values(chans: list[Channel], name: str) -> list[str | None]:
    return [c.variables.get(name) for c in chans]


class VarSets:
    """Every CC_POSITION / CC_EWT the PBX set, in order: (channel, variable, value)."""

    def __init__(self, centre: Centre) -> None:
        self.seen: list[tuple[str, str, str]] = []
        self.stop = centre.sim.pbx.listen(self._on)

    def _on(self, event: Event) -> None:
        if event.name == "VarSet" and event.get("Variable") in VARIABLES:
            self.seen.append(
                (event.get("Channel") or "", event.get("Variable") or "", event.get("Value") or "")
            )

    def of(self, chan: Channel, since: int = 0) -> list[tuple[str, str]]:
        return [(var, value) for name, var, value in self.seen[since:] if name == chan.name]


async def test_waiting_callers_get_their_place_and_move_up(centre: Centre) -> None:
    chans = await callers(centre, 3)
    await wait_for(lambda: values(chans, "CC_POSITION") == ["1", "2", "3"], what="positions")
    # Nobody logged in counts as one agent; the default handle time is 180 s.
    assert values(chans, "CC_EWT") == ["180", "360", "540"]
    centre.phones["agent1001"].answers()
    await centre.login("ann")
    await wait_for(lambda: chans[0].bridge is not None, what="first caller served")
    rest = chans[1:]
    await wait_for(lambda: values(rest, "CC_POSITION") == ["1", "2"], what="moved up")
    assert values(rest, "CC_EWT") == ["180", "360"]  # one agent now: 180 s per place
    assert chans[0].variables["CC_POSITION"] == "1"  # the connected call is left alone
    for chan in chans:
        centre.hang_up(chan)


async def test_offered_call_gets_nothing_more_and_a_new_wait_starts_afresh(
    centre: Centre,
) -> None:
    sets = VarSets(centre)
    first, second = await callers(centre, 2)
    await wait_for(lambda: values([first, second], "CC_POSITION") == ["1", "2"], what="set")
    centre.phones["agent1001"].never_answers()
    await centre.login("ann")
    await wait_for(lambda: first.context == "cc-connect", what="first caller ringing ann")
    offered = len(sets.seen)
    # A sweep while the first rings: the second is next now, the first hears nothing new.
    await wait_for(lambda: second.variables["CC_POSITION"] == "1", what="second moved up")
    assert sets.of(first, offered) == []
    # No answer (2 s): the first is back on hold, ahead again, and is told so afresh.
    await wait_for(lambda: ("CC_POSITION", "1") in sets.of(first, offered), what="fresh values")
    assert ("CC_EWT", "180") in sets.of(first, offered)
    sets.stop()
    centre.hang_up(first)
    centre.hang_up(second)


async def test_the_waiting_caller_hears_its_position_and_wait(centre: Centre) -> None:
    heard: list[tuple[str, str]] = []

    def on(event: Event) -> None:
        playback = event.name == "Newexten" and event.get("Application") == "Playback"
        if playback and event.get("Context") == "cc-hold":
            heard.append((event.get("Channel") or "", event.get("AppData") or ""))

    stop = centre.sim.pbx.listen(on)
    centre.sim.pbx.globals["CC_ANNOUNCE_INTERVAL"] = "1"
    first, second = await callers(centre, 2)
    await wait_for(
        lambda: (
            {
                (second.name, "queue-thereare&digits/2&queue-callswaiting"),
                (second.name, "queue-holdtime&digits/6&queue-minutes"),
                (first.name, "queue-youarenext"),
                (first.name, "queue-holdtime&digits/3&queue-minutes"),
            }
            <= set(heard)
        ),
        seconds=20,
        what="position and wait announced",
    )
    stop()
    centre.hang_up(first)
    centre.hang_up(second)


async def test_the_estimate_learns_the_observed_handle_time(centre: Centre) -> None:
    announcer = centre.node.announcer
    assert announcer is not None
    centre.phones["agent1001"].answers(after=0.1, talk=0.5)
    await centre.login("ann")
    chan = centre.call()  # served at once
    await wait_for(lambda: chan.bridge is not None, what="served")
    # Talk (0.5 s) plus wrap-up (1 s) instead of the configured 180 s.
    average = await wait_for(
        lambda: (a := announcer.handle_times.average("sales")) != 180.0 and a,
        what="handle time observed",
    )
    assert 1.0 <= average < 10.0
    status, _ = await centre.request(
        "PUT", "/api/agents/ann/state", {"state": "not_ready", "reason": "break"}
    )
    assert status == 200
    (waiting,) = await callers(centre, 1)
    await wait_for(lambda: waiting.variables.get("CC_EWT") is not None, what="wait set")
    assert int(waiting.variables["CC_EWT"]) < 10


async def test_announcements_can_be_turned_off(tmp_path: Path, store_url: str) -> None:
    async with running_centre(
        tmp_path, store_url, acd_extra="announcements: {enabled: false}\n"
    ) as centre:
        assert centre.node.announcer is None
