"""A customer call through [cc-inbound] (FastAGI IVR) into [cc-hold], and what happens when
the IVR is not there: the call must still wait, marked, for the ACD to adopt it."""

from __future__ import annotations

import asyncio

import pytest

from pbx.asterisk.fastagi import FastAgiServer
from tests.dialplan.conftest import (
    TIME_SCALE,
    Centre,
    MakeCentre,
    StubIvr,
    applications,
    closed_port,
    event,
)


async def test_ivr_tags_the_call_then_it_waits_with_music(centre: Centre) -> None:
    caller = centre.call_in("+4930901821")
    moh = await centre.held(caller.name)
    assert moh["Class"] == "cc-music"  # CC_DEFAULT_MOH_CLASS
    assert centre.ivr is not None
    (visit,) = centre.ivr.visits
    assert (visit.script, visit.args, visit.channel) == (
        "ivr/main_menu",
        ["+4930901821"],
        caller.name,
    )
    ami = centre.ami
    assert await ami.getvar(caller.name, "CC_DNIS") == "+4930901821"
    assert await ami.getvar(caller.name, "CC_INTERACTION_ID") == "i-1"
    assert await ami.getvar(caller.name, "CC_QUEUE") == "billing"
    assert await ami.getvar(caller.name, "CC_IVR_FAILED") == ""
    steps = [(ctx, app) for ctx, app, _ in applications(ami.of(caller.name))]
    assert steps[:4] == [
        ("cc-inbound", "NoOp"),
        ("cc-inbound", "Set"),
        ("cc-inbound", "Answer"),
        ("cc-inbound", "AGI"),
    ]
    assert ("cc-hold", "MusicOnHold") in steps
    state = await ami.wait_for(event("Newstate", caller.name))
    assert state["ChannelStateDesc"] == "Up"


async def test_acd_chosen_music_class_is_used(centre: Centre) -> None:
    caller = centre.call_in("+4930901821")
    await centre.held(caller.name)
    mark = centre.ami.mark()
    # The adapter's hold(): Setvar CC_MOH_CLASS, then Redirect to cc-hold.
    await centre.ami.setvar(caller.name, "CC_MOH_CLASS", "spanish")
    await centre.ami.redirect(caller.name, "cc-hold")
    moh = await centre.held(caller.name, since=mark)
    assert moh["Class"] == "spanish"


async def test_call_without_dialled_number_counts_as_the_main_number(centre: Centre) -> None:
    caller = centre.call_in("s")
    await centre.held(caller.name)
    assert centre.ivr is not None
    assert centre.ivr.visits[0].args == ["+4930901820"]  # CC_DEFAULT_DNIS
    assert await centre.ami.getvar(caller.name, "CC_DNIS") == "+4930901820"


async def test_fastagi_down_call_is_still_held_with_fallback_queue(
    make_centre: MakeCentre,
) -> None:
    centre = await make_centre(fastagi=f"agi://127.0.0.1:{closed_port()}")
    caller = centre.call_in("+34911234567")
    moh = await centre.held(caller.name)
    assert moh["Class"] == "cc-music"
    ami = centre.ami
    assert await ami.getvar(caller.name, "AGISTATUS") == "FAILURE"
    assert await ami.getvar(caller.name, "CC_IVR_FAILED") == "FAILURE"
    assert await ami.getvar(caller.name, "CC_FALLBACK_QUEUE") == "+34911234567"
    assert await ami.getvar(caller.name, "CC_INTERACTION_ID") == ""
    # Nothing hung it up: the ACD can adopt it once back.
    assert not caller.hung_up


async def test_fastagi_without_a_script_for_us_counts_as_untagged(
    make_centre: MakeCentre,
) -> None:
    # A FastAGI server that answers but has no handler: AGISTATUS is SUCCESS, no tag.
    bare = FastAgiServer("127.0.0.1", 0)
    await bare.start()
    try:
        centre = await make_centre(fastagi=f"agi://127.0.0.1:{bare.port}")
        caller = centre.call_in("+4930901821")
        await centre.held(caller.name)
        ami = centre.ami
        assert await ami.getvar(caller.name, "AGISTATUS") == "SUCCESS"
        assert await ami.getvar(caller.name, "CC_AGI_ERROR") == "no handler for ivr/main_menu"
        assert await ami.getvar(caller.name, "CC_IVR_FAILED") == "UNTAGGED"
        assert await ami.getvar(caller.name, "CC_FALLBACK_QUEUE") == "+4930901821"
    finally:
        await bare.close()


