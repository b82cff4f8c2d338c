"""ChanSpy(): listen, whisper or barge on a channel (the AMI side; audio: pbx.sim.media)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pbx.sim import media
from pbx.sim.ami import events as ev
from pbx.sim.apps import Outcome, split_args
from pbx.sim.channel import Channel

if TYPE_CHECKING:
    from pbx.sim.pbx import Pbx


async def app_chanspy(pbx: Pbx, chan: Channel, args: str) -> Outcome:
    parts = split_args(args)
    prefix = parts[0] if parts else ""
    options = parts[1] if len(parts) > 1 else ""
    # Options q (quiet), w (whisper), B (barge) only change audio; o (only the spied
    # channel's own audio) picks what pbx.sim.media streams; E ends on the spyee's hang-up.
    pbx.answer(chan)
    while True:
        targets = [c for c in pbx.find_prefix(prefix) if c is not chan] if prefix else []
        if not targets:
            await pbx.wait(chan, 1.0)
            continue
        spyee = targets[0]
        spyee.spied_by.add(chan)
        media.spy_started(pbx, chan, spyee, options)
        pbx.emit(
            ev.chanspy(
                True, chan.snapshot or pbx.publish(chan), spyee.snapshot or pbx.publish(spyee)
            )
        )
        try:
            while not spyee.hung_up:
                await pbx.wait(chan, None)
        finally:
            spyee.spied_by.discard(chan)
            media.spy_stopped(pbx, chan)
            if chan.snapshot is not None and spyee.snapshot is not None:
                pbx.emit(ev.chanspy(False, chan.snapshot, spyee.snapshot))
        if "E" in options:
            return None
