"""End to end over the simulated FreeSWITCH (``pbx.sim.esl``, real ESL over TCP) running the
shipped dialplan (``dialplan/freeswitch``): a caller goes through the outbound-socket IVR, waits
in hold, is connected to an agent's phone, a supervisor whispers, the event socket drops and the
resync re-adopts the call, and the call ends."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pbx.freeswitch import FreeSwitchPort
from pbx.freeswitch.outbound import OutboundServer, OutboundSession
from pbx.port import (
    CallArrived,
    CallBridged,
    CallHungUp,
    ConnectionLost,
    ConnectionRestored,
    DialEnded,
    DialStatus,
    PbxEvent,
    Resynced,
    SpyMode,
    SpyStarted,
)
from pbx.sim.esl.runtime import FsSimConfig, FsSimulator
from pbx.sim.esl.switch import UserEndpoint
from tests.paths import ROOT

from .conftest import collect_until, eventually, settings_for

SHIPPED = ROOT / "dialplan" / "freeswitch"


def of(kind: type[PbxEvent], **match: object):  # type: ignore[no-untyped-def]
    return lambda events: any(
        isinstance(e, kind) and all(getattr(e, k) == v for k, v in match.items()) for e in events
    )


async def ivr(session: OutboundSession) -> None:
    """A one-step IVR: tag the call for the ACD and let the dialplan hold it."""
    await session.set_variable("CC_INTERACTION_ID", f"i-{session.caller_num}")


@pytest.fixture
async def ivr_server() -> AsyncIterator[OutboundServer]:
    # The shipped dialplan expects the IVR to move the call to hold when it is done.
    server = OutboundServer(
        "127.0.0.1", 0, ivr, command_timeout=2.0, then_transfer_to=("cc_hold", "ccplane")
    )
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def sim(ivr_server: OutboundServer, tmp_path: Path) -> AsyncIterator[FsSimulator]:
    # The dialplan names the IVR server's address, known only now.
    variables = tmp_path / "vars_cc.xml"
    variables.write_text(
        (SHIPPED / "vars_cc.xml")
        .read_text()
        .replace("127.0.0.1:8084", f"127.0.0.1:{ivr_server.port}")
    )
    config = FsSimConfig(
        dialplan_paths=[variables, SHIPPED / "dialplan" / "ccplane.xml"],
        port=0,
        time_scale=0.05,
        heartbeat=0.5,
    )
    simulator = FsSimulator(config)
    await simulator.start()
    yield simulator
    await simulator.stop()


async def test_call_through_ivr_hold_connect_spy_drop_and_end(sim: FsSimulator) -> None:
    threads_before = threading.active_count()
    for user in ("1001", "2001"):
        sim.register(
            UserEndpoint(user, "127.0.0.1", f"sip:{user}@127.0.0.1:5099", answer_delay=0.2)
        )
    port = FreeSwitchPort(settings_for(sim.port))
    sub = port.events()
    await port.start()
    try:
        # A caller dials 5000: the B leg of a loopback enters the ccplane context.
        answer = await port.api(
            "originate {origination_caller_id_number=5551234}loopback/5000/ccplane &park()"
        )
        assert answer.startswith("+OK"), answer
        events = await collect_until(sub, of(CallArrived, called_num="5000"))
        caller = next(e for e in events if isinstance(e, CallArrived)).call_id
        await eventually(lambda: ivr_done(port, caller), within=5)
        assert await port.get_variable(caller, "CC_INTERACTION_ID") == "i-5551234"

        await port.hold(caller, moh_class="default")
        await port.connect_agent(caller, "user/1001", ring_timeout=5)
        events = await collect_until(sub, of(CallBridged, call_id=caller))
        assert DialEnded(call_id=caller, endpoint="user/1001", status=DialStatus.ANSWER) in events
        agent = next(e for e in events if isinstance(e, CallBridged)).other_call_id

        spy = await port.spy("user/2001", agent, SpyMode.WHISPER)
        await collect_until(sub, of(SpyStarted, spy_call_id=spy, target_call_id=agent))

        port.drop_link("test: link cut")
        events = await collect_until(sub, of(Resynced))
        assert events[0] == ConnectionLost(reason="test: link cut")
        assert events[1] == ConnectionRestored()
        (resynced,) = [e for e in events if isinstance(e, Resynced)]
        adopted = {c.call_id: c for c in resynced.calls}
        assert adopted[caller].variables["CC_INTERACTION_ID"] == "i-5551234"
        assert adopted[caller].bridged_with == agent

        await port.hangup(caller)
        await collect_until(sub, lambda ev: {caller, agent, spy} <= hung_up(ev))
    finally:
        await port.close()
    assert threading.active_count() == threads_before


def ivr_done(port: FreeSwitchPort, caller: str) -> bool:
    channel = port._table.get(caller)
    return channel is not None and channel.exten == "cc_hold"


def hung_up(events: list[PbxEvent]) -> set[str]:
    return {e.call_id for e in events if isinstance(e, CallHungUp)}
