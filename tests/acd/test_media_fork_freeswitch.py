"""The FreeSWITCH media fork end to end: the shipped XML dialplan's cc_connect starts a stereo
``record_session`` of the caller; the simulated FreeSWITCH writes it in real time from the WAVs
attached to the caller and the agent's phone; the ACD follows the growing file, scores both
sides live into the interaction's event log and raises supervisor alerts."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest

from cc_core.acd.wiring import Node
from cc_core.api.agent_edge import desk_for
from cc_core.config import load_configs
from pbx.sim.esl import dialplan as xml_dialplan
from pbx.sim.esl.channel import FsChannel
from pbx.sim.esl.legs import UserEndpoint
from pbx.sim.esl.record import fs_audio
from pbx.sim.esl.runtime import FsSimConfig, FsSimulator
from tests.acd.conftest import AGENTS_YAML, SALES_NUMBER, wait_for, write_configs
from tests.acd.test_freeswitch_calls import ACD_YAML, CONTEXT, DIALPLAN, FsCentre
from tests.acd.test_media_fork import QUALITY_YAML
from tests.quality.audio import mix_at_snr, noise, read_wav, speak, write_wav

TIME_SCALE = 0.25  # audio four times faster than real time
CALLER = "2015550123"


@pytest.fixture(scope="module")
def voices(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Clean speech (customer), the same under white noise at 0 dB SNR (agent), and a short
    phrase followed by silence."""
    folder = tmp_path_factory.mktemp("fs-fork-audio")
    speech, rate = read_wav(speak(folder / "speech.wav"))
    hiss, _ = read_wav(noise(folder / "white.wav", "whitenoise", len(speech) / rate + 1))
    noisy, _ = mix_at_snr(speech, hiss, rate, 0.0)
    short, _ = read_wav(speak(folder / "short.wav", text="Hello, how can I help?"))
    return {
        "clean": write_wav(folder / "clean.wav", np.concatenate([speech, speech]), rate),
        "noisy": write_wav(folder / "noisy.wav", np.concatenate([noisy, noisy]), rate),
        "short": write_wav(folder / "short8k.wav", short, rate),
    }


@contextlib.asynccontextmanager
async def forked(tmp_path: Path, store_url: str, media_dir: Path) -> AsyncIterator[FsCentre]:
    sim = FsSimulator(
        FsSimConfig(dialplan_paths=DIALPLAN, port=0, heartbeat=5.0, time_scale=TIME_SCALE)
    )
    await sim.start()
    phone = UserEndpoint("1001", "127.0.0.1", "sip:1001@127.0.0.1:5099", answer_delay=0.2)
    sim.register(phone)
    configs = write_configs(tmp_path / "configs", ami_port=1, store_url=store_url, ring=2)
    (configs / "agents.yaml").write_text(AGENTS_YAML.replace("PJSIP/agent1001", "user/1001"))
    (configs / "acd.yaml").write_text(
        ACD_YAML.replace("{store}", store_url).replace("{esl}", str(sim.port))
        + f"media_fork: {{directory: {media_dir}, poll_seconds: 0.05, idle_seconds: 5}}\n"
        + QUALITY_YAML
    )
    node = Node(load_configs(configs), api_port=0, ivr_socket_port=0)
    await node.start(wait_for_pbx=True)
    assert node.ivr_socket is not None
    # What an admin sets in vars_cc.xml: the IVR socket and the media fork's folder.
    plan = xml_dialplan.XmlDialplan(
        overrides={
            "cc_ivr_socket": f"127.0.0.1:{node.ivr_socket.port}",
            "cc_media_dir": str(media_dir),
        }
    )
    for path in DIALPLAN:
        xml_dialplan.load(path, plan)
    sim.switch.dialplan = plan
    http = aiohttp.ClientSession()
    try:
        yield FsCentre(sim, node, http, {"ann": phone}, configs)
    finally:
        await http.close()
        await node.stop()
        await sim.stop()


