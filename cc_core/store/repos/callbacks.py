"""Open callback requests: the interactions a restarted ACD takes back as callbacks.

A request has no PBX call while it waits; its ``pbx_call_id`` is a virtual id with a fixed
prefix (``callback-``), which finds the open ones without reading every open interaction's
attributes (JSON, queried differently on each backend).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cc_core.store.errors import InvalidValue
from cc_core.store.models import Interaction, InteractionState

_OPEN_STATES = [s.value for s in InteractionState if not s.is_final]


class OpenCallbacks:
    """Read-only: callback requests not yet ended, oldest first."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def list(self, call_prefix: str) -> list[Interaction]:
        """Open interactions whose PBX call id starts with ``call_prefix``."""
        if not call_prefix or any(c in call_prefix for c in "%_\\"):
            # LIKE wildcards would match other calls' ids.
            raise InvalidValue("call_prefix", call_prefix, "a non-empty prefix without % _ \\")
        query = (
            select(Interaction)
            .where(
                Interaction.state.in_(_OPEN_STATES),
                Interaction.pbx_call_id.like(f"{call_prefix}%"),
            )
            .order_by(Interaction.created_at, Interaction.id)
        )
        return list(await self.session.scalars(query))
