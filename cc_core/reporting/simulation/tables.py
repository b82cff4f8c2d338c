"""Plain-text tables of simulation results, for the console and the docs."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from cc_core.reporting.simulation.driver import SimulationResult
from cc_core.reporting.simulation.experiments import ErlangPoint, SweepPoint
from cc_core.reporting.simulation.metrics import QueueReport

__all__ = ["erlang_table", "strategy_table", "sweep_table"]


def _pct(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:6.1%}"


def _secs(value: float) -> str:
    if math.isnan(value):
        return "-"
    return "inf" if math.isinf(value) else f"{value:7.1f}"


def _row(label: str, queue: str, r: QueueReport) -> str:
    return (
        f"{label:<16} {queue:<14} {r.offered:>7} {_pct(r.service_level):>7} {_secs(r.asa):>8} "
        f"{_pct(r.abandonment_rate):>7} {_pct(r.exit_rate):>7} {_pct(r.occupancy):>7}"
    )


def strategy_table(results: Mapping[str, SimulationResult]) -> str:
    """One line per strategy and queue: offered, SLA %, ASA s, abandoned %, exited %,
    occupancy %."""
    lines = [
        f"{'strategy':<16} {'queue':<14} {'offered':>7} {'SLA':>7} {'ASA s':>8} "
        f"{'aband.':>7} {'exited':>7} {'occup.':>7}"
    ]
    for label, result in results.items():
        for queue, report in result.reports.items():
            lines.append(_row(label, queue, report))
    return "\n".join(lines)


def sweep_table(points: Sequence[SweepPoint], erlang_sl: Mapping[int, float], target: float) -> str:
    """Centre-wide service level per number of agents and strategy, with Erlang C beside."""
    labels = list(dict.fromkeys(p.label for p in points))
    counts = sorted({p.agents for p in points})
    by_key = {(p.agents, p.label): p.service_level for p in points}
    head = f"{'agents':>6} {'Erlang C':>9} " + " ".join(f"{lab:>15}" for lab in labels)
    lines = [f"service level (centre-wide; Erlang C for {target:g} s, pooled traffic)", head]
    for n in counts:
        cells = " ".join(f"{_pct(by_key[(n, lab)]):>15}" for lab in labels)
        lines.append(f"{n:>6} {_pct(erlang_sl[n]):>9} {cells}")
    return "\n".join(lines)


def erlang_table(points: Sequence[ErlangPoint], target: float) -> str:
    """Simulated single FIFO skill next to Erlang C: P(wait), ASA, service level."""
    lines = [
        f"one skill, FIFO, no abandonment: simulation / Erlang C (service level at {target:g} s)",
        f"{'agents':>6} {'P(wait) sim':>12} {'Erlang C':>9} {'ASA sim':>9} {'Erlang C':>9} "
        f"{'SLA sim':>8} {'Erlang C':>9}",
    ]
    for p in points:
        r = p.report
        lines.append(
            f"{p.agents:>6} {_pct(r.wait_probability):>12} {_pct(p.erlang_wait_probability):>9} "
            f"{_secs(r.asa):>9} {_secs(p.erlang_asa):>9} {_pct(r.service_level):>8} "
            f"{_pct(p.erlang_service_level):>9}"
        )
    return "\n".join(lines)
