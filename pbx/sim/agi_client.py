"""Bridge from the AGI() application to the FastAGI client in pbx.sim.agi."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pbx.sim.channel import Channel
    from pbx.sim.pbx import Pbx

log = logging.getLogger(__name__)


async def run_agi(pbx: Pbx, chan: Channel, url: str, args: list[str]) -> str:
    """Run a FastAGI session for `chan`; returns the AGISTATUS value."""
    try:
        from pbx.sim import agi  # noqa: F401
    except ImportError:
        log.warning("AGI(%s) on %s: no FastAGI client available", url, chan.name)
        return "FAILURE"
    raise NotImplementedError
