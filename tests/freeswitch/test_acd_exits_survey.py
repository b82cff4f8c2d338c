"""The ACD over the simulated FreeSWITCH running the shipped XML dialplan: the post-call survey
(the agent hangs up, the caller rates the call through the ACD's csat script over the outbound
socket, the score is stored as on Asterisk) and the queue exits of the cc-exit context."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from cc_core.acd.wiring import Node
from cc_core.config import load_configs
from pbx.sim.esl.channel import FsChannel
from pbx.sim.esl.legs import UserEndpoint
from pbx.sim.esl.runtime import FsSimConfig, FsSimulator
from tests.acd.conftest import AGENTS_YAML, SALES_NUMBER, wait_for, write_configs
from tests.acd.test_freeswitch_calls import ACD_YAML, CONTEXT, DIALPLAN, shipped_dialplan
from tests.paths import ROOT

SHIPPED_CONFIGS = ROOT / "configs"


@contextlib.asynccontextmanager
async def centre(
    tmp_path: Path, store_url: str, sales_extra: str
) -> AsyncIterator[tuple[FsSimulator, Node, UserEndpoint]]:
    sim = FsSimulator(FsSimConfig(dialplan_paths=DIALPLAN, port=0, heartbeat=5.0))
    await sim.start()
    configs = write_configs(
        tmp_path / "configs", ami_port=1, store_url=store_url, ring=2, sales_extra=sales_extra
    )
    (configs / "ivr").mkdir()
    shutil.copy(SHIPPED_CONFIGS / "ivr" / "csat.yaml", configs / "ivr" / "csat.yaml")
    shutil.copytree(SHIPPED_CONFIGS / "prompts", configs / "prompts")
    (configs / "agents.yaml").write_text(AGENTS_YAML.replace("PJSIP/agent", "user/"))
    (configs / "acd.yaml").write_text(
        ACD_YAML.replace("{store}", store_url).replace("{esl}", str(sim.port))
    )
    node = Node(load_configs(configs), api_port=0, ivr_socket_port=0)
    await node.start(wait_for_pbx=True)
    assert node.ivr_socket is not None
    sim.switch.dialplan = shipped_dialplan(node.ivr_socket.port)
    phone = UserEndpoint("1001", "127.0.0.1", "sip:1001@127.0.0.1:5099", answer_delay=0.2)
    try:
        yield sim, node, phone
    finally:
        await node.stop()
        await sim.stop()


async def events_of(node: Node, interaction_id: str) -> list[Any]:
    assert node.service is not None and node.store is not None
    await node.service.journal.drain()
    async with node.store.transaction(readonly=True) as repos:
        return list(await repos.events.for_interaction(interaction_id))


async def test_survey_after_the_agent_hangs_up_stores_the_score(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with centre(tmp_path, sqlite_url, "    csat_survey: true") as (sim, node, phone):
        phone.talk_time = 0.5  # the agent hangs up first
        sim.register(phone)  # ann logs in by registration
        ch = sim.switch.inbound_call(SALES_NUMBER, "2015550123", context=CONTEXT)
        asked: list[str] = []

        def caller_rates(event: Any) -> None:
            # The caller presses 4 when the survey's question plays (the ACD's csat script,
            # play_and_get_digits over the outbound socket).
            headers = dict(event.headers)
            if (
                event.name == "CHANNEL_EXECUTE"
                and headers.get("Unique-ID") == ch.uuid
                and headers.get("Application") == "play_and_get_digits"
                and headers.get("variable_cc_state") == "survey"
            ):
                asked.append(headers.get("Application-Data", ""))
                sim.switch.send_dtmf(ch, "4", 100, "APP")

        sim.switch.listeners.append(caller_rates)
        await wait_for(lambda: ch.other is not None, seconds=15, what="answered by ann")
        tag = ch.get_var("cc_interaction_id")
        assert tag

        async def scored() -> list[Any]:
            return [e for e in await events_of(node, tag) if e.event == "csat"]

        (csat,) = await wait_for(scored, seconds=20, what="csat score stored")
        assert (csat.data["score"], csat.data["agent"], csat.agent_id) == (4, "ann", "ann")
        assert asked and "csat_question" in asked[0]
        await wait_for(lambda: not ch.up, seconds=10, what="the caller hung up after the survey")
        assert ch.get_var("cc_ring_result") == "ANSWER"
        assert sim.switch.globals.get("cc_served_user/1001") == ch.uuid
        assert node.store is not None
        async with node.store.transaction(readonly=True) as repos:
            row = await repos.interactions.get(tag)
        assert (row.attributes["csat_score"], row.attributes["csat_agent"]) == (4, "ann")
        nodes = [
            e.data["node"]
            for e in await events_of(node, tag)
            if e.event == "ivr_node" and e.data.get("script") == "csat"
        ]
        assert nodes == ["ask", "thanks"]


async def test_no_survey_without_the_queue_asking(tmp_path: Path, sqlite_url: str) -> None:
    async with centre(tmp_path, sqlite_url, "") as (sim, node, phone):
        phone.talk_time = 0.3
        sim.register(phone)
        ch = sim.switch.inbound_call(SALES_NUMBER, "2015550124", context=CONTEXT)
        await wait_for(lambda: ch.other is not None, seconds=15, what="answered by ann")
        await wait_for(lambda: not ch.up, seconds=10, what="hung up after the agent")
        assert ch.get_var("cc_state") != "survey"
        assert ch.hangup_cause == "NORMAL_CLEARING"
        events = [e.event for e in await events_of(node, ch.get_var("cc_interaction_id"))]
        assert "csat" not in events and "abandoned" not in events, events


async def waited_out(
    tmp_path: Path, sqlite_url: str, exit_kind: str
) -> tuple[FsChannel, list[Any]]:
    extra = f"    max_wait_seconds: 1\n    overflow: {{exit: {exit_kind}}}"
    async with centre(tmp_path, sqlite_url, extra) as (sim, node, _):
        ch = sim.switch.inbound_call(SALES_NUMBER, "2015550125", context=CONTEXT)
        # Nobody is logged in: the caller waits out the queue's max wait and leaves by the exit.
        await wait_for(lambda: not ch.up, seconds=15, what=f"caller sent to {exit_kind}")
        tag = ch.get_var("cc_interaction_id")
        assert tag
        return ch, [e.event for e in await events_of(node, tag)]


async def test_voicemail_exit_plays_and_ends_the_call(tmp_path: Path, sqlite_url: str) -> None:
    ch, events = await waited_out(tmp_path, sqlite_url, "voicemail")
    assert ch.get_var("cc_exit") == "voicemail"
    assert ch.hangup_cause == "NORMAL_CLEARING"
    assert "abandoned" not in events, events


async def test_callback_exit_keeps_the_number_to_call(tmp_path: Path, sqlite_url: str) -> None:
    ch, events = await waited_out(tmp_path, sqlite_url, "callback")
    assert ch.get_var("cc_exit") == "callback"
    assert ch.get_var("cc_callback_number") == "2015550125"
    assert "abandoned" not in events


async def test_disconnect_exit(tmp_path: Path, sqlite_url: str) -> None:
    ch, events = await waited_out(tmp_path, sqlite_url, "hangup")
    assert ch.get_var("cc_exit") == "disconnect"
    assert ch.hangup_cause == "NORMAL_CLEARING"
    assert "abandoned" not in events
