"""Active/standby election over a lease: the loop described in docs/live-state.md.

A node is active only while it holds the lease AND its own monotonic clock says the last
successful acquire or renew, counted from the moment it was *sent*, is younger than the ttl less
a margin. So a node that cannot reach Redis stops acting as active on time, before another node
can take over, without waiting for any reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import Awaitable, Callable

from cc_core.logs import log_event
from cc_core.store.live.port import Leases, LiveStateError, check_id, check_ttl

log = logging.getLogger(__name__)

OnChange = Callable[[bool, int | None], Awaitable[None] | None]


class LeaseKeeper:
    """Keeps trying to hold lease `name` for `holder`; ask `active` before acting as leader."""

    def __init__(
        self,
        live: Leases,
        name: str,
        holder: str,
        ttl: float,
        *,
        margin: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._live = live
        self.name = check_id("lease name", name)
        self.holder = check_id("holder", holder)
        self.ttl = check_ttl(ttl)
        # Covers clock-rate differences between this node and the lease's clock.
        self.margin = self.ttl / 10 if margin is None else margin
        if not 0 <= self.margin < self.ttl:
            raise ValueError(f"margin: got {margin!r}, expected 0 <= margin < ttl ({self.ttl})")
        self._monotonic = monotonic
        self._deadline = float("-inf")
        self._token: int | None = None
        self._granted: int | None = None  # the newest token granted, kept after losing it
        self._was_active = False
        self._task: asyncio.Task[None] | None = None
        self._woken = asyncio.Event()  # set by `lost`: the loop reports at once

    @property
    def active(self) -> bool:
        return self._token is not None and self._monotonic() < self._deadline

    @property
    def token(self) -> int | None:
        """The fencing token while active, else None."""
        return self._token if self.active else None

    @property
    def last_token(self) -> int | None:
        """The newest token this keeper was granted, also past its deadline and after losing
        the lease (None: never granted one). What the store's fenced writes of a node carry
        while it drains what it recorded as active: the store refuses them only once a newer
        token has written there."""
        return self._granted

    def lost(self, token: int) -> None:
        """The live state refused `token` (another node holds the lease): stop being active
        now rather than at this node's own deadline, which a pause may have left behind."""
        if self._token != token:
            return  # already re-acquired under a newer token, or already lost
        self._token = None
        self._deadline = float("-inf")
        self._settle()
        self._woken.set()

    async def step(self) -> bool:
        """One round: renew while active, else try to acquire. Never raises on backend trouble."""
        sent = self._monotonic()
        try:
            if self.active:
                lease = await self._live.renew_lease(self.name, self.holder, self.ttl)
            else:
                # Acquire also re-takes a lease this node still holds after its own deadline.
                lease = await self._live.acquire_lease(self.name, self.holder, self.ttl)
        except LiveStateError as exc:
            # Keep the deadline: being active ends by the clock, not by this error.
            log_event(
                log, "lease.unreachable", logging.WARNING,
                lease=self.name, holder=self.holder, error=str(exc),
            )
            return self._settle()
        if lease is None:
            self._token = None
            self._deadline = float("-inf")
        else:
            self._token = self._granted = lease.token
            self._deadline = sent + self.ttl - self.margin
        return self._settle()

    def _settle(self) -> bool:
        now = self.active
        if now != self._was_active:
            log_event(
                log, "lease.gained" if now else "lease.lost", logging.WARNING,
                lease=self.name, holder=self.holder, token=self._token,
            )
        self._was_active = now
        return now

    async def run(self, on_change: OnChange | None = None, interval: float | None = None) -> None:
        """Step every `interval` (ttl/3) until cancelled; report each change of `active`.

        It also wakes at the deadline, so losing the lease is reported on time even while the
        backend does not answer.
        """
        period = self.ttl / 3 if interval is None else interval
        reported = False
        next_step = self._monotonic()
        while True:
            if self._monotonic() >= next_step:
                await self.step()
                next_step = self._monotonic() + period
            now_active = self.active
            if now_active != reported:
                reported = now_active
                if on_change is not None:
                    result = on_change(now_active, self.token)
                    if inspect.isawaitable(result):
                        await result
            wake = min(next_step, self._deadline) if now_active else next_step
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), max(0.0, wake - self._monotonic()))
            self._woken.clear()

    def start(self, on_change: OnChange | None = None) -> asyncio.Task[None]:
        self._task = asyncio.create_task(self.run(on_change), name=f"lease-keeper:{self.name}")
        return self._task

    async def stop(self, release: bool = True) -> None:
        """Stop the loop; with `release`, hand the lease over at once instead of on expiry."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if release and self._token is not None:
            with contextlib.suppress(LiveStateError):
                await self._live.release_lease(self.name, self.holder)
        self._token = None
        self._deadline = float("-inf")
        self._settle()
