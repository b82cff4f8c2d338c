"""The README's main command: the ACD beside the simulated PBX with live traffic."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pbx.sim.ami.manager_conf import load_accounts
from tests.paths import ROOT

MANAGER_CC = ROOT / "dialplan" / "asterisk" / "manager_cc.conf"


@pytest.mark.slow
def test_demo_serves_calls_and_stops_cleanly(tmp_path: Path) -> None:
    work = tmp_path / "demo"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "cc_core.cli.demo",
            "--configs",
            str(ROOT / "configs"),
            "--work",
            str(work),
            "--duration",
            "30",
            "--rate",
            "12",
            "--no-view",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
        env={"COLUMNS": "160", "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin"},
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "Traceback" not in out
    assert "stopped cleanly" in out
    # One row per configured queue, with its answered count (the 7th number of the row).
    rows = {
        m.group(1): [int(x) for x in re.findall(r"\b\d+\b", m.group(2))]
        for m in re.finditer(r"│ (\w+)\s+│(.*)│", out)
        if m.group(1) != "queue"
    }
    queues = {"billing", "billing_es", "tech_support", "tech_de", "sales", "vip"}
    assert queues <= set(rows), out[-3000:]
    answered = sum(rows[q][4] for q in queues)
    assert answered >= 3, out[-3000:]
    # The simulated Asterisk had the shipped AMI account only (its read classes and event
    # filters, as a real install has them) and the ACD served the calls logged in as that user.
    scenario = yaml.safe_load((work / "scenario.yaml").read_text(encoding="utf-8"))
    assert scenario["ami"]["accounts"] == {}
    assert scenario["ami"]["manager_conf"] == str(MANAGER_CC)
    acd = yaml.safe_load((work / "configs" / "acd.yaml").read_text(encoding="utf-8"))
    (shipped,) = load_accounts(MANAGER_CC).values()
    assert acd["pbx"][0]["ami"]["username"] == shipped.username
    # Both programs ran as real processes and left their logs.
    assert (work / "acd.log").stat().st_size > 0
    assert "AMI on 127.0.0.1:" in (work / "sim.log").read_text()
