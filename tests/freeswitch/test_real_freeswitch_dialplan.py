"""Opt-in: the adapter against a real FreeSWITCH running the shipped dialplan.

The rings and the served mark the ACD relies on, seen from the port: a ring nobody answers
goes back to hold, an answered one bridges and leaves the global ``cc_served_<endpoint>``
(read with ``global_getvar``) naming the caller, a supervisor joins an agent's call, and
``cc-callback`` rings the customer once the agent answered. Needs what
``test_real_freeswitch_acd.py`` needs (``CC_TEST_FREESWITCH``, ``dialplan/freeswitch``
installed, the captures' ``default.xml``: ``9999`` and ``6000`` answer and park, ``park``
parks without answering); no IVR is involved. Callers are
``originate loopback/cc_hold/ccplane``: their B leg waits in ``cc_hold`` like a tagged call.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator

import pytest

from pbx.freeswitch import FreeSwitchPort, FreeSwitchSettings
from pbx.port import (
    CallAnswered,
    CallBridged,
    CallHungUp,
    DialEnded,
    DialStatus,
    NoSuchCall,
    PbxEvent,
    SpyMode,
    SpyStarted,
    SpyStopped,
)
from tests.acd.conftest import wait_for

from .conftest import collect_until

pytestmark = pytest.mark.freeswitch

TARGET = os.environ.get("CC_TEST_FREESWITCH", "")
if not TARGET:
    pytest.skip(
        "CC_TEST_FREESWITCH=host:port:password is not set: no real FreeSWITCH to test against",
        allow_module_level=True,
    )

AGENT = "loopback/9999/default"  # answers
DEAF_AGENT = "loopback/park/default"  # rings, never answers
CUSTOMER = "loopback/6000/default"  # answers


def of(kind: type[PbxEvent], **match: object):  # type: ignore[no-untyped-def]
    return lambda events: any(
        isinstance(e, kind) and all(getattr(e, k) == v for k, v in match.items()) for e in events
    )


@pytest.fixture
async def port() -> AsyncIterator[FreeSwitchPort]:
    parts = TARGET.split(":", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        pytest.fail(f"CC_TEST_FREESWITCH={TARGET!r}: expected host:port:password", pytrace=False)
    settings = FreeSwitchSettings(
        host=parts[0], port=int(parts[1]), password=parts[2], inbound_contexts=("ccplane",)
    )
    adapter = FreeSwitchPort(settings)
    await adapter.start()
    yield adapter
    await adapter.close()


async def held_caller(port: FreeSwitchPort, tag: str) -> tuple[str, str]:
    """A tagged caller waiting in cc_hold: (the leg we placed, the leg in ccplane)."""
    placed = await port.originate(
        "loopback/cc_hold/ccplane", "default", "park", variables={"CC_INTERACTION_ID": tag}
    )
    caller = str(
        await wait_for(
            lambda: port.get_variable(placed, "other_loopback_leg_uuid"), what="the B leg"
        )
    )
    await port.set_variable(caller, "CC_INTERACTION_ID", tag)
    await wait_for(lambda: _app_is(port, caller, "endless_playback"), what="the caller in cc_hold")
    return placed, caller


async def _app_is(port: FreeSwitchPort, call: str, app: str) -> bool:
    return await port.get_variable(call, "current_application") == app


async def test_a_ring_nobody_answers_goes_back_to_hold(port: FreeSwitchPort) -> None:
    sub = port.events()
    placed, caller = await held_caller(port, "real-ring-1")
    try:
        await port.connect_agent(caller, DEAF_AGENT, ring_timeout=2)
        await collect_until(
            sub, of(DialEnded, call_id=caller, status=DialStatus.NOANSWER), within=10
        )
        await wait_for(lambda: _app_is(port, caller, "endless_playback"), what="back in hold")
        assert await port.get_variable(caller, "cc_ring_result") == "NOANSWER"
        marks = await port.served_by([DEAF_AGENT])
        assert marks.get(DEAF_AGENT) != caller
    finally:
        await port.hangup(placed)


async def test_an_answered_ring_bridges_and_leaves_the_served_mark(port: FreeSwitchPort) -> None:
    sub = port.events()
    placed, caller = await held_caller(port, "real-ring-2")
    await port.connect_agent(caller, AGENT, ring_timeout=5)
    events = await collect_until(sub, of(CallBridged, call_id=caller), within=10)
    assert of(DialEnded, call_id=caller, status=DialStatus.ANSWER)(events)
    # Set as the agent's leg answered, before the bridge: already there.
    assert await port.served_by([AGENT]) == {AGENT: caller}
    assert (await port.api(f"global_getvar cc_served_{AGENT}")).strip() == caller
    # The caller hangs up first: the mark outlives the caller's channel.
    await port.hangup(placed)
    await collect_until(sub, of(CallHungUp, call_id=caller), within=10)
    assert await port.served_by([AGENT]) == {AGENT: caller}


@pytest.mark.parametrize("mode", [SpyMode.LISTEN, SpyMode.WHISPER, SpyMode.BARGE])
async def test_a_supervisor_joins_an_agent_on_a_call(port: FreeSwitchPort, mode: SpyMode) -> None:
    sub = port.events()
    placed, caller = await held_caller(port, f"real-spy-{mode.value}")
    try:
        await port.connect_agent(caller, AGENT, ring_timeout=5)
        events = await collect_until(sub, of(CallBridged, call_id=caller), within=10)
        (bridged,) = [e for e in events if isinstance(e, CallBridged) and e.call_id == caller]
        agent_leg = bridged.other_call_id
        spy = await port.spy(AGENT, agent_leg, mode)
        await collect_until(
            sub, of(SpyStarted, spy_call_id=spy, target_call_id=agent_leg, mode=mode), within=10
        )
        await port.hangup(spy)
        await collect_until(sub, of(SpyStopped, spy_call_id=spy), within=10)
    finally:
        await port.hangup(placed)


@pytest.mark.parametrize(
    ("dial", "outcome"),
    [(CUSTOMER, DialStatus.ANSWER), ("loopback/park/default", DialStatus.NOANSWER)],
)
async def test_a_callback_rings_the_customer_once_the_agent_answered(
    port: FreeSwitchPort, dial: str, outcome: DialStatus
) -> None:
    sub = port.events()
    leg = await port.originate(
        AGENT,
        "cc-callback",
        "s",
        caller_id='"Callback" <+4915112345678>',
        variables={
            "CC_INTERACTION_ID": "real-cb",
            "CC_CALLBACK_DIAL": dial,
            "CC_CALLBACK_RING": "2",
        },
    )
    try:
        events = await collect_until(sub, of(DialEnded, call_id=leg), within=10)
        assert of(CallAnswered, call_id=leg)(events)
        (ended,) = [e for e in events if isinstance(e, DialEnded) and e.call_id == leg]
        assert (ended.endpoint, ended.status) == (dial, outcome)
        if outcome is DialStatus.ANSWER:
            await collect_until(sub, of(CallBridged, call_id=leg), within=5)
            await port.hangup(leg)
        await collect_until(sub, of(CallHungUp, call_id=leg), within=10)
    finally:
        with contextlib.suppress(NoSuchCall):
            await port.hangup(leg)


async def test_a_refused_callback_dial_string_hangs_the_agent_up(port: FreeSwitchPort) -> None:
    sub = port.events()
    leg = await port.originate(
        AGENT,
        "cc-callback",
        "s",
        variables={"CC_INTERACTION_ID": "real-cb-bad", "CC_CALLBACK_DIAL": "nodial"},
    )
    events = await collect_until(sub, of(CallHungUp, call_id=leg), within=10)
    (hung_up,) = [e for e in events if isinstance(e, CallHungUp) and e.call_id == leg]
    assert hung_up.cause.text == "Channel not implemented"
