"""scripts/simulate.py run as a person runs it: a short simulation, its tables and its chart."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "simulate.py"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
    )


def test_short_run_prints_tables_and_draws_the_chart(tmp_path: Path) -> None:
    png = tmp_path / "chart" / "sim.png"
    common = [
        "--builtin",
        "--hours", "1.5",
        "--warmup", "10",
        "--agents", "18:22:2",
        "--strategies", "longest_idle,round_robin",
        "--check-calls", "800",
        "--seed", "3",
    ]  # fmt: skip
    done = run(*common, "--output", str(png))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "centre: built-in sales and support" in out
    for label in ("as configured", "longest_idle", "round_robin"):
        assert f"\n{label:<16} sales" in out
    assert "service level (centre-wide; Erlang C for 20 s, pooled traffic)" in out
    assert "one skill, FIFO, no abandonment" in out
    sweep_rows = [line.split()[0] for line in out.splitlines() if line[:6].strip().isdigit()]
    assert sweep_rows[:3] == ["18", "20", "22"]

    import matplotlib.image

    image = matplotlib.image.imread(png)
    height, width = image.shape[:2]
    assert (width, height) == (1430, 605)
    assert image.std() > 0.05  # drawn, not blank

    # Same seed, same figures: the tables repeat exactly (timing line aside).
    again = run(*common, "--no-chart")
    assert again.returncode == 0, again.stderr
    tables = out.split("\nchart:")[0]
    assert again.stdout.startswith(tables)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--agents", "9:3"], "expected MIN:MAX[:STEP] with 1 <= MIN <= MAX"),
        (["--strategies", "fastest"], "unknown strategy 'fastest'"),
        (["--seed", "-2"], "expected a whole number >= 0"),
        (["--hours", "0.1", "--warmup", "30"], "--warmup 30.0 min is not shorter than --hours"),
        (["--config-dir", "/nonexistent/configs"], "directory not found"),
    ],
)
def test_bad_options_exit_2_with_a_reason(args: list[str], message: str) -> None:
    done = run(*args, "--no-chart")
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_traffic_file_error_names_the_line(tmp_path: Path) -> None:
    traffic = tmp_path / "traffic.yaml"
    traffic.write_text("queues:\n  sales: {calls_per_hour: 0}\n")
    done = run("--builtin", "--traffic", str(traffic), "--no-chart")
    assert done.returncode == 2
    assert f"{traffic}:2: queues.sales: sales.calls_per_hour" in done.stderr
