"""The media fork end to end: the shipped dialplan's cc-fork in the simulated Asterisk streams
WAV files attached to the caller and the agent's phone over AudioSocket to the ACD, which
scores them live into the interaction's event log and raises supervisor alerts."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest

from cc_core.acd.media import fork_uuid
from cc_core.api.agent_edge import desk_for
from cc_core.config import load_configs
from cc_core.store.live import LiveEvent
from pbx.sim.endpoints import Behaviour, Endpoint
from pbx.sim.inbound import inbound_call
from pbx.sim.media import audio_of
from pbx.sim.runtime import SimConfig, Simulator
from tests.acd.conftest import (
    DIALPLAN,
    INBOUND,
    SALES_NUMBER,
    Centre,
    Phone,
    wait_for,
    write_configs,
)
from tests.quality.audio import mix_at_snr, noise, read_wav, speak, write_wav

# Audio runs four times faster than real time (the simulator's clock), so 20 s of a call
# take 5 s of the test.
TIME_SCALE = 0.25

QUALITY_YAML = """\
quality:
  event_every_seconds: 2
  min_change: 0.1
  low_score: 0.5
  low_score_seconds: 4
  dead_air_seconds: 4
"""


@pytest.fixture(scope="module")
def voices(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Clean speech (customer), the same speech under white noise at 0 dB SNR (agent), and a
    two-second phrase that leaves the line silent after it."""
    folder = tmp_path_factory.mktemp("fork-audio")
    speech, rate = read_wav(speak(folder / "speech.wav"))
    hiss, _ = read_wav(noise(folder / "white.wav", "whitenoise", len(speech) / rate + 1))
    noisy, _ = mix_at_snr(speech, hiss, rate, 0.0)
    short, _ = read_wav(speak(folder / "short.wav", text="Hello, how can I help?"))
    long_speech = np.concatenate([speech, speech])
    return {
        "clean": write_wav(folder / "clean.wav", long_speech, rate),
        "noisy": write_wav(folder / "noisy.wav", np.concatenate([noisy, noisy]), rate),
        "short": write_wav(folder / "short8k.wav", short, rate),
    }


@contextlib.asynccontextmanager
async def forked_centre(tmp_path: Path, store_url: str) -> AsyncIterator[Centre]:
    sim = Simulator(
        SimConfig(
            dialplan_path=DIALPLAN,
            globals_override={"CC_FASTAGI": "agi://127.0.0.1:1", "CC_AUDIOSOCKET": ""},
            auth_fail_delay=0.05,
            time_scale=TIME_SCALE,
        )
    )
    sim.endpoints.add(Endpoint("agent1001", port=5100, behaviour=Behaviour(0.05, 0.2)))
    await sim.start()
    sim.endpoints.register("agent1001")
    configs = write_configs(tmp_path / "configs", ami_port=sim.ami_port, store_url=store_url)
    with (configs / "acd.yaml").open("a") as f:
        f.write(QUALITY_YAML)
    from cc_core.acd.wiring import Node

    node = Node(load_configs(configs), api_port=0, fastagi_port=0, media_port=0)
    await node.start(wait_for_pbx=True)
    assert node.fastagi is not None and node.media is not None
    sim.pbx.globals["CC_FASTAGI"] = f"agi://127.0.0.1:{node.fastagi.port}"
    sim.pbx.globals["CC_AUDIOSOCKET"] = f"127.0.0.1:{node.media.port}"
    endpoint = sim.endpoints.get("agent1001")
    assert endpoint is not None
    http = aiohttp.ClientSession()
    try:
        yield Centre(sim, node, http, configs, {"agent1001": Phone(endpoint)})
    finally:
        await http.close()
        await node.stop()
        await sim.stop()


async def events(centre: Centre, interaction_id: str) -> list[Any]:
    assert centre.node.store is not None
    await centre.settled()
    async with centre.node.store.transaction(readonly=True) as repos:
        return list(await repos.events.for_interaction(interaction_id))


async def call_with_audio(centre: Centre, caller_wav: Path, agent_wav: Path) -> tuple[Any, str]:
    audio = audio_of(centre.sim.pbx)
    audio.attach_caller("2015550199", caller_wav)
    audio.attach_endpoint("agent1001", agent_wav)
    await centre.login("ann")
    chan = inbound_call(centre.sim.pbx, SALES_NUMBER, context=INBOUND, caller_num="2015550199")
    rows = await wait_for(centre.interactions, what="interaction created")
    await wait_for(lambda: chan.bridge is not None, what="caller bridged to the agent")
    return chan, rows[0].id


