"""Commands written back to back on the simulated FreeSWITCH's event socket, as the adapter's
connect does (``api`` commands, then a ``bgapi`` job, without waiting in between): like
mod_event_socket, the simulator runs an ``api`` command before it reads the next one, so the
job sees what the ``api`` commands did, and the replies come back in the order of the
commands."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from pbx.sim.esl.runtime import FsSimConfig, FsSimulator
from tests.paths import FREESWITCH_CAPTURES
from tests.sim.esl.esl_client import EslClient, is_

CALL = "7e57ca11-0000-4000-8000-000000000001"
GONE = "7e57ca11-0000-4000-8000-0000000000ff"


@pytest.fixture
async def client() -> AsyncIterator[EslClient]:
    cfg = FsSimConfig(
        dialplan_paths=[FREESWITCH_CAPTURES / "conf" / "default.xml"], port=0, time_scale=0.05
    )
    sim = FsSimulator(cfg)
    await sim.start()
    esl = await EslClient.connect(sim.port)
    reply, _ = await esl.command("event plain BACKGROUND_JOB CHANNEL_PARK")
    assert reply["Reply-Text"].startswith("+OK"), reply
    yield esl
    await esl.close()
    await sim.stop()


async def pipeline(esl: EslClient, apis: list[str], job: str, job_uuid: str) -> list[str]:
    """Write the ``api`` lines and the ``bgapi`` in one go; the replies in arrival order (the
    ``api`` bodies, then the job's acceptance) and, last, the job's result."""
    text = "".join(f"api {line}\n\n" for line in apis)
    text += f"bgapi {job}\nJob-UUID: {job_uuid}\n\n"
    esl.writer.write(text.encode())
    await esl.writer.drain()
    answers: list[str] = []
    for _ in apis:
        headers, body = await esl.reply()
        assert headers["Content-Type"] == "api/response", headers
        answers.append(body)
    headers, _ = await esl.reply()
    assert headers["Content-Type"] == "command/reply", headers
    answers.append(headers["Reply-Text"])
    done = await esl.event(is_("BACKGROUND_JOB", {"Job-UUID": job_uuid}))
    body = next(b for h, b in esl.events if h is done)
    return [*answers, body]


async def test_a_job_written_behind_api_commands_runs_after_them(client: EslClient) -> None:
    # The originate blocks its api command until the call is answered: a job read meanwhile
    # would not find the channel.
    answers = await pipeline(
        client,
        [f"originate {{origination_uuid={CALL}}}loopback/9999/default &park()"],
        f"uuid_exists {CALL}",
        "job-1",
    )
    assert answers == [f"+OK {CALL}\n", "+OK Job-UUID: job-1", "true"]
    answers = await pipeline(
        client,
        [f"uuid_setvar_multi {CALL} cc_a=1;cc_b=2", f"uuid_setvar {CALL} cc_c x y"],
        f"uuid_getvar {CALL} cc_c",
        "job-2",
    )
    assert answers == ["+OK\n", "+OK\n", "+OK Job-UUID: job-2", "x y"]


async def test_variables_refused_for_a_gone_channel_and_its_transfer_too(
    client: EslClient,
) -> None:
    answers = await pipeline(
        client,
        [f"uuid_setvar_multi {GONE} cc_agent_endpoint=user/1001"],
        f"uuid_transfer {GONE} cc_connect XML ccplane",
        "job-3",
    )
    assert answers == [
        "-ERR No such channel!\n",
        "+OK Job-UUID: job-3",
        "-ERR No such channel!\n",
    ]
