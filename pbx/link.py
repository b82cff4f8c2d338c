"""What every link-based adapter (AMI, event socket) shares: waiting for its first resync."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol

from pbx.port import NotConnected


class LinkStatus(Protocol):
    """The reconnecting link as the adapter's start-up sees it."""

    @property
    def refused(self) -> Exception | None: ...

    @property
    def last_error(self) -> Exception | None: ...


async def wait_for_first_sync(
    first_sync: asyncio.Future[None],
    link: LinkStatus,
    *,
    seconds: float,
    close: Callable[[], Awaitable[None]],
    session: str,
) -> None:
    """Return once the first resync is done. A refused login closes the adapter and raises the
    link's error (retrying cannot help); no session within ``seconds`` raises NotConnected while
    reconnecting goes on in the background. ``session`` names it, e.g. "AMI session with h:p"."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not first_sync.done():
        if link.refused is not None:
            error = link.refused
            await close()
            raise error
        if loop.time() >= deadline:
            raise NotConnected(f"no {session} yet: {link.last_error or 'no answer'}")
        await asyncio.wait({first_sync}, timeout=0.05)
