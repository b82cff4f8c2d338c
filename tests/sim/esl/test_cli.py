"""`cc-sim --pbx freeswitch` as a process, and the FreeSWITCH flavour of generated traffic."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from pbx.sim.esl.runtime import FsSimConfig, FsSimulator
from pbx.sim.esl.traffic import FsTraffic, KeyPress, NumberTraffic
from tests.paths import ROOT
from tests.sim.esl.esl_client import EslClient, is_

SCENARIO = ROOT / "configs" / "sim" / "scenario.yaml"
SHIPPED = ROOT / "dialplan" / "freeswitch"


async def test_cc_sim_freeswitch_serves_esl_with_registered_agents() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pbx.sim.cli", str(SCENARIO), "--pbx", "freeswitch",
        "--esl-port", "0", "--no-traffic", "--log-level", "WARNING",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
        assert line.startswith("cc-sim: ESL on 127.0.0.1:"), line
        port = int(line.rsplit(":", 1)[1])
        esl = await EslClient.connect(port, password="cc-change-me")
        for agent in ("agent1001", "agent1002", "agent1003"):
            contact = await esl.api(f"sofia_contact {agent}")
            assert contact == f"sofia/internal/sip:{agent}@127.0.0.1"
        assert await esl.api("sofia_contact agent9999") == "error/user_not_registered"
        await esl.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 10) == 0


async def test_cc_sim_freeswitch_rejects_a_broken_dialplan(tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_text("<include><context name='x'>\n<extension>\n")
    scenario = tmp_path / "s.yaml"
    scenario.write_text(f"dialplan: x.conf\nfreeswitch:\n  dialplan: [{bad}]\n")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pbx.sim.cli", str(scenario), "--pbx", "freeswitch",
        "--esl-port", "0", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 2
    assert f"{bad}:3: not well-formed XML" in err.decode()


async def test_generated_calls_reach_hold_and_some_give_up(tmp_path: Path) -> None:
    # No IVR listens: every call falls back to hold (cc_ivr_failed), as with the ACD down.
    closed = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = closed.sockets[0].getsockname()[1]
    closed.close()
    await closed.wait_closed()
    fs = FsSimulator(
        FsSimConfig(
            dialplan_paths=[SHIPPED / "vars_cc.xml", SHIPPED / "dialplan" / "ccplane.xml"],
            port=0,
            time_scale=0.002,
            preprocess={"cc_ivr_socket": f"127.0.0.1:{port}"},
        )
    )
    await fs.start()
    try:
        esl = await EslClient.connect(fs.port)
        await esl.command("event plain CHANNEL_EXECUTE CHANNEL_HANGUP_COMPLETE DTMF")
        gen = FsTraffic(
            fs.switch,
            # Seed 3 draws patiences of 42 s and more: time enough to reach hold and press keys.
            [NumberTraffic("100", 60.0, (KeyPress(1.0, "12"),), patience_mean=300.0)],
            seed=3,
            max_calls=6,
        )
        stats = await asyncio.wait_for(gen.run(), 30)
        assert stats.placed == 6 and stats.by_number == {"100": 6}
        assert stats.abandoned == 6  # nobody connects them to an agent
        held = {h["Unique-ID"] for h, _ in esl.events if h.get("Application") == "endless_playback"}
        assert len(held) == 6
        done = await esl.event(is_("CHANNEL_HANGUP_COMPLETE"))
        assert done["variable_cc_ivr_failed"] == "true"
        assert done["Hangup-Cause"] == "ORIGINATOR_CANCEL"
        assert sum(1 for h, _ in esl.events if h.get("Event-Name") == "DTMF") == 12
        await esl.close()
    finally:
        await fs.stop()
