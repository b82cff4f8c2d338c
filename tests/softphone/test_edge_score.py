"""The edge score: a pure function of one report, with the documented weights."""

from __future__ import annotations

import math

import pytest

from cc_core.acd.agent_quality import (
    WEIGHTS,
    EdgeReport,
    ReportError,
    agent_token,
    combined,
    edge_score,
    network_part,
    parse_report,
    r_factor,
    token_valid,
)
from cc_core.quality.score import noise_part

CLEAN = EdgeReport(
    noise_floor_dbfs=-70, speech_ratio=0.0, jitter_ms=2, loss_ratio=0.0, rtt_ms=30, cpu_load=0.2
)


def test_weights_sum_to_one() -> None:
    assert math.isclose(sum(WEIGHTS.values()), 1.0)


def test_clean_report_scores_high_and_equals_the_weighted_parts() -> None:
    result = edge_score(CLEAN)
    assert result is not None
    expected_network = network_part(30, 2, 0.0)
    expected = (
        WEIGHTS["noise"] * noise_part(-70)
        + WEIGHTS["background"] * 1.0
        + WEIGHTS["network"] * expected_network
        + WEIGHTS["cpu"] * 1.0
    )
    expected /= 1.0 - WEIGHTS["mic"]  # no mic score outside calls: re-weighted
    assert math.isclose(result.score, expected)
    assert result.score > 0.95


@pytest.mark.parametrize(
    "field,values",
    [
        ("noise_floor_dbfs", [-70, -55, -45, -35, -20]),
        ("speech_ratio", [0.0, 0.2, 0.3, 0.4, 0.6]),
        ("jitter_ms", [0, 40, 80, 150, 300]),
        ("loss_ratio", [0.0, 0.01, 0.05, 0.1, 0.3]),
        ("rtt_ms", [20, 300, 500, 800, 1500]),
        ("cpu_load", [0.5, 0.75, 0.8, 0.9, 1.0]),
    ],
)
def test_each_figure_getting_worse_lowers_the_score(field: str, values: list[float]) -> None:
    scores = []
    for value in values:
        report = EdgeReport(**{**CLEAN.to_json(), field: value})
        result = edge_score(report)
        assert result is not None
        scores.append(result.score)
    assert scores == sorted(scores, reverse=True) and scores[0] > scores[-1], scores


def test_e_model_landmarks() -> None:
    assert math.isclose(r_factor(0, 0, 0), 93.2 - 0.024 * 10)
    # 5 % loss with concealment costs about 16 R points; 400 ms one-way delay about 35.
    assert 15 < r_factor(0, 0, 0) - r_factor(0, 0, 0.05) < 17
    assert network_part(0, 0, 0.5) == 0.0
    assert network_part(0, 0, 0) > 0.99


def test_missing_parts_are_reweighted_and_nothing_gives_none() -> None:
    assert edge_score(EdgeReport()) is None
    only_noise = edge_score(EdgeReport(noise_floor_dbfs=-50))
    assert only_noise is not None and math.isclose(only_noise.score, 0.5)
    assert set(only_noise.parts) == {"noise"}


def test_noisy_room_is_below_the_vip_minimum_and_a_quiet_one_above() -> None:
    noisy = edge_score(EdgeReport(noise_floor_dbfs=-30, speech_ratio=0.9, cpu_load=0.3))
    quiet = edge_score(EdgeReport(noise_floor_dbfs=-68, speech_ratio=0.02, cpu_load=0.3))
    assert noisy is not None and quiet is not None
    assert noisy.score < 0.7 < quiet.score


def test_combined_takes_the_worse_side() -> None:
    assert combined(0.9, 0.4) == 0.4
    assert combined(None, 0.4) == 0.4
    assert combined(0.8, None) == 0.8
    assert combined(None, None) is None


def test_parse_report_refuses_bad_fields_by_name() -> None:
    assert parse_report({"noise_floor_dbfs": -60, "in_call": True}) == EdgeReport(
        noise_floor_dbfs=-60.0, in_call=True
    )
    for body, name in [
        ({"noise_floor_dbfs": 5}, "noise_floor_dbfs"),
        ({"loss_ratio": "0.1"}, "loss_ratio"),
        ({"cpu_load": True}, "cpu_load"),
        ({"jitter_ms": float("nan")}, "jitter_ms"),
        ({"in_call": "yes"}, "in_call"),
        ({"volume": 3}, "volume"),
    ]:
        with pytest.raises(ReportError) as info:
            parse_report(body)
        assert info.value.field == name and name in str(info.value)


def test_tokens_are_per_agent() -> None:
    secret = "s" * 20
    token = agent_token(secret, "ann")
    assert token_valid(secret, "ann", token)
    assert not token_valid(secret, "ben", token)
    assert not token_valid("t" * 20, "ann", token)
