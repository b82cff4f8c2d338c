from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from pbx.sim.esl.runtime import FsSimConfig, FsSimulator
from tests.paths import FREESWITCH_CAPTURES

CAPTURE_DIALPLAN = FREESWITCH_CAPTURES / "conf" / "default.xml"


def make_sim(**kw: object) -> FsSimulator:
    cfg = FsSimConfig(dialplan_paths=[CAPTURE_DIALPLAN], port=0, time_scale=0.05, heartbeat=0.3)
    for k, v in kw.items():
        setattr(cfg, k, v)
    return FsSimulator(cfg)


@pytest.fixture
async def fs() -> AsyncIterator[FsSimulator]:
    sim = make_sim()
    await sim.start()
    yield sim
    await sim.stop()