async def call_with_audio(
    centre: FsCentre, caller_wav: Path, agent_wav: Path
) -> tuple[FsChannel, str]:
    audio = fs_audio(centre.sim.switch)
    audio.attach_caller(CALLER, caller_wav)
    audio.attach_user("1001", agent_wav)
    await centre.login("ann")
    ch = centre.sim.switch.inbound_call(SALES_NUMBER, CALLER, context=CONTEXT)
    await wait_for(lambda: ch.other is not None, seconds=15, what="caller bridged to ann")
    return ch, ch.get_var("cc_interaction_id")


async def test_noisy_agent_scores_below_clean_customer_and_alerts(
    tmp_path: Path, sqlite_url: str, voices: dict[str, Path]
) -> None:
    media_dir = tmp_path / "cc-media"
    async with forked(tmp_path, sqlite_url, media_dir) as centre:
        node = centre.node
        assert node.live is not None and node.service is not None
        alerts = await node.live.subscribe("alerts")
        ch, interaction_id = await call_with_audio(centre, voices["clean"], voices["noisy"])
        assert interaction_id
        # The dialplan's fork: a stereo WAV named after the interaction, growing.
        wav = media_dir / f"{interaction_id}.wav"
        await wait_for(lambda: wav.exists() and wav.stat().st_size > 8000, what="growing WAV")

        async def low_agent_alert() -> list[Any]:
            return [
                e
                for e in await centre.events(interaction_id)
                if e.event == "quality_alert" and e.data.get("scope") == "agent"
            ]

        (alert,) = await wait_for(low_agent_alert, seconds=30, what="agent low-score alert")
        assert alert.data["kind"] == "low_score" and alert.data["score"] < 0.5
        assert alert.agent_id == "ann"
        published = await asyncio.wait_for(alerts.__anext__(), 5)
        assert published.data["interaction_id"] == interaction_id
        await alerts.aclose()
        live = await wait_for(
            lambda: node.live.get_call_quality(interaction_id), what="live figures"
        )
        assert live["agent"]["score"] < 0.5 < live["customer"]["score"]
        desk = desk_for(node.service)
        side = await wait_for(
            lambda: desk.snapshot("ann")["agent_side_score"], what="agent-side score at the desk"
        )
        assert side < 0.5
        await centre.hang_up(ch)
        monitor = node.media_monitor
        assert monitor is not None and node.recordings is not None
        await wait_for(lambda: interaction_id not in monitor.calls, what="fork closed")
        await wait_for(lambda: not wav.exists(), what="recording deleted once read")
        rows = await centre.events(interaction_id)
        names = [e.event for e in rows]
        quality = [e for e in rows if e.event == "quality"]
        assert len(quality) >= 3
        assert names.index("connected") < names.index("quality")
        settled = [e.data for e in quality if e.data["agent"]["seconds"] >= 3]
        assert settled
        for data in settled:
            assert data["agent"]["score"] < data["customer"]["score"] - 0.2, data
            assert data["agent"]["snr_db"] < data["customer"]["snr_db"], data
        assert quality[-1].data.get("final") is True
        assert len(quality) <= quality[-1].data["t"] / 0.5


async def test_dead_air_raises_an_alert(
    tmp_path: Path, sqlite_url: str, voices: dict[str, Path]
) -> None:
    async with forked(tmp_path, sqlite_url, tmp_path / "cc-media") as centre:
        ch, interaction_id = await call_with_audio(centre, voices["short"], voices["short"])

        async def dead_air_alert() -> list[Any]:
            return [
                e
                for e in await centre.events(interaction_id)
                if e.event == "quality_alert" and e.data["kind"] == "dead_air"
            ]

        (alert,) = await wait_for(dead_air_alert, seconds=30, what="dead-air alert")
        assert alert.data["dead_air_s"] >= 4.0
        await centre.hang_up(ch)
