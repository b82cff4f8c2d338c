"""Where the waiting interactions of a queue stand: what hold announcements are made of."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class QueueStanding:
    """One queue as the engine would serve it right now.

    ``waiting``: the ids of its waiting interactions in the order the engine takes them (score
    with priority and aging, then arrival, then arrival order); position = index + 1.
    Eligibility is ignored: an interaction needing a rarer skill still counts those ahead of
    it. ``agents``: agents serving the queue who are logged in, in any state.
    """

    queue_id: str
    waiting: tuple[str, ...]
    agents: int

    def positions(self) -> dict[str, int]:
        """Interaction id -> position (1 = next)."""
        return {interaction_id: n for n, interaction_id in enumerate(self.waiting, 1)}
