"""Re-adoption over FreeSWITCH (simulated, shipped XML dialplan): a caller re-queued after an
ACD restart keeps the skills and priority its IVR script chose, and a caller the IVR never
reached on a number that leads to a script is adopted into the centre's default queue."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from cc_core.acd.wiring import Node
from cc_core.config import load_configs
from pbx.freeswitch import FreeSwitchPort
from pbx.sim.esl.channel import FsChannel
from pbx.sim.esl.legs import UserEndpoint
from pbx.sim.esl.runtime import FsSimConfig, FsSimulator
from tests.acd.conftest import AGENTS_YAML, wait_for, write_configs
from tests.acd.test_freeswitch_calls import ACD_YAML, CONTEXT, DIALPLAN, shipped_dialplan
from tests.paths import ROOT

PICK_NUMBER = "5550300"  # numbers: -> ivr pick
# Only ann (sales 5) has what the script asks for; ben (sales 3) serves plain sales calls.
PICK_YAML = """\
name: pick
description: sends every caller to sales, for agents with sales 4 or better, at priority +7
languages: [en]
language: en
start: to_sales
nodes:
  to_sales: {type: queue, queue: sales, skills: {sales: 4}, priority: 7}
"""


@dataclass
class Centre:
    sim: FsSimulator
    configs: Path
    node: Node

    async def restart(self) -> None:
        await self.node.stop()
        self.node = await start_node(self.configs)

    async def login(self, agent: str) -> None:
        url = f"http://127.0.0.1:{self.node.api_bound}/api/agents/{agent}/login"
        async with aiohttp.ClientSession() as http, http.post(url, json={}) as resp:
            assert resp.status == 200, await resp.text()

    def call(self, number: str, caller: str) -> FsChannel:
        return self.sim.switch.inbound_call(number, caller, context=CONTEXT)


async def start_node(configs: Path) -> Node:
    node = Node(load_configs(configs), api_port=0, ivr_socket_port=0)
    await node.start(wait_for_pbx=True)
    return node


@contextlib.asynccontextmanager
async def running(tmp_path: Path, store_url: str) -> AsyncIterator[Centre]:
    sim = FsSimulator(FsSimConfig(dialplan_paths=DIALPLAN, port=0, heartbeat=5.0))
    await sim.start()
    configs = write_configs(tmp_path / "configs", ami_port=1, store_url=store_url, ring=2)
    (configs / "ivr").mkdir()
    (configs / "ivr" / "pick.yaml").write_text(PICK_YAML)
    shutil.copytree(ROOT / "configs" / "prompts", configs / "prompts")
    queues = configs / "queues.yaml"
    queues.write_text(queues.read_text() + f'  - {{did: "{PICK_NUMBER}", ivr: pick}}\n')
    (configs / "agents.yaml").write_text(AGENTS_YAML.replace("PJSIP/agent", "user/"))
    (configs / "acd.yaml").write_text(
        ACD_YAML.replace("{store}", store_url).replace("{esl}", str(sim.port))
    )
    for user in ("1001", "1002"):
        sim.register(
            UserEndpoint(user, "127.0.0.1", f"sip:{user}@127.0.0.1:5099", answer_delay=0.2)
        )
    centre = Centre(sim, configs, await start_node(configs))
    assert centre.node.ivr_socket is not None
    sim.switch.dialplan = shipped_dialplan(centre.node.ivr_socket.port)
    try:
        yield centre
    finally:
        await centre.node.stop()
        await sim.stop()


def held(ch: FsChannel) -> bool:
    return ch.up and ch.get_var("cc_state") == "holding" and ch.other is None


async def test_a_requeued_caller_keeps_the_skills_its_ivr_chose(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with running(tmp_path, sqlite_url) as centre:
        ch = centre.call(PICK_NUMBER, "2015550140")
        await wait_for(
            lambda: held(ch) and ch.get_var("cc_interaction_id"),
            what="queued by the script and held",
        )
        await centre.restart()
        service = centre.node.service
        assert service is not None
        await wait_for(lambda: len(service.calls) == 1, what="re-adopted")
        await centre.login("ben")  # sales 3: below what the script asked for
        await asyncio.sleep(1.0)  # an offer to ben would have rung his phone by now
        (record,) = list(service.calls)
        assert (record.stage.value, ch.other) == ("queued", None)
        await centre.login("ann")  # sales 5
        await wait_for(lambda: ch.other is not None, seconds=10, what="served by ann")
        assert ch.other is not None and ch.other.name.startswith("sofia/internal/1001@")
        assert record.agent_id == "ann"
        await centre.sim.switch.hangup(ch, "NORMAL_CLEARING")


async def test_an_untagged_caller_of_a_script_number_goes_to_the_default_queue(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with running(tmp_path, sqlite_url) as centre:
        assert centre.node.service is not None and centre.node.ivr_socket is not None
        # The IVR socket cannot be reached: the dialplan holds the call untagged and marked.
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            dead = closed.getsockname()[1]
        centre.sim.switch.dialplan = shipped_dialplan(dead)
        ch = centre.call(PICK_NUMBER, "2015550141")
        await wait_for(
            lambda: held(ch) and ch.get_var("cc_ivr_failed") == "true", what="held untagged"
        )
        await centre.login("ben")
        port = getattr(centre.node.service.port, "inner", centre.node.service.port)
        assert isinstance(port, FreeSwitchPort)
        port.drop_link("test: link cut")  # the next resync lists the untagged call
        await wait_for(lambda: ch.other is not None, seconds=15, what="adopted and served")
        (record,) = list(centre.node.service.calls)
        # No queue for the number itself: the script's number goes to the first voice queue.
        assert (record.queue, record.agent_id) == ("sales", "ben")
        await centre.sim.switch.hangup(ch, "NORMAL_CLEARING")
