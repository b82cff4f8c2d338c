from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pbx.sim.runtime import SimConfig, Simulator
from tests.sim.captures import CAPTURES

CAPTURE_DIALPLAN = CAPTURES / "conf" / "extensions.conf"


def make_config(**kw: object) -> SimConfig:
    cfg = SimConfig(dialplan_path=Path(CAPTURE_DIALPLAN), auth_fail_delay=0.05)
    for k, v in kw.items():
        setattr(cfg, k, v)
    return cfg


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    s = Simulator(make_config(time_scale=0.01))
    await s.start()
    yield s
    await s.stop()
