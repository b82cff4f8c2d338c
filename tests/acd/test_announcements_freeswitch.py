"""Hold announcement values on FreeSWITCH: the ACD sets cc_position / cc_ewt on a waiting call
(uuid_setvar through the FreeSWITCH port); the shipped cc_hold plays music only."""

from __future__ import annotations

from pathlib import Path

from tests.acd.conftest import wait_for
from tests.acd.test_freeswitch_calls import in_hold, running


async def test_a_waiting_call_gets_its_position_and_wait(tmp_path: Path, sqlite_url: str) -> None:
    async with running(tmp_path, sqlite_url) as centre:
        service, announcer = centre.node.service, centre.node.announcer
        assert service is not None and announcer is not None
        first, second = centre.call(), centre.call()
        await wait_for(lambda: in_hold(first) and in_hold(second), what="both callers held")
        await wait_for(
            lambda: sum(r.stage.value == "queued" for r in service.calls) == 2, what="queued"
        )
        await service.serial(announcer.sweep)  # not waiting for the 10 s refresh
        await wait_for(
            lambda: {c.get_var("cc_position") for c in (first, second)} == {"1", "2"},
            what="positions",
        )
        chans = sorted((first, second), key=lambda c: c.get_var("cc_position"))
        assert [c.get_var("cc_ewt") for c in chans] == ["180", "360"]
        assert all(in_hold(c) for c in chans)  # set where they wait, nothing moved
