"""Erlang B/C checked against independent computations, never against copied figures.

At small N the reference is the textbook closed form evaluated exactly with fractions
(A**N / N! over the sum of A**k / k!). At large N, where that form overflows floats, the
reference sums the same terms in log space with lgamma.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cc_core.reporting.erlang import (
    Traffic,
    agents_needed,
    average_speed_of_answer,
    erlang_b,
    erlang_c,
    occupancy,
    service_level,
)


def exact_erlang_b(n: int, load: Fraction) -> Fraction:
    terms = [load**k / math.factorial(k) for k in range(n + 1)]
    return terms[n] / sum(terms)


def exact_erlang_c(n: int, load: Fraction) -> Fraction:
    # Textbook form: (A^N/N! * N/(N-A)) / (sum_{k<N} A^k/k! + A^N/N! * N/(N-A))
    top = load**n / math.factorial(n) * n / (n - load)
    return top / (sum(load**k / math.factorial(k) for k in range(n)) + top)


def log_space_erlang_c(n: int, load: float) -> float:
    log_terms = [k * math.log(load) - math.lgamma(k + 1) for k in range(n)]
    log_top = n * math.log(load) - math.lgamma(n + 1) + math.log(n / (n - load))
    log_terms.append(log_top)
    peak = max(log_terms)
    log_sum = peak + math.log(sum(math.exp(t - peak) for t in log_terms))
    return math.exp(log_top - log_sum)


# The textbook staffing example: 100 calls per 30 minutes, 180 s average handle time, so
# A = 100 * 180 / 1800 = 10 erlangs; target 80 % of calls answered within 20 s.
TEXTBOOK = Traffic.per_interval(100, 1800, 180)


def test_textbook_load_is_ten_erlangs() -> None:
    assert TEXTBOOK.load == pytest.approx(10.0)


@pytest.mark.parametrize("agents", range(11, 19))
def test_erlang_c_matches_exact_factorial_sum(agents: int) -> None:
    expected = exact_erlang_c(agents, Fraction(10))
    assert erlang_c(agents, TEXTBOOK.load) == pytest.approx(float(expected), rel=1e-12)


@pytest.mark.parametrize(("agents", "load"), [(1, 0.5), (3, 2.2), (7, 1.0), (20, 17.5), (30, 5)])
def test_erlang_b_matches_exact_factorial_sum(agents: int, load: float) -> None:
    expected = exact_erlang_b(agents, Fraction(load))
    assert erlang_b(agents, load) == pytest.approx(float(expected), rel=1e-12)


@pytest.mark.parametrize("agents", range(11, 19))
def test_service_level_and_asa_from_exact_wait_probability(agents: int) -> None:
    c = float(exact_erlang_c(agents, Fraction(10)))
    spare = agents - 10
    assert service_level(agents, TEXTBOOK, 20) == pytest.approx(
        1 - c * math.exp(-spare * 20 / 180), rel=1e-12
    )
    assert average_speed_of_answer(agents, TEXTBOOK) == pytest.approx(c * 180 / spare, rel=1e-12)
    assert occupancy(agents, TEXTBOOK) == pytest.approx(10 / agents)


def test_agents_needed_is_the_smallest_staffing_meeting_the_target() -> None:
    result = agents_needed(TEXTBOOK, target_time=20, target_service_level=0.8)

    def exact_sl(n: int) -> float:
        c = float(exact_erlang_c(n, Fraction(10)))
        return 1 - c * math.exp(-(n - 10) * 20 / 180)

    assert exact_sl(result.agents) >= 0.8
    assert exact_sl(result.agents - 1) < 0.8
    # The published answer of this worked example is 14 agents.
    assert result.agents == 14
    assert result.service_level == pytest.approx(exact_sl(14), rel=1e-12)
    assert result.occupancy == pytest.approx(10 / 14)


def test_agents_needed_respects_max_occupancy() -> None:
    result = agents_needed(TEXTBOOK, target_time=20, target_service_level=0.8, max_occupancy=0.65)
    assert result.agents == math.ceil(10 / 0.65)
    assert result.occupancy <= 0.65


@pytest.mark.parametrize(("agents", "load"), [(200, 190.0), (500, 480.0), (1500, 1490.5)])
def test_stable_for_hundreds_of_agents(agents: int, load: float) -> None:
    value = erlang_c(agents, load)
    assert 0 < value < 1
    assert value == pytest.approx(log_space_erlang_c(agents, load), rel=1e-9)


def test_wait_probability_falls_as_agents_are_added() -> None:
    values = [erlang_c(n, 300.0) for n in range(301, 400)]
    assert all(a > b for a, b in itertools.pairwise(values))


def test_overloaded_queue_always_waits() -> None:
    traffic = Traffic(arrival_rate=1.0, mean_handle_time=12.0)
    assert erlang_c(12, traffic.load) == 1.0
    assert average_speed_of_answer(10, traffic) == math.inf
    assert service_level(10, traffic, 20) == 0.0
    assert occupancy(10, traffic) == 1.0


def test_no_staffing_reaches_target_is_an_error() -> None:
    with pytest.raises(ValueError, match="no staffing up to 13 agents"):
        agents_needed(TEXTBOOK, target_time=20, target_service_level=0.8, max_agents=13)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: erlang_c(0, 1.0), "agents: expected at least 1"),
        (lambda: erlang_c(3, -1.0), "load: expected a finite number"),
        (lambda: erlang_c(3, math.nan), "load: expected a finite number"),
        (lambda: Traffic(0, 180), "arrival_rate: expected a finite number > 0"),
        (lambda: Traffic(1, math.inf), "mean_handle_time: expected a finite number > 0"),
        (lambda: service_level(3, TEXTBOOK, -5), "target: expected a finite number"),
        (
            lambda: agents_needed(TEXTBOOK, target_time=20, target_service_level=80),
            "target_service_level: expected a fraction",
        ),
    ],
)
def test_bad_input_is_named(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_wrong_types_are_named() -> None:
    with pytest.raises(TypeError, match="agents: expected an int"):
        erlang_c(2.5, 1.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="load: expected a number"):
        erlang_b(2, "3")  # type: ignore[arg-type]


@given(
    agents=st.integers(min_value=1, max_value=400),
    utilisation=st.floats(min_value=0.01, max_value=0.999),
)
def test_wait_probability_is_between_blocking_and_one(agents: int, utilisation: float) -> None:
    load = agents * utilisation
    b, c = erlang_b(agents, load), erlang_c(agents, load)
    assert 0 <= b <= c < 1  # b underflows to 0 for tiny loads on hundreds of agents
    # One more agent never makes waiting more likely.
    assert erlang_c(agents + 1, load) <= c


@given(
    calls_per_hour=st.floats(min_value=1, max_value=5000),
    aht=st.floats(min_value=10, max_value=900),
    target=st.sampled_from([10, 20, 30, 60]),
    level=st.sampled_from([0.7, 0.8, 0.9, 0.95]),
)
def test_agents_needed_is_minimal(
    calls_per_hour: float, aht: float, target: int, level: float
) -> None:
    traffic = Traffic(calls_per_hour / 3600, aht)
    result = agents_needed(traffic, target_time=target, target_service_level=level)
    assert service_level(result.agents, traffic, target) >= level
    if result.agents > 1:
        assert service_level(result.agents - 1, traffic, target) < level
