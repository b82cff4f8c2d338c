"""The ESL library the FreeSWITCH adapter uses (greenswitch, gevent) against the simulator.

greenswitch runs in a worker thread with its own gevent hub (no monkey-patching), as the
adapter runs it; the simulator runs in the test's event loop.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pbx.sim.esl.runtime import FsSimulator

CALL = "bbbbbbbb-0000-0000-0000-000000000001"


def _greenswitch_session(port: int) -> dict[str, Any]:
    import gevent
    import greenswitch

    seen: dict[str, Any] = {"events": []}
    esl = greenswitch.InboundESL(host="127.0.0.1", port=port, password="ClueCon")
    esl.connect()
    try:
        for name in ("CHANNEL_PARK", "CHANNEL_HANGUP_COMPLETE", "BACKGROUND_JOB"):
            esl.register_handle(name, lambda ev: seen["events"].append(ev.headers))
        seen["subscribe"] = esl.send("event plain ALL").headers
        seen["version"] = esl.send("api version").data
        seen["originate"] = esl.send(
            f"api originate {{origination_uuid={CALL}}}loopback/9999/default &park()"
        ).data
        for _ in range(100):
            if sum(1 for h in seen["events"] if h.get("Event-Name") == "CHANNEL_PARK") >= 2:
                break
            gevent.sleep(0.02)
        seen["kill"] = esl.send(f"api uuid_kill {CALL}").data
        for _ in range(100):
            if any(h.get("Event-Name") == "CHANNEL_HANGUP_COMPLETE" for h in seen["events"]):
                break
            gevent.sleep(0.02)
        seen["unknown"] = esl.send("api no_such_thing").data
    finally:
        esl.stop()
    return seen


async def test_greenswitch_drives_the_simulator(fs: FsSimulator) -> None:
    seen = await asyncio.wait_for(asyncio.to_thread(_greenswitch_session, fs.port), 30)
    assert seen["subscribe"]["Reply-Text"] == "+OK event listener enabled plain"
    assert seen["version"].startswith("FreeSWITCH Version 1.10.12")
    assert seen["originate"] == f"+OK {CALL}\n"
    parks = [h for h in seen["events"] if h["Event-Name"] == "CHANNEL_PARK"]
    assert {h["Channel-Name"] for h in parks} == {"loopback/9999-a", "loopback/9999-b"}
    assert seen["kill"] == "+OK\n"
    done = [h for h in seen["events"] if h["Event-Name"] == "CHANNEL_HANGUP_COMPLETE"]
    assert done and done[0]["Hangup-Cause"] == "NORMAL_CLEARING"
    assert seen["unknown"] == "-ERR no_such_thing Command not found!\n"
