"""The staffing chart: service level against the number of agents, Erlang C beside the
simulation. Needs matplotlib (the `dev` extra); it is imported only when a chart is drawn."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from cc_core.reporting.simulation.experiments import ErlangPoint, SweepPoint

__all__ = ["draw_staffing_chart"]


def draw_staffing_chart(
    path: Path | str,
    *,
    erlang_points: Sequence[ErlangPoint],
    erlang_curve: Mapping[int, float],
    sweep: Sequence[SweepPoint],
    target: float,
    target_percent: float | None,
    centre_name: str,
    subtitle: str,
) -> Path:
    """Writes a PNG with two panels and returns its path.

    Left: one FIFO skill with no abandonment (M/M/N), where Erlang C is exact: its curve and
    the simulated points must agree. Right: the simulated centre per routing strategy, with the
    same pooled Erlang C curve as a reference (it ignores skills and abandonment).
    """
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5.5), sharey=True)
    curve_n = sorted(erlang_curve)
    curve_sl = [100 * erlang_curve[n] for n in curve_n]

    left.plot(curve_n, curve_sl, "-", color="black", lw=2, marker=".", label="Erlang C")
    left.plot(
        [p.agents for p in erlang_points],
        [100 * p.report.service_level for p in erlang_points],
        "o",
        color="tab:red",
        ms=8,
        mfc="none",
        mew=2,
        label="simulation (routing engine)",
    )
    left.set_title("One skill, FIFO, no abandonment (M/M/N)")

    right.plot(
        curve_n, curve_sl, "--", color="black", lw=1.5, label="Erlang C (pooled, no abandonment)"
    )
    labels = list(dict.fromkeys(p.label for p in sweep))
    markers = "osD^v<>ph"
    for i, label in enumerate(labels):
        pts = sorted((p.agents, p.service_level) for p in sweep if p.label == label)
        right.plot(
            [n for n, _ in pts],
            [100 * sl for _, sl in pts],
            marker=markers[i % len(markers)],
            lw=2.2 if i == 0 else 1.0,
            ms=6 if i == 0 else 4,
            alpha=1.0 if i == 0 else 0.8,
            label=f"simulation: {label}",
        )
    right.set_title(f"Simulated centre: {centre_name}")

    for ax in (left, right):
        if target_percent is not None:
            ax.axhline(target_percent, color="grey", lw=0.8, ls=":")
        ax.set_xlabel("Agents staffed")
        ax.set_ylim(0, 102)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="lower right", fontsize=8)
    left.set_ylabel(f"Service level: % answered within {target:g} s")
    fig.suptitle(subtitle, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
