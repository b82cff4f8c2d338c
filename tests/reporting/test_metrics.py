from __future__ import annotations

import math

import pytest

from cc_core.reporting.simulation.metrics import TOTAL, AgentTime, CallRecord, summarize


def _calls() -> list[CallRecord]:
    return [
        CallRecord("sales", arrival=0, answered_at=0, agent="a"),  # no wait
        CallRecord("sales", arrival=10, answered_at=25, agent="a"),  # 15 s, inside 20 s
        CallRecord("sales", arrival=20, answered_at=50, agent="b"),  # 30 s, late
        CallRecord("sales", arrival=30, abandoned_at=35),  # short abandon: left out of SLA
        CallRecord("sales", arrival=40, abandoned_at=100),  # abandoned after target
        CallRecord("support", arrival=5, answered_at=65, agent="b"),  # 60 s, inside 60 s
        CallRecord("support", arrival=6, exited_at=126),  # max wait reached: late exit
        CallRecord("support", arrival=7, exited_at=17),  # an exit inside the target
    ]


def _agents() -> dict[str, AgentTime]:
    a = AgentTime(frozenset({"sales"}))
    b = AgentTime(frozenset({"sales", "support"}))
    window = (0.0, 100.0)
    a.add_busy(0, 30, window)
    a.add_busy(90, 150, window)  # only 10 s fall inside the window
    b.add_busy(-20, 10, window)  # only 10 s fall inside the window
    b.add_busy(50, 100, window)
    return {"a": a, "b": b}


def test_queue_definitions() -> None:
    reports = summarize(_calls(), _agents(), {"sales": 20, "support": 60}, staffed_seconds=100)
    sales = reports["sales"]
    assert (sales.offered, sales.answered, sales.abandoned) == (5, 3, 2)
    # answered within 20 s / (answered + abandoned after 20 s) = 2 / (3 + 1)
    assert sales.service_level == pytest.approx(2 / 4)
    assert sales.asa == pytest.approx((0 + 15 + 30) / 3)
    assert sales.wait_probability == pytest.approx(2 / 3)
    assert sales.abandonment_rate == pytest.approx(2 / 5)
    # agents a (40 s busy) and b (60 s busy) over 2 x 100 s staffed
    assert sales.occupancy == pytest.approx(100 / 200)
    support = reports["support"]
    # exits after the target count against the service level; an exit before it does not
    assert support.service_level == pytest.approx(1 / 2)
    assert support.exit_rate == pytest.approx(2 / 3)
    assert support.abandonment_rate == 0
    assert support.occupancy == pytest.approx(60 / 100)


def test_centre_total_uses_each_queue_target() -> None:
    total = summarize(_calls(), _agents(), {"sales": 20, "support": 60}, 100)[TOTAL]
    assert total.offered == 8
    assert (total.answered, total.abandoned, total.exited) == (4, 2, 2)
    assert total.service_level == pytest.approx(3 / 6)
    assert total.occupancy == pytest.approx(100 / 200)


def test_empty_queue_reports_nan_not_zero() -> None:
    reports = summarize([], _agents(), {"sales": 20}, 100)
    assert math.isnan(reports["sales"].service_level)
    assert math.isnan(reports["sales"].asa)
    assert reports["sales"].offered == 0


def test_unresolved_call_is_an_error() -> None:
    with pytest.raises(ValueError, match="never resolved"):
        summarize([CallRecord("sales", arrival=3)], _agents(), {"sales": 20}, 100)
