"""Hold announcements: each waiting caller's queue position and expected wait, set on its call
as ``CC_POSITION`` and ``CC_EWT`` (seconds) for the dialplan's ``[cc-hold]`` to speak.

Every ``refresh_seconds`` one serial job reads the engine's standings (`Engine.standings`) and,
for every call held in the PBX (stage ``queued``), works out its position and expected wait
(`cc_core.routing.wait_estimate`). A variable is sent only when what the caller would hear
changes: the position, or the wait in whole minutes rounded up, each as 1-99 or "more" (the
dialplan says nothing above 99, and nothing for a variable not set: a call far back in a
long line gets nothing, and costs one look-up a sweep, until it moves into range). The
commands go out without waiting (`AcdService.command`); a call offered,
connected or gone gets nothing more, and one back on hold starts afresh (`CallRecord.move`).

The average handle time behind the estimate is this node's: talk plus wrap-up of the calls it
served (`call_handled`), per queue, acd.yaml's ``default_handle_seconds`` until there are any.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import TYPE_CHECKING

from cc_core.acd.lifecycle import ANNOUNCED_UNKNOWN, CallRecord, Stage
from cc_core.logs import log_event
from cc_core.routing.wait_estimate import HandleTimes, expected_wait, spoken_minutes
from pbx.port import NoSuchCall, PbxError

if TYPE_CHECKING:
    from cc_core.acd.service import AcdService

log = logging.getLogger(__name__)

POSITION_VARIABLE = "CC_POSITION"
WAIT_VARIABLE = "CC_EWT"
# The dialplan speaks 1-99 (the digits/ prompts); every larger number is silence alike.
SPOKEN_MAX = 99
# Position and minutes both beyond what is spoken: what a channel with nothing set says too.
SILENT = (SPOKEN_MAX + 1, SPOKEN_MAX + 1)

_announcers: weakref.WeakKeyDictionary[AcdService, Announcer] = weakref.WeakKeyDictionary()


def _as_spoken(n: int) -> int:
    return n if n <= SPOKEN_MAX else SPOKEN_MAX + 1


def last_spoken(handle_seconds: float, agents: int) -> int:
    """The last position whose place or wait is spoken: behind it every caller hears
    nothing, however far back (the wait only grows with the position)."""

    def spoken(position: int) -> bool:
        wait = expected_wait(position, handle_seconds, agents)
        return position <= SPOKEN_MAX or spoken_minutes(wait) <= SPOKEN_MAX

    # About where the wait passes 99 minutes; then the exact edge, a step or two away.
    position = max(SPOKEN_MAX, int(SPOKEN_MAX * 60 * max(1, agents) / handle_seconds))
    while spoken(position + 1):
        position += 1
    while position > SPOKEN_MAX and not spoken(position):
        position -= 1
    return position


class Announcer:
    """The ACD's periodic position / expected-wait refresh (one per serving node)."""

    def __init__(
        self, acd: AcdService, *, refresh_seconds: float, default_handle_seconds: float
    ) -> None:
        if refresh_seconds <= 0:
            raise ValueError(f"refresh_seconds must be positive, got {refresh_seconds!r}")
        self.acd = acd
        self.refresh_seconds = refresh_seconds
        self.handle_times = HandleTimes(default_handle_seconds)
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False
        self._failing = False  # a Setvar failed since the last that went through
        _announcers[acd] = self

    def start(self) -> None:
        self._arm()

    def close(self) -> None:
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if _announcers.get(self.acd) is self:
            del _announcers[self.acd]

    def _arm(self) -> None:
        # Re-armed after each sweep has run: a busy node never piles sweeps up.
        if not self._closed and self._timer is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self.refresh_seconds, self._due)

    def _due(self) -> None:
        self._timer = None
        if not self._closed:
            self.acd.submit(self.sweep)

    async def sweep(self) -> int:
        """One refresh, as a serial job; returns how many calls were sent new values."""
        try:
            return self._sweep()
        finally:
            self._arm()

    def _sweep(self) -> int:
        from cc_core.acd.callback import is_callback  # here: callback imports wrapup, us

        acd = self.acd
        calls, hung_up = acd.calls, acd.hung_up
        sent = 0
        for standing in acd.engine.standings().values():
            if not standing.waiting:
                continue
            handle = self.handle_times.average(standing.queue_id)
            agents = standing.agents
            silent_from = last_spoken(handle, agents) + 1
            for position, interaction_id in enumerate(standing.waiting, 1):
                record = calls.get(interaction_id)
                if record is None:
                    continue
                last = record.announced or SILENT  # nothing set is silence too
                if position >= silent_from and last == SILENT:
                    continue  # far back in a long line: the usual case, kept cheap
                wait = expected_wait(position, handle, agents)
                said = (_as_spoken(position), _as_spoken(spoken_minutes(wait)))
                if said == last:
                    continue
                if (
                    record.stage is not Stage.QUEUED
                    or record.call_id in hung_up
                    or is_callback(record.call_id)  # nobody on hold: the customer is called
                ):
                    continue
                updates = []
                if said[0] != last[0]:
                    updates.append((POSITION_VARIABLE, str(position)))
                if said[1] != last[1]:
                    updates.append((WAIT_VARIABLE, str(wait)))
                record.announced = said
                acd.command(self._send(record, said, updates))
                sent += 1
        return sent

    async def _send(
        self, record: CallRecord, said: tuple[int, int], updates: list[tuple[str, str]]
    ) -> None:
        for name, value in updates:
            try:
                await self.acd.port.set_variable(record.call_id, name, value)
            except NoSuchCall:
                # Hung up or moved on meanwhile: its own event tells the rest.
                log.debug("announcement for gone call %s not set", record.call_id)
                return
            except PbxError as exc:
                if record.announced == said:
                    record.announced = ANNOUNCED_UNKNOWN  # both sent again by the next sweep
                level = logging.DEBUG if self._failing else logging.WARNING
                self._failing = True
                log_event(log, "announce.set_failed", level, call=record.call_id, error=str(exc))
                return
        self._failing = False


def call_handled(acd: AcdService, record: CallRecord, at: float) -> None:
    """A call this node connected is over, wrap-up included: its handle time joins its
    queue's average."""
    announcer = _announcers.get(acd)
    if announcer is not None and record.connected_at is not None:
        announcer.handle_times.observe(record.queue, at - record.connected_at)


def announcer_of(acd: AcdService) -> Announcer | None:
    return _announcers.get(acd)
