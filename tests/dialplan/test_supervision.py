"""[cc-spy]: the ACD originates the supervisor's phone into ChanSpy on the agent's channel;
and the same flows driven by the project's Asterisk adapter, which must agree with the
shipped dialplan on every context and variable name."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from pbx.asterisk import AsteriskPort
from pbx.asterisk.commands import SPY_OPTIONS
from pbx.asterisk.settings import AsteriskSettings
from pbx.port import (
    CallArrived,
    CallBridged,
    DialEnded,
    DialStatus,
    EventSubscription,
    PbxEvent,
    SpyMode,
    SpyStarted,
)
from tests.dialplan.asterisk_conf import read_conf
from tests.dialplan.conftest import MANAGER, Centre, applications, event, manager_account


async def talking(centre: Centre, agent: str = "1001") -> tuple[str, str]:
    """(caller channel, agent channel) of a call bridged to the agent's phone."""
    centre.phone(agent)
    caller = centre.call_in("+4930901821")
    await centre.held(caller.name)
    mark = centre.ami.mark()
    await centre.connect(caller.name, f"PJSIP/{agent}")
    begin = await centre.ami.wait_for(event("DialBegin", caller.name), since=mark)
    await centre.ami.wait_for(event("BridgeEnter", caller.name), since=mark)
    return caller.name, begin["DestChannel"]


async def originate_spy(centre: Centre, supervisor: str, target: str, options: str) -> None:
    answer = await centre.ami.action(
        {
            "Action": "Originate",
            "Channel": f"PJSIP/{supervisor}",
            "Context": "cc-spy",
            "Exten": "s",
            "Priority": "1",
            "Async": "true",
            "Variable": [
                f"CC_SPY_TARGET={target}",
                f"CC_SPY_OPTIONS={options}",
                "CC_SPY_MODE=test",
            ],
        }
    )
    replies = answer if isinstance(answer, list) else [answer]
    assert replies[0]["Response"] == "Success", [dict(r) for r in replies]


@pytest.mark.parametrize("mode", list(SpyMode))
async def test_listen_whisper_barge_start_chanspy_with_the_adapters_options(
    centre: Centre, mode: SpyMode
) -> None:
    _, agent = await talking(centre)
    centre.phone("1900")
    mark = centre.ami.mark()
    await originate_spy(centre, "1900", agent, SPY_OPTIONS[mode])
    start = await centre.ami.wait_for(event("ChanSpyStart"), since=mark)
    spyer = start["SpyerChannel"]
    assert spyer.startswith("PJSIP/1900-") and start["SpyeeChannel"] == agent
    spy_steps = applications(centre.ami.of(spyer, mark))
    assert ("cc-spy", "ChanSpy", f"{agent},{SPY_OPTIONS[mode]}") in spy_steps


@pytest.mark.parametrize(
    ("target", "options"),
    [
        ("PJSIP/1001", "q"),  # a prefix: would spy on whichever call of the phone
        ("PJSIP/", "q"),  # every PJSIP call
        ("", "q"),
        (None, "qX"),  # an option the ACD does not grant
        (None, "qwBE"),
        (None, ""),
    ],
)
async def test_spy_refuses_vague_targets_and_foreign_options(
    centre: Centre, target: str | None, options: str
) -> None:
    _, agent = await talking(centre)
    centre.phone("1901")
    mark = centre.ami.mark()
    await originate_spy(centre, "1901", agent if target is None else target, options)
    answered = await centre.ami.wait_for(
        lambda e: (
            e.get("Event") == "Newexten"
            and e.get("Application") == "Playback"
            and e.get("Context") == "cc-spy"
        ),
        since=mark,
    )
    assert answered["AppData"] == "beeperr"
    await centre.ami.wait_for(event("Hangup", answered["Channel"]), since=mark)
    assert not [e for e in centre.ami.events[mark:] if e.get("Event") == "ChanSpyStart"]


def read_classes() -> set[str]:
    (user,) = read_conf(MANAGER)
    return {c.strip() for c in (user.get("read") or "").split(",")}


async def test_every_event_of_a_full_call_reaches_the_acd_account(centre: Centre) -> None:
    """Asterisk sends an event to an AMI user only if one of the event's classes (its
    Privilege header) is in the user's read= list."""
    caller, agent = await talking(centre)
    centre.phone("1900")
    await originate_spy(centre, "1900", agent, SPY_OPTIONS[SpyMode.LISTEN])
    await centre.ami.wait_for(event("ChanSpyStart"))
    await centre.ami.action({"Action": "Hangup", "Channel": caller, "Cause": "16"})
    await centre.ami.wait_for(event("ChanSpyStop"))
    allowed = read_classes()
    seen: dict[str, set[str]] = {}
    for e in centre.ami.events:
        classes = set(str(e.get("Privilege", "")).split(",")) - {"all"}
        seen.setdefault(str(e.get("Event")), set()).update(classes)
    # security (SuccessfulAuth...) is for intrusion monitoring, not for the ACD.
    unreadable = {
        name: classes
        for name, classes in seen.items()
        if not classes & allowed and classes != {"security"}
    }
    assert unreadable == {}
    for needed in (
        "Newexten",
        "VarSet",
        "DialEnd",
        "BridgeEnter",
        "MusicOnHoldStart",
        "AGIExecStart",
        "ChanSpyStart",
        "Hangup",
        "ContactStatus",
    ):
        assert needed in seen, needed


# ------------------------------------------------------------------------------------------
# The project's Asterisk adapter against the shipped dialplan (its default settings)
# ------------------------------------------------------------------------------------------


async def next_event(
    sub: EventSubscription, match: Callable[[PbxEvent], bool], within: float = 5.0
) -> PbxEvent:
    async def scan() -> PbxEvent:
        async for e in sub:
            if match(e):
                return e
        raise AssertionError("event stream ended")

    return await asyncio.wait_for(scan(), within)


async def test_adapter_connects_and_spies_through_the_shipped_contexts(centre: Centre) -> None:
    user, secret = manager_account()
    port = AsteriskPort(
        AsteriskSettings(
            host="127.0.0.1",
            port=centre.sim.ami_port,
            username=user,
            secret=secret,
            command_timeout=3.0,
            connect_timeout=3.0,
        )
    )
    sub = port.events()
    await port.start()
    try:
        centre.phone("1002")
        centre.phone("1900")
        caller = centre.call_in("+4930901821")
        arrived = await next_event(sub, lambda e: isinstance(e, CallArrived))
        assert isinstance(arrived, CallArrived) and arrived.called_num == "+4930901821"
        await centre.held(caller.name)
        await port.hold(arrived.call_id, moh_class="cc-music")
        await port.connect_agent(arrived.call_id, "PJSIP/1002", ring_timeout=10, caller_id="VIP")
        dialled = await next_event(sub, lambda e: isinstance(e, DialEnded))
        assert isinstance(dialled, DialEnded) and dialled.status is DialStatus.ANSWER
        assert dialled.endpoint == "PJSIP/1002"
        bridged = await next_event(
            sub, lambda e: isinstance(e, CallBridged) and e.call_id == arrived.call_id
        )
        assert isinstance(bridged, CallBridged)
        await port.spy("PJSIP/1900", bridged.other_call_id, SpyMode.WHISPER)
        started = await next_event(sub, lambda e: isinstance(e, SpyStarted))
        assert isinstance(started, SpyStarted)
        assert (started.target_call_id, started.mode) == (bridged.other_call_id, SpyMode.WHISPER)
    finally:
        await port.close()