async def test_noisy_agent_scores_below_clean_customer_and_alerts(
    tmp_path: Path, sqlite_url: str, voices: dict[str, Path]
) -> None:
    async with forked_centre(tmp_path, sqlite_url) as centre:
        assert centre.node.live is not None
        alerts = await centre.node.live.subscribe("alerts")
        chan, interaction_id = await call_with_audio(centre, voices["clean"], voices["noisy"])

        async def low_agent_alert() -> list[Any]:
            rows = await events(centre, interaction_id)
            return [
                e for e in rows if e.event == "quality_alert" and e.data.get("scope") == "agent"
            ]

        (alert,) = await wait_for(low_agent_alert, seconds=30, what="agent low-score alert")
        assert alert.data["kind"] == "low_score" and alert.data["score"] < 0.5
        assert alert.agent_id == "ann"
        published: LiveEvent = await asyncio.wait_for(alerts.__anext__(), 5)
        assert published.data["interaction_id"] == interaction_id
        assert published.data["event"] == "quality_alert"
        await alerts.aclose()
        monitor = centre.node.media_monitor
        assert monitor is not None and interaction_id in monitor.latest
        # The latest figures are in the live state while the call is scored.
        live = await wait_for(
            lambda: centre.node.live.get_call_quality(interaction_id), what="live figures"
        )
        assert live["interaction_id"] == interaction_id and live["agent"]["score"] < 0.5
        # The agent side's score reached the agent quality feed (and through it routing).
        assert centre.node.service is not None
        desk = desk_for(centre.node.service)
        side = await wait_for(
            lambda: desk.snapshot("ann")["agent_side_score"],
            what="agent-side score at the quality desk",
        )
        # No softphone reports here: the agent's score is the agent side's alone.
        assert side < 0.5 and (desk.snapshot("ann")["score"] or 1.0) < 0.5
        centre.hang_up(chan)
        await wait_for(lambda: interaction_id not in monitor.calls, what="forks closed")

        async def live_figures_removed() -> bool:
            assert centre.node.live is not None
            return await centre.node.live.get_call_quality(interaction_id) is None

        await wait_for(live_figures_removed, what="live figures removed after the call")
        rows = await events(centre, interaction_id)
        names = [e.event for e in rows]
        quality = [e for e in rows if e.event == "quality"]
        assert len(quality) >= 3
        # Live ones while connected: after `connected`, before the wrap-up; the final summary
        # once the forks close with the call.
        assert names.index("connected") < names.index("quality")
        live = [i for i, e in enumerate(rows) if e.event == "quality" and not e.data.get("final")]
        assert max(live) < names.index("wrapup")
        # Once both sides have a few seconds of speech, the noisy side scores lower.
        settled = [e.data for e in quality if e.data["agent"]["seconds"] >= 3]
        assert settled
        for data in settled:
            assert data["agent"]["score"] < data["customer"]["score"] - 0.2, data
            assert data["agent"]["snr_db"] < data["customer"]["snr_db"], data
        assert quality[-1].data.get("final") is True
        # Not every analysed block: the cadence is 2 s of audio unless the score moved.
        seconds = quality[-1].data["t"]
        assert len(quality) <= seconds / 0.5


async def test_dead_air_raises_an_alert(
    tmp_path: Path, sqlite_url: str, voices: dict[str, Path]
) -> None:
    async with forked_centre(tmp_path, sqlite_url) as centre:
        chan, interaction_id = await call_with_audio(centre, voices["short"], voices["short"])

        async def dead_air_alert() -> list[Any]:
            rows = await events(centre, interaction_id)
            return [e for e in rows if e.event == "quality_alert" and e.data["kind"] == "dead_air"]

        (alert,) = await wait_for(dead_air_alert, seconds=30, what="dead-air alert")
        assert alert.data["dead_air_s"] >= 4.0
        centre.hang_up(chan)


def test_fork_uuid_is_what_the_dialplan_builds() -> None:
    import hashlib

    digest = hashlib.md5(b"01JABCDEF:agent", usedforsecurity=False).hexdigest()
    dialplan = "-".join((digest[0:8], digest[8:12], digest[12:16], digest[16:20], digest[20:32]))
    assert str(fork_uuid("01JABCDEF", "agent")) == dialplan
    assert fork_uuid("01JABCDEF", "agent") != fork_uuid("01JABCDEF", "customer")
    with pytest.raises(ValueError, match="side"):
        fork_uuid("01JABCDEF", "supervisor")
