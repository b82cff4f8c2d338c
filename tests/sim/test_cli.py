"""`cc-sim` as a process: starts from the shipped scenario on a free port, refuses bad files."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from tests.sim.captures import Client

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "configs" / "sim" / "scenario.yaml"


async def test_cc_sim_serves_ami_and_lists_registered_agents() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pbx.sim.cli",
        str(SCENARIO),
        "--ami-port",
        "0",
        "--no-traffic",
        "--log-level",
        "WARNING",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
        assert line.startswith("cc-sim: AMI on 127.0.0.1:")
        port = int(line.rsplit(":", 1)[1])
        client = await Client.connect(port)
        await client.send(
            b"Action: Login\r\nUsername: acd\r\nSecret: acdsecret\r\nEvents: off\r\n\r\n"
            b"Action: PJSIPShowContacts\r\nActionID: c\r\n\r\n"
        )
        await client.wait_for(
            lambda got: any(dict(b).get("Event") == "ContactListComplete" for b in got)
        )
        contacts = [dict(b) for b in client.blocks() if dict(b).get("Event") == "ContactList"]
        assert sorted(c["Endpoint"] for c in contacts) == ["agent1001", "agent1002", "agent1003"]
        assert all(c["ActionID"] == "c" for c in contacts)
        await client.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 10) == 0


async def test_cc_sim_rejects_a_bad_scenario(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("dialplan: x.conf\ntime_scale: -1\n")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pbx.sim.cli",
        str(bad),
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    _, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 2
    assert f"{bad}:2: time_scale:" in err.decode()


async def test_cc_sim_reports_a_broken_dialplan(tmp_path: Path) -> None:
    (tmp_path / "x.conf").write_text("[in]\nexten => 100,1,NoOp()\nthis is not a dialplan line\n")
    sc = tmp_path / "s.yaml"
    sc.write_text("dialplan: x.conf\n")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pbx.sim.cli",
        str(sc),
        "--ami-port",
        "0",
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    _, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 2, err
    assert "x.conf:3" in err.decode()