async def test_admin_fallback_queue_wins_over_the_dialled_number(
    make_centre: MakeCentre,
) -> None:
    centre = await make_centre(fastagi=f"agi://127.0.0.1:{closed_port()}")
    centre.sim.pbx.globals["CC_FALLBACK_QUEUE"] = "support"
    caller = centre.call_in("+34911234567")
    await centre.held(caller.name)
    assert await centre.ami.getvar(caller.name, "CC_FALLBACK_QUEUE") == "support"


async def test_caller_hanging_up_in_the_ivr_ends_the_call(make_centre: MakeCentre) -> None:
    ivr = StubIvr(tag=False)
    centre = await make_centre(ivr=ivr)
    caller = centre.call_in("+4930901821")
    centre.sim.pbx.queue_hangup(caller, 16)
    hangup = await centre.ami.wait_for(event("Hangup", caller.name))
    assert hangup["Cause"] == "16"
    assert ("cc-hold", "MusicOnHold") not in [
        (c, a) for c, a, _ in applications(centre.ami.of(caller.name))
    ]


def playbacks(centre: Centre, channel: str, since: int = 0) -> list[str]:
    return [
        data
        for ctx, app, data in applications(centre.ami.of(channel, since))
        if ctx == "cc-hold" and app == "Playback"
    ]


@pytest.mark.parametrize(
    ("position", "ewt", "expected"),
    [
        (
            "3",
            "125",
            ["queue-thereare&digits/3&queue-callswaiting", "queue-holdtime&digits/3&queue-minutes"],
        ),
        ("1", "60", ["queue-youarenext", "queue-holdtime&digits/1&queue-minute"]),
        ("42", "", ["queue-thereare&digits/40&digits/2&queue-callswaiting"]),
        (
            "30",
            "1",
            ["queue-thereare&digits/30&queue-callswaiting", "queue-holdtime&digits/1&queue-minute"],
        ),
        ("", "1200", ["queue-holdtime&digits/20&queue-minutes"]),
        # Out of what the digits/ prompts can say, or not a number: silence, not nonsense.
        ("100", "7200", []),
        ("two", "0", []),
        ("", "", []),
    ],
)
async def test_periodic_position_and_wait_announcements(
    centre: Centre, position: str, ewt: str, expected: list[str]
) -> None:
    caller = centre.call_in("+4930901821")
    await centre.held(caller.name)
    if position:
        await centre.ami.setvar(caller.name, "CC_POSITION", position)
    if ewt:
        await centre.ami.setvar(caller.name, "CC_EWT", ewt)
    mark = centre.ami.mark()
    # The announcement comes after CC_ANNOUNCE_INTERVAL (30 s) of music, then music again.
    await centre.ami.wait_for(event("MusicOnHoldStop", caller.name), since=mark)
    await centre.ami.wait_for(event("MusicOnHoldStart", caller.name), since=mark, within=10)
    assert playbacks(centre, caller.name, mark) == expected


async def test_announcements_can_be_switched_off(centre: Centre) -> None:
    centre.sim.pbx.globals["CC_ANNOUNCE_POSITION"] = "no"
    caller = centre.call_in("+4930901821")
    await centre.held(caller.name)
    await centre.ami.setvar(caller.name, "CC_POSITION", "2")
    await centre.ami.setvar(caller.name, "CC_EWT", "90")
    mark = centre.ami.mark()
    await centre.ami.wait_for(event("MusicOnHoldStop", caller.name), since=mark)
    await centre.ami.wait_for(event("MusicOnHoldStart", caller.name), since=mark, within=10)
    assert playbacks(centre, caller.name, mark) == ["queue-holdtime&digits/2&queue-minutes"]


async def test_interval_zero_means_music_only(centre: Centre) -> None:
    centre.sim.pbx.globals["CC_ANNOUNCE_INTERVAL"] = "0"
    caller = centre.call_in("+4930901821")
    moh = await centre.held(caller.name)
    assert moh["Class"] == "cc-music"
    newexten = [e for e in centre.ami.of(caller.name) if e.get("Application") == "MusicOnHold"]
    assert newexten[-1]["AppData"] == "cc-music,0"
    await asyncio.sleep(60 * TIME_SCALE)  # two would-be intervals
    assert not [e for e in centre.ami.of(caller.name) if e.get("Event") == "MusicOnHoldStop"]
