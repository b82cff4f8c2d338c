"""Each call's latest live quality figures (the media fork's), on memory and on Redis."""

from __future__ import annotations

import math

import pytest

from cc_core.store.live import LiveStateDataError
from tests.live.conftest import Harness

FIGURES = {
    "t": 12.5,
    "score": 0.31,
    "dead_air_s": 0.0,
    "customer": {"score": 1.0, "snr_db": 60.0},
    "agent": {"score": 0.22, "snr_db": None},
}


async def test_latest_figures_replace_the_last_and_can_be_removed(harness: Harness) -> None:
    live = harness.live
    assert await live.get_call_quality("01JCALL") is None
    await live.set_call_quality("01JCALL", FIGURES, ttl=60)
    assert await live.get_call_quality("01JCALL") == FIGURES
    other = await harness.open_node()  # another node reads what this one wrote
    assert await other.get_call_quality("01JCALL") == FIGURES
    await live.set_call_quality("01JCALL", {**FIGURES, "score": 0.5}, ttl=60)
    assert (await live.get_call_quality("01JCALL") or {})["score"] == 0.5
    assert await live.remove_call_quality("01JCALL") is True
    assert await live.remove_call_quality("01JCALL") is False
    assert await live.get_call_quality("01JCALL") is None


async def test_figures_expire_after_their_ttl(harness: Harness) -> None:
    await harness.live.set_call_quality("01JCALL", FIGURES, ttl=0.2)
    await harness.advance(0.1)
    assert await harness.live.get_call_quality("01JCALL") == FIGURES
    await harness.advance(0.25)
    assert await harness.live.get_call_quality("01JCALL") is None


@pytest.mark.parametrize(
    ("interaction_id", "data", "ttl", "message"),
    [
        ("has space", FIGURES, 60, "interaction_id"),
        ("01JCALL", [1, 2], 60, "expected a dict"),
        ("01JCALL", {"score": math.nan}, 60, "not JSON-serialisable"),
        ("01JCALL", FIGURES, 0, "ttl"),
    ],
)
async def test_bad_figures_are_refused_with_the_field(
    harness: Harness, interaction_id: str, data: object, ttl: float, message: str
) -> None:
    with pytest.raises(LiveStateDataError, match=message):
        await harness.live.set_call_quality(interaction_id, data, ttl)  # type: ignore[arg-type]
    assert await harness.live.get_call_quality("01JCALL") is None


async def test_clear_removes_call_figures(harness: Harness) -> None:
    await harness.live.set_call_quality("01JCALL", FIGURES, ttl=60)
    assert await harness.live.clear() >= 1
    assert await harness.live.get_call_quality("01JCALL") is None
