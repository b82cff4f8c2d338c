"""Process-level settings of a long-running service."""

from __future__ import annotations

import gc


def settle_heap() -> None:
    """Once a service has started: what exists now (imports, configs, the engine and its
    agents) lives as long as the process. Frozen out of the collector's sight, the full
    collections that follow walk only what came later; each one walked it all, and one of
    them stopped the ACD's event loop for about 100 ms at start-up size."""
    gc.collect()
    gc.freeze()
