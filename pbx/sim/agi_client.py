"""Runs the AGI() application through the FastAGI client in pbx.sim.agi, with the channel
side (variables, media, digits) served by the simulator and AGIExecStart/End on AMI."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from pbx.sim import agi
from pbx.sim.ami import events as ev
from pbx.sim.pbx import Interrupted

if TYPE_CHECKING:
    from pbx.sim.channel import Channel
    from pbx.sim.pbx import Pbx

log = logging.getLogger(__name__)

DEFAULT_DIGIT_TIMEOUT_MS = 5000


class SimAgiChannel:
    """pbx.sim.agi.AgiChannel over a simulator channel."""

    def __init__(self, pbx: Pbx, chan: Channel) -> None:
        self._pbx = pbx
        self._chan = chan

    name = property(lambda self: self._chan.name)
    uniqueid = property(lambda self: self._chan.uniqueid)
    language = property(lambda self: self._chan.language)
    caller_num = property(lambda self: self._chan.caller_num)
    caller_name = property(lambda self: self._chan.caller_name)
    dnid = property(lambda self: self._chan.dnid)
    rdnis = property(lambda self: "")
    context = property(lambda self: self._chan.context)
    exten = property(lambda self: self._chan.exten)
    priority = property(lambda self: self._chan.priority)
    accountcode = property(lambda self: self._chan.accountcode)
    state = property(lambda self: int(self._chan.state))

    @property
    def is_hung_up(self) -> bool:
        c = self._chan
        return c.hung_up or c.soft_hangup or c.hangup_queued

    async def wait_hangup(self) -> None:
        await self._chan.hangup_flag.wait()

    async def answer(self) -> None:
        self._pbx.answer(self._chan)

    async def _digit(self, seconds: float | None) -> str:
        """Next key pressed within `seconds` (simulated), '' on timeout."""
        get = asyncio.ensure_future(self._chan.dtmf.get())
        hang = asyncio.ensure_future(self._chan.hangup_flag.wait())
        try:
            done, _ = await asyncio.wait(
                {get, hang},
                timeout=None if seconds is None else seconds * self._pbx.time_scale,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            hang.cancel()
            if not get.done():
                get.cancel()
        if get in done:
            return get.result()
        if hang in done:
            raise agi.ChannelHungUp()
        return ""

    async def _play(self, files: str, escape: str) -> str:
        names = [f for f in files.split("&") if f]
        # Every file is opened before anything plays: a missing one fails the command.
        lengths = [self._pbx.sounds.seconds(name) for name in names]
        for seconds in lengths:
            end = asyncio.get_running_loop().time() + seconds * self._pbx.time_scale
            while True:
                left = (end - asyncio.get_running_loop().time()) / self._pbx.time_scale
                if left <= 0:
                    break
                digit = await self._digit(left)
                if digit and digit in escape:
                    return digit
        return ""

    async def stream_file(self, name: str, escape_digits: str, offset: int) -> agi.Playback:
        seconds = self._pbx.sounds.seconds(name)
        digit = await self._play(name, escape_digits)
        return agi.Playback(digit, int(8000 * seconds))

    async def get_data(self, prompt: str, timeout_ms: int, max_digits: int) -> agi.Digits:
        collected = await self._play(prompt, "0123456789*#ABCD")
        wait = (timeout_ms or DEFAULT_DIGIT_TIMEOUT_MS) / 1000.0
        while True:
            if collected.endswith("#"):
                return agi.Digits(collected[:-1], False)
            if max_digits and len(collected) >= max_digits:
                return agi.Digits(collected, False)
            digit = await self._digit(wait)
            if not digit:
                return agi.Digits(collected, True)
            collected += digit

    async def wait_for_digit(self, timeout_ms: int) -> str:
        return await self._digit(None if timeout_ms < 0 else timeout_ms / 1000.0)

    def set_variable(self, name: str, value: str) -> None:
        self._pbx.set_var(self._chan, name, value)

    def get_variable(self, name: str) -> str | None:
        if name.endswith(")") and "(" in name:
            func, _, args = name[:-1].partition("(")
            return self._pbx.call_function(self._chan, func, args)
        return self._pbx.get_var(self._chan, name)

    def substitute(self, text: str) -> str:
        return self._pbx.expand(self._chan, text)

    async def exec(self, app: str, args: str) -> int | None:
        application = self._pbx.apps.get(app.lower())
        if application is None:
            return None
        chan = self._chan
        saved = chan.appl, chan.data
        chan.appl, chan.data = application.name, args
        self._pbx.publish(chan)
        try:
            outcome = await application.run(self._pbx, chan, args)
        except Interrupted:
            return -1
        finally:
            chan.appl, chan.data = saved
            if not chan.hung_up:
                self._pbx.publish(chan)
        return -1 if outcome == "hangup" else 0

    async def hangup(self) -> None:
        self._pbx.soft_hangup(self._chan, 16)

    def verbose(self, message: str, level: int) -> None:
        log.info("AGI %s: %s", self._chan.name, message)


async def run_agi(pbx: Pbx, chan: Channel, url: str, args: list[str]) -> str:
    """Run a FastAGI session for `chan`; AGISTATUS is set on the channel by the client."""

    def start(command_id: int, command: str) -> None:
        if chan.snapshot is not None:
            pbx.emit(ev.agi_exec_start(chan.snapshot, command_id, command))

    def end(command_id: int, command: str, code: int, result: str) -> None:
        if chan.snapshot is not None:
            pbx.emit(ev.agi_exec_end(chan.snapshot, command_id, command, code, result))

    return await agi.run_agi(
        SimAgiChannel(pbx, chan), url, args, on_exec_start=start, on_exec_end=end
    )
