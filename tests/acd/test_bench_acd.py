"""scripts/bench_acd.py end to end on a tiny load: it runs the simulated PBX and the ACD, times
both kinds of decision and prints their percentiles. No timing is asserted here: the figures
depend on the machine; the script compares them with its target itself."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.paths import ROOT

SCRIPT = ROOT / "scripts" / "bench_acd.py"
FIGURES = r"p50 (\d+\.\d+) ms, p99 (\d+\.\d+) ms, max (\d+\.\d+) ms \((\d+) commands\)"


def run_bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
    )


def test_quick_mode_prints_both_percentiles() -> None:
    # Half the calls to the queue with too few agents, so agents becoming ready are timed too.
    done = run_bench("--quick", "--rate", "10", "--seconds", "3", "--support-share", "0.5")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for label in ("arrival", "ready", "baseline"):
        found = re.search(rf"^{label} .*: {FIGURES}$", out, re.MULTILINE)
        assert found, f"no {label} figures in:\n{out}"
        p50, p99, top, count = found.groups()
        assert float(p50) <= float(p99) <= float(top), found.group(0)
        assert int(count) > 0
    assert re.search(r"^result +(PASS|FAIL) ", out, re.MULTILINE), out
    # The stand-ins for other hosts run below the ACD's priority, and the output says so.
    found = re.search(r"^machine .* \(nice (\d+), the ACD at (-?\d+)\)$", out, re.MULTILINE)
    assert found, out
    assert int(found.group(1)) > int(found.group(2)) or int(found.group(1)) == 19, out


def test_bad_arguments_are_refused() -> None:
    done = run_bench("--rate", "0")
    assert done.returncode == 2
    assert "--rate must be > 0" in done.stderr
    done = run_bench("--rig-nice", "20")
    assert done.returncode == 2
    assert "--rig-nice must be between 0 and 19" in done.stderr
