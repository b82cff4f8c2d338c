"""A caller hanging up at any point of any shipped script ends the run cleanly."""

from __future__ import annotations

import pytest

from cc_core.ivr import IvrLibrary, OutcomeKind, parse_keys

from .conftest import CLOSED, OPEN, UNKNOWN, walk

FULL_WALKS = [
    ("main_menu", f"1,{UNKNOWN},2,9,3", OPEN),
    ("main_menu", "2,T,T,T,T,1", OPEN),
    ("main_menu", "3,5,T,T", CLOSED),
    ("csat", "7,3", OPEN),
]


def prefixes() -> list[tuple[str, str, object, int]]:
    cases = []
    for script, keys, at in FULL_WALKS:
        pressed = parse_keys(keys)
        cases += [(script, ",".join([*pressed[:n], "H"]), at, n) for n in range(len(pressed))]
    return cases


@pytest.mark.parametrize(("script", "keys", "at", "after"), prefixes())
async def test_hang_up_after_each_key(script: str, keys: str, at: object, after: int,
                                      library: IvrLibrary) -> None:
    done = await walk(library, script, keys, at=at)  # type: ignore[arg-type]
    assert done.outcome.kind is OutcomeKind.CALLER_HUNG_UP
    assert done.outcome.reason == "caller hung up"
    assert done.outcome.node == done.outcome.path[-1]
    assert done.events[-1].detail["outcome"] == "caller_hung_up"
    assert done.session.keys_left == 0


async def test_hang_up_before_the_first_prompt(library: IvrLibrary) -> None:
    done = await walk(library, "main_menu", "H")
    assert done.outcome.kind is OutcomeKind.CALLER_HUNG_UP
    assert done.outcome.path == ("welcome",)
