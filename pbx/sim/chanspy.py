"""ChanSpy(): listen, whisper or barge on a channel (only the AMI side: there is no audio)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pbx.sim.ami import events as ev
from pbx.sim.apps import Outcome, split_args
from pbx.sim.channel import Channel

if TYPE_CHECKING:
    from pbx.sim.pbx import Pbx


async def app_chanspy(pbx: Pbx, chan: Channel, args: str) -> Outcome:
    parts = split_args(args)
    prefix = parts[0] if parts else ""
    # Options q (quiet), w (whisper), B (barge) only change audio, which the simulator has not.
    pbx.answer(chan)
    while True:
        targets = [c for c in pbx.find_prefix(prefix) if c is not chan] if prefix else []
        if not targets:
            await pbx.wait(chan, 1.0)
            continue
        spyee = targets[0]
        spyee.spied_by.add(chan)
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
            if chan.snapshot is not None and spyee.snapshot is not None:
                pbx.emit(ev.chanspy(False, chan.snapshot, spyee.snapshot))
