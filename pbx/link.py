"""What every link-based adapter (AMI, event socket) shares: the life cycle around its one
reconnecting link, the event fan-out, and the lost / restored / resynced publications.

:class:`LinkedPort` keeps that part; each adapter keeps only its protocol (its link's wire,
its event mapping, its resync and its commands).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from pbx.port import (
    ConnectionLost,
    ConnectionRestored,
    EventHub,
    EventSubscription,
    LiveCall,
    NotConnected,
    PbxPort,
    Resynced,
    check_timeout,
)


class LinkSettings(Protocol):
    """The settings every link-based adapter has."""

    @property
    def host(self) -> str: ...

    @property
    def port(self) -> int: ...

    @property
    def connect_timeout(self) -> float: ...

    @property
    def command_timeout(self) -> float: ...


class Link(Protocol):
    """The reconnecting link as the shared part of the adapter sees it."""

    @property
    def connected(self) -> bool: ...

    @property
    def refused(self) -> Exception | None: ...

    @property
    def last_error(self) -> object: ...

    def start(self) -> None: ...

    async def close(self) -> None: ...

    def drop(self, reason: str) -> None: ...


S = TypeVar("S", bound=LinkSettings)
L = TypeVar("L", bound=Link)


class LinkedPort(PbxPort, Generic[S, L]):
    """A :class:`PbxPort` over one supervised, reconnecting link.

    The adapter builds its link (with its own event, up and down callbacks) and hands it here.
    From its callbacks it calls :meth:`_link_down` when the link is lost, :meth:`_link_up`
    after every (re)connect before resyncing, and :meth:`_resynced` when a resync is done;
    :meth:`_spawn` runs a task that :meth:`close` cancels.
    """

    # Names the session in NotConnected's message, e.g. "AMI session".
    session_kind: ClassVar[str] = "session"

    def __init__(self, settings: S, link: L) -> None:
        self.settings = settings
        self._link = link
        self._hub = EventHub()
        self._lost = False
        self._first_sync: asyncio.Future[None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        self.resyncs = 0

    # Life cycle ---------------------------------------------------------------------------

    async def start(self, *, wait: bool = True) -> None:
        """Connect and keep reconnecting. With ``wait``, return once the first resync is done;
        raise the link's error (:class:`AuthenticationFailed`) if the PBX refuses us (retrying
        cannot help; the adapter is closed), :class:`NotConnected` if the PBX cannot be
        reached in time (reconnecting then goes on in the background)."""
        loop = asyncio.get_running_loop()
        if self._first_sync is None:
            self._first_sync = loop.create_future()
        self._link.start()
        if not wait:
            return
        first_sync = self._first_sync
        deadline = loop.time() + self.settings.connect_timeout + 2 * self.settings.command_timeout
        while not first_sync.done():
            refused = self._link.refused
            if refused is not None:
                await self.close()
                raise refused
            if loop.time() >= deadline:
                session = f"{self.session_kind} with {self.settings.host}:{self.settings.port}"
                raise NotConnected(f"no {session} yet: {self._link.last_error or 'no answer'}")
            await asyncio.wait({first_sync}, timeout=0.05)

    async def close(self) -> None:
        # Tasks first, so a resync does not fail against the closing link; again after, for
        # any the link's last events started.
        await self._cancel_background()
        await self._link.close()
        await self._cancel_background()
        self._hub.close()

    def events(self) -> EventSubscription:
        return self._hub.subscribe()

    @property
    def connected(self) -> bool:
        return self._link.connected

    def drop_link(self, reason: str = "dropped on request") -> None:
        """Close the link as if it had failed; the adapter reconnects and resyncs."""
        self._link.drop(reason)

    # For the adapter ----------------------------------------------------------------------

    def _timeout(self, timeout_s: float | None) -> float:
        if timeout_s is None:
            return self.settings.command_timeout
        return check_timeout(timeout_s, "timeout_s")

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def _cancel_background(self) -> None:
        tasks = list(self._background)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _link_down(self, reason: str) -> None:
        """The link was lost: commands fail until it is back; subscribers are told."""
        self._lost = True
        self._hub.publish(ConnectionLost(reason=reason))

    def _link_up(self) -> None:
        """The link is (back) up; the resync follows. Not published on the first connect."""
        if self._lost:
            self._lost = False
            self._hub.publish(ConnectionRestored())

    def _resynced(self, calls: tuple[LiveCall, ...]) -> None:
        """A resync is done: publish what is alive and release a waiting :meth:`start`."""
        self.resyncs += 1
        self._hub.publish(Resynced(calls=calls))
        if self._first_sync is not None and not self._first_sync.done():
            self._first_sync.set_result(None)
