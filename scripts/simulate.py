#!/usr/bin/env python3
"""Discrete-event simulation of a contact centre, routed by the real routing engine.

Prints SLA %, ASA, abandonment, exits and occupancy per queue and per routing strategy (every
strategy sees the same seeded callers), the service level against the number of agents beside
Erlang C, and a check of one FIFO skill without abandonment against Erlang C; draws the
service level against the number of agents to a PNG. See docs/simulation.md.

    python scripts/simulate.py                      # configs/ if present, else built-in centre
    python scripts/simulate.py --builtin --hours 24 --agents 14:26:2 --output var/sim.png
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from cc_core.config import ConfigError
from cc_core.domain import Strategy
from cc_core.reporting import erlang
from cc_core.reporting.simulation.centre import (
    Centre,
    TrafficError,
    builtin_centre,
    centre_from_configs,
    load_traffic,
)
from cc_core.reporting.simulation.driver import AgentBehaviour
from cc_core.reporting.simulation.experiments import (
    RunSettings,
    compare_strategies,
    erlang_check,
    sweep_agents,
)
from cc_core.reporting.simulation.tables import erlang_table, strategy_table, sweep_table
from cc_core.reporting.simulation.traffic import HandleTime, QueueTraffic

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIGS = ROOT / "configs"


def _agents_range(text: str) -> range:
    parts = text.split(":")
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected MIN:MAX or MIN:MAX:STEP with whole numbers, got {text!r}"
        ) from None
    if len(numbers) not in (2, 3) or numbers[0] < 1 or numbers[1] < numbers[0]:
        raise argparse.ArgumentTypeError(
            f"expected MIN:MAX[:STEP] with 1 <= MIN <= MAX, got {text!r}"
        )
    step = numbers[2] if len(numbers) == 3 else 1
    if step < 1:
        raise argparse.ArgumentTypeError(f"STEP must be at least 1, got {text!r}")
    return range(numbers[0], numbers[1] + 1, step)


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


def _strategies(text: str) -> list[Strategy]:
    if text in ("all", ""):
        return list(Strategy)
    if text == "none":
        return []
    chosen = []
    for name in text.split(","):
        try:
            chosen.append(Strategy(name.strip()))
        except ValueError:
            known = ", ".join(s.value for s in Strategy)
            raise argparse.ArgumentTypeError(
                f"unknown strategy {name!r}; expected all, none or a list of: {known}"
            ) from None
    return chosen


def _positive(kind: Callable[[str], float]) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value) or value < 0:
            raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
        return value

    return parse


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a fraction from 0 to 1, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    where = p.add_argument_group("centre")
    where.add_argument(
        "--config-dir",
        type=Path,
        default=None,
        help=f"admin config directory; when not given, {DEFAULT_CONFIGS} if present",
    )
    where.add_argument(
        "--builtin", action="store_true", help="use the built-in two-skill centre instead"
    )
    where.add_argument("--traffic", type=Path, help="YAML file of per-queue traffic")
    traffic = p.add_argument_group("default traffic of every configured voice queue")
    traffic.add_argument(
        "--calls-per-hour",
        type=_positive(float),
        default=15.0,
        help="per queue (default %(default)s)",
    )
    traffic.add_argument(
        "--aht", type=_positive(float), default=180.0, help="mean talk, s (default %(default)s)"
    )
    traffic.add_argument(
        "--handle-dist", choices=["exponential", "lognormal", "constant"], default="lognormal"
    )
    traffic.add_argument(
        "--cv", type=_positive(float), default=0.8, help="lognormal std/mean (default %(default)s)"
    )
    traffic.add_argument(
        "--patience",
        type=_positive(float),
        default=120.0,
        help="mean caller patience, s; 0 = never hang up (default %(default)s)",
    )
    run = p.add_argument_group("run")
    run.add_argument(
        "--hours", type=_positive(float), default=8.0, help="arrivals, h (default %(default)s)"
    )
    run.add_argument(
        "--warmup",
        type=_positive(float),
        default=30.0,
        help="warm-up left out, min (default %(default)s)",
    )
    run.add_argument(
        "--seed", type=_seed, default=1, help="same seed, same callers (default %(default)s)"
    )
    run.add_argument(
        "--answer-delay",
        type=_positive(float),
        default=2.0,
        help="ring before answering, s (default %(default)s)",
    )
    run.add_argument(
        "--answer-probability",
        type=_fraction,
        default=0.97,
        help="share of offers answered; the rest ring out (default %(default)s)",
    )
    run.add_argument(
        "--strategies",
        type=_strategies,
        default="all",
        help="all (default), none, or e.g. longest_idle,round_robin; 'as configured' always runs",
    )
    sweep = p.add_argument_group("staffing sweep and chart")
    sweep.add_argument(
        "--agents",
        type=_agents_range,
        default=None,
        help="MIN:MAX[:STEP] agents (default: around the Erlang C staffing)",
    )
    sweep.add_argument(
        "--target",
        type=_positive(float),
        default=20.0,
        help="service-level target, s (default %(default)s)",
    )
    sweep.add_argument(
        "--target-percent",
        type=_positive(float),
        default=80.0,
        help="target %% drawn as a line (default %(default)s)",
    )
    sweep.add_argument(
        "--check-calls",
        type=int,
        default=15_000,
        help="calls per point of the Erlang C check (default %(default)s)",
    )
    sweep.add_argument(
        "--output",
        type=Path,
        default=ROOT / "var" / "simulation.png",
        help="PNG chart (default var/simulation.png)",
    )
    sweep.add_argument("--no-chart", action="store_true", help="skip the chart")
    return p


def _shown(path: Path, base: Path) -> Path:
    """`path` relative to `base` when inside it (shorter, same on every machine)."""
    full = path.resolve()
    return full.relative_to(base) if full.is_relative_to(base) else full


def _load_centre(args: argparse.Namespace) -> Centre:
    default = QueueTraffic(
        "default",
        args.calls_per_hour,
        HandleTime(args.handle_dist, args.aht, cv=args.cv),
        patience_mean=args.patience or None,
    )
    config_dir = args.config_dir
    if config_dir is None and not args.builtin and (DEFAULT_CONFIGS / "queues.yaml").exists():
        config_dir = DEFAULT_CONFIGS
    centre = builtin_centre() if args.builtin or config_dir is None else None
    if centre is None:
        name = f"{_shown(config_dir, ROOT)}/"
        centre = centre_from_configs(config_dir, default, name=name)
    if args.traffic is not None:
        centre = centre.with_traffic(load_traffic(args.traffic, centre))
    return centre


def _patience_note(centre: Centre) -> str:
    patience = {t.patience_mean for t in centre.traffic}
    if patience == {None}:
        return "callers never hang up"
    if len(patience) == 1:
        return f"mean patience {patience.pop():g} s"
    return "mean patience per queue"


def _default_counts(load: float) -> range:
    low = max(1, math.floor(load))
    high = max(low + 4, math.ceil(load * 1.5) + 1)
    return range(low, high + 1, max(1, (high - low) // 8))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        centre = _load_centre(args)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    except (TrafficError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        return _simulate(args, centre)
    except (RuntimeError, ValueError) as exc:
        # e.g. a queue nobody can serve while callers never hang up
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _simulate(args: argparse.Namespace, centre: Centre) -> int:
    duration = args.hours * 3600.0
    warmup = args.warmup * 60.0
    if warmup >= duration:
        print(f"error: --warmup {args.warmup} min is not shorter than --hours", file=sys.stderr)
        return 2
    behaviour = AgentBehaviour(
        answer_delay=args.answer_delay, answer_probability=args.answer_probability
    )
    settings = RunSettings(duration, warmup, args.seed, behaviour)
    pooled = centre.pooled_traffic()
    counts = args.agents or _default_counts(pooled.load)
    started = time.perf_counter()

    print(f"centre: {centre.name}")
    print(
        f"  {len(centre.queues)} queues, {len(centre.voice_agents())} voice agents; "
        f"{args.hours:g} h of arrivals after a {args.warmup:g} min warm-up, seed {args.seed}"
    )
    for t in centre.traffic:
        patience = "never" if t.patience_mean is None else f"{t.patience_mean:g} s"
        print(
            f"  {t.queue:<14} {t.calls_per_hour:6.1f} calls/h, {t.handle_time.kind} "
            f"{t.handle_time.mean:g} s handle, patience {patience}"
        )
    print(
        f"  pooled: {pooled.arrival_rate * 3600:.1f} calls/h, {pooled.mean_handle_time:.1f} s "
        f"per call incl. wrap-up = {pooled.load:.2f} erlangs"
    )
    try:
        need = erlang.agents_needed(
            pooled, target_time=args.target, target_service_level=args.target_percent / 100
        )
        print(
            f"  Erlang C staffing for {args.target_percent:g}% in {args.target:g} s: "
            f"{need.agents} agents ({need.service_level:.1%}, "
            f"ASA {need.average_speed_of_answer:.1f} s)"
        )
    except ValueError as exc:
        print(f"  Erlang C staffing: {exc}")
    print()

    print("per queue and strategy, as configured staffing (SLA against each queue's target)")
    results = compare_strategies(centre, settings, args.strategies)
    print(strategy_table(results))
    print()

    sweep_settings = RunSettings(duration, warmup, args.seed, behaviour, args.target)
    sweep = sweep_agents(centre, counts, sweep_settings, args.strategies)
    curve_counts = range(max(1, counts[0] - 1), counts[-1] + 2)
    curve = {n: erlang.service_level(n, pooled, args.target) for n in curve_counts}
    print(sweep_table(sweep, curve, args.target))
    print()

    stable = [n for n in counts if n > pooled.load]
    check = erlang_check(pooled, stable, args.target, calls=args.check_calls, seed=args.seed)
    print(erlang_table(check, args.target))
    if len(stable) < len(counts):
        print(f"(fewer than {pooled.load:.2f} agents: no steady state, left out of the check)")
    print()

    if not args.no_chart:
        from cc_core.reporting.simulation.chart import draw_staffing_chart

        path = draw_staffing_chart(
            args.output,
            erlang_points=check,
            erlang_curve=curve,
            sweep=sweep,
            target=args.target,
            target_percent=args.target_percent,
            centre_name=centre.name,
            subtitle=(
                f"{pooled.arrival_rate * 3600:.0f} calls/h, {pooled.load:.1f} erlangs pooled, "
                f"seed {args.seed}. Left: {args.check_calls} calls per point. Right: "
                f"{args.hours:g} h per point after a {args.warmup:g} min warm-up, "
                f"{_patience_note(centre)}"
            ),
        )
        print(f"chart: {_shown(path, Path.cwd())}")
    print(f"simulated in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
