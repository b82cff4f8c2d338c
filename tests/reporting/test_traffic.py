from __future__ import annotations

import math

import numpy as np
import pytest

from cc_core.reporting.simulation.traffic import HandleTime, QueueTraffic, generate_calls

SALES = QueueTraffic("sales", calls_per_hour=360, handle_time=HandleTime("exponential", 120))
SUPPORT = QueueTraffic(
    "support",
    calls_per_hour=180,
    handle_time=HandleTime("lognormal", 300, cv=0.6),
    patience_mean=90,
)


def test_same_seed_same_calls_and_other_seed_other_calls() -> None:
    first = generate_calls([SALES, SUPPORT], duration=3600, seed=7)
    again = generate_calls([SALES, SUPPORT], duration=3600, seed=7)
    other = generate_calls([SALES, SUPPORT], duration=3600, seed=8)
    assert first == again
    assert [c.arrival for c in first] != [c.arrival for c in other]


def test_a_queue_keeps_its_calls_when_another_queue_is_added() -> None:
    alone = generate_calls([SALES], duration=3600, seed=3)
    together = generate_calls([SUPPORT, SALES], duration=3600, seed=3)
    assert [c for c in together if c.queue == "sales"] == alone


def test_calls_are_ordered_and_inside_the_horizon() -> None:
    calls = generate_calls([SALES, SUPPORT], duration=1800, seed=1)
    arrivals = [c.arrival for c in calls]
    assert arrivals == sorted(arrivals)
    assert arrivals[0] >= 0 and arrivals[-1] < 1800
    assert len({c.id for c in calls}) == len(calls)


def test_poisson_counts_and_distribution_moments() -> None:
    # 100 h of traffic: 36 000 sales calls, so the count and the means sit within a few
    # percent of their targets (relative standard errors about 0.5 % and 1 %).
    calls = generate_calls([SALES, SUPPORT], duration=360_000, seed=11)
    sales = [c for c in calls if c.queue == "sales"]
    support = [c for c in calls if c.queue == "support"]
    assert len(sales) == pytest.approx(36_000, rel=0.02)
    gaps = np.diff([c.arrival for c in sales])
    assert np.mean(gaps) == pytest.approx(10.0, rel=0.02)
    # Exponential gaps: standard deviation equals the mean.
    assert np.std(gaps) == pytest.approx(10.0, rel=0.03)
    handles = np.array([c.handle_time for c in support])
    assert handles.mean() == pytest.approx(300, rel=0.03)
    assert handles.std() / handles.mean() == pytest.approx(0.6, rel=0.06)
    patience = np.array([c.patience for c in support])
    assert patience.mean() == pytest.approx(90, rel=0.04)
    assert all(math.isinf(c.patience) for c in sales)


def test_constant_handle_time() -> None:
    spec = QueueTraffic("q", calls_per_hour=60, handle_time=HandleTime("constant", 42))
    assert {c.handle_time for c in generate_calls([spec], duration=7200, seed=0)} == {42.0}


def test_load_in_erlangs() -> None:
    assert SALES.load == pytest.approx(12.0)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: HandleTime("gamma", 10), "handle_time.kind: expected exponential"),
        (lambda: HandleTime("exponential", 0), "handle_time.mean: expected a finite number"),
        (lambda: QueueTraffic("q", calls_per_hour=-1), "q.calls_per_hour: expected a finite"),
        (lambda: QueueTraffic("q", 10, patience_mean=math.nan), "q.patience_mean: expected"),
        (lambda: generate_calls([SALES, SALES], 10, 1), "each queue may appear once"),
        (lambda: generate_calls([SALES], 10, -1), "seed: expected an int >= 0"),
        (lambda: generate_calls([SALES], 0, 1), "duration: expected a finite number > 0"),
    ],
)
def test_bad_traffic_is_named(build, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()
