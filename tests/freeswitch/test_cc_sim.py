"""End to end through ``cc-sim --pbx freeswitch`` (a separate process running the shipped
dialplan, its agent phones and its call traffic): a generated call reaches the adapter, goes
through our outbound-socket IVR to hold, is connected to agent 1001, survives a link drop with
its tag, and is hung up."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from pbx.freeswitch import FreeSwitchPort
from pbx.freeswitch.outbound import OutboundServer, OutboundSession
from pbx.port import (
    CallArrived,
    CallBridged,
    CallHungUp,
    ConnectionRestored,
    DialEnded,
    DialStatus,
    PbxEvent,
    Resynced,
)
from tests.paths import ROOT

from .conftest import collect_until, eventually, settings_for

SHIPPED = ROOT / "dialplan" / "freeswitch"


async def ivr(session: OutboundSession) -> None:
    await session.set_variable("CC_INTERACTION_ID", f"i-{session.called_num}")


def scenario(path: Path, ivr_port: int) -> Path:
    data = {
        "dialplan": "unused.conf",
        "time_scale": 0.05,
        "freeswitch": {
            "host": "127.0.0.1",
            "port": 0,
            "password": "cc-test",
            "dialplan": [
                str(SHIPPED / "vars_cc.xml"),
                str(SHIPPED / "dialplan" / "ccplane.xml"),
            ],
            "preprocess": {"cc_ivr_socket": f"127.0.0.1:{ivr_port}"},
        },
        "agents": [{"endpoint": "1001", "answer_delay": 0.5, "talk_time_mean": None}],
        "traffic": {
            "seed": 3,
            "max_calls": 1,
            "numbers": [{"number": "5000", "calls_per_minute": 600, "patience_mean": 3000}],
        },
    }
    file = path / "scenario.yaml"
    file.write_text(yaml.safe_dump(data))
    return file


@pytest.fixture
async def cc_sim(tmp_path: Path) -> AsyncIterator[tuple[int, OutboundServer]]:
    server = OutboundServer(
        "127.0.0.1", 0, ivr, command_timeout=2.0, then_transfer_to=("cc_hold", "ccplane")
    )
    await server.start()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pbx.sim.cli",
        str(scenario(tmp_path, server.port)),
        "--pbx",
        "freeswitch",
        "--log-level",
        "WARNING",
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
        assert line.startswith("cc-sim: ESL on 127.0.0.1:"), line
        yield int(line.rsplit(":", 1)[1]), server
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()
        await server.close()


def of(kind: type[PbxEvent], **match: object):  # type: ignore[no-untyped-def]
    return lambda events: any(
        isinstance(e, kind) and all(getattr(e, k) == v for k, v in match.items()) for e in events
    )


async def test_generated_call_ivr_hold_connect_drop_and_hangup(
    cc_sim: tuple[int, OutboundServer],
) -> None:
    port_number, server = cc_sim
    port = FreeSwitchPort(settings_for(port_number, password="cc-test", command_timeout=5.0))
    sub = port.events()
    await port.start()
    try:
        # The traffic starts with the simulator: the call may already be there when we connect
        # (adopted from the first resync) or arrive afterwards.
        events = await collect_until(sub, caller_known, within=20)
        caller = caller_of(events)
        await eventually(lambda: server.sessions_served == 1, within=10)
        await eventually(lambda: on_hold(port, caller), within=10)

        await port.connect_agent(caller, "user/1001", ring_timeout=10)
        events = await collect_until(sub, of(CallBridged, call_id=caller), within=15)
        assert DialEnded(call_id=caller, endpoint="user/1001", status=DialStatus.ANSWER) in events

        port.drop_link("test: link cut")
        events = await collect_until(sub, of(Resynced), within=10)
        assert ConnectionRestored() in events
        (resynced,) = [e for e in events if isinstance(e, Resynced)]
        adopted = {c.call_id: c for c in resynced.calls}
        assert adopted[caller].variables["CC_INTERACTION_ID"] == "i-5000"

        await port.hangup(caller)
        await collect_until(sub, of(CallHungUp, call_id=caller), within=10)
    finally:
        await port.close()


def caller_of(events: list[PbxEvent]) -> str:
    for event in events:
        if isinstance(event, CallArrived):
            return event.call_id
        if isinstance(event, Resynced) and event.calls:
            return event.calls[0].call_id
    return ""


def caller_known(events: list[PbxEvent]) -> bool:
    return bool(caller_of(events))


def on_hold(port: FreeSwitchPort, caller: str) -> bool:
    channel = port._table.get(caller)
    return channel is not None and channel.exten == "cc_hold"
