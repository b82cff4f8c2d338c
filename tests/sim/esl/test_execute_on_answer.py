"""execute_on_answer in the simulated FreeSWITCH: the application a leg's variable names runs
on that leg as it answers, before the originate (or bridge) waiting for the answer goes on."""

from __future__ import annotations

import pytest

from pbx.sim.esl import execute_on
from pbx.sim.esl.runtime import FsSimulator
from pbx.sim.esl.switch import UserEndpoint
from tests.sim.esl.esl_client import EslClient, is_


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("set_global a=b c", ("set_global", "a=b c")),
        ("set:a=b", ("set", "a=b")),
        ("park", ("park", "")),
        ("lua::script.lua", None),  # queued on the session: not simulated
    ],
)
def test_split(value: str, parsed: tuple[str, str] | None) -> None:
    assert execute_on.split(value) == parsed


async def test_runs_on_the_leg_as_it_answers(fs: FsSimulator) -> None:
    fs.register(UserEndpoint("1001", "127.0.0.1", "sofia/internal/sip:1001@x", answer_delay=0.2))
    c = await EslClient.connect(fs.port)
    await c.command("event plain ALL")
    # The argument is expanded on the leg when it runs: ${uuid} is the leg's own.
    reply = await c.api(
        "originate {execute_on_answer='set_global seen_by=${uuid}'}user/1001 &park()"
    )
    assert reply.startswith("+OK "), reply
    uuid = reply.split()[1]
    await c.event(is_("CHANNEL_PARK", {"Unique-ID": uuid}))
    assert await c.api("global_getvar seen_by") == uuid
    steps = [
        (h["Event-Name"], h.get("Application", ""))
        for h, _ in c.events
        if h.get("Unique-ID") == uuid
        and h["Event-Name"] in ("CHANNEL_ANSWER", "CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE")
    ]
    assert steps[:4] == [
        ("CHANNEL_ANSWER", ""),
        ("CHANNEL_EXECUTE", "set_global"),
        ("CHANNEL_EXECUTE_COMPLETE", "set_global"),
        ("CHANNEL_EXECUTE", "park"),
    ]
    await c.api(f"uuid_kill {uuid}")
    await c.close()
