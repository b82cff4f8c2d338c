"""IVR steps into the interaction's event log, through the ACD's journal, as they happen."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from cc_core.ivr import IvrEvent

if TYPE_CHECKING:
    from cc_core.acd.service import AcdService


def step_sink(acd: AcdService, interaction_id: str, queue: str | None,
              agent_id: str | None = None) -> Callable[[IvrEvent], None]:
    """A sink for the interpreter: each step as ``ivr_<kind>`` (``ivr_node``, ``ivr_input``,
    ``ivr_outcome``...) with the step's details, the script, its sequence number and node."""

    def sink(event: IvrEvent) -> None:
        acd.journal.fact(
            f"ivr_{event.kind}",
            {**event.detail, "script": event.script, "seq": event.seq, "node": event.node},
            interaction_id=interaction_id, queue=queue, agent_id=agent_id, at=acd.now(),
        )

    return sink
