"""The AMI client library the ACD uses (panoramisk) works against the simulator."""

from __future__ import annotations

import asyncio

from panoramisk import Manager

from pbx.sim.runtime import Simulator


async def test_panoramisk_login_ping_list_and_originate(sim: Simulator) -> None:
    manager = Manager(
        loop=asyncio.get_running_loop(),
        host="127.0.0.1",
        port=sim.ami_port,
        username="acd",
        secret="acdsecret",
        ping_delay=0,
        reconnect_timeout=1,
    )
    newchannels: asyncio.Queue[str] = asyncio.Queue()
    manager.register_event("Newchannel", lambda _m, msg: newchannels.put_nowait(msg["Channel"]))
    await manager.connect()
    try:
        pong = await manager.send_action({"Action": "Ping"})
        assert pong["Ping"] == "Pong"
        queued = await manager.send_action(
            {
                "Action": "Originate",
                "Channel": "Local/hold@local-test",
                "Context": "local-test",
                "Exten": "hold",
                "Priority": "1",
                "Async": "true",
                "CallerID": '"ACD Test" <5550001>',
            }
        )
        # panoramisk collects an async Originate's answer and its OriginateResponse together.
        assert [m.get("Response") for m in queued] == ["Success", "Success"]
        assert queued[-1]["Event"] == "OriginateResponse" and queued[-1]["Reason"] == "4"
        first = await asyncio.wait_for(newchannels.get(), 5)
        assert first == queued[-1]["Channel"]
        listing = await manager.send_action({"Action": "CoreShowChannels"})
        items = [dict(m) for m in listing if m.get("Event") == "CoreShowChannel"]
        assert sorted(i["Channel"][-2:] for i in items) == [";1", ";2"]
        gone = await manager.send_action({"Action": "Hangup", "Channel": "PJSIP/none-00000001"})
        assert gone["Message"] == "No such channel"
    finally:
        manager.close()
