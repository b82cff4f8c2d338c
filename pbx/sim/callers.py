"""Callers who react to what they hear: press keys, stay silent or hang up when a given prompt
starts playing for the n-th time in their call.

Timed keys (``traffic.KeyPress``) drift when the machine is busy; a caller keyed to prompts does
not, so tests can walk an IVR path by path, many calls at once: a key pressed as a menu's
first prompt starts interrupts it, a caller who presses nothing lets the collection time out
(the PBX's own timer), and a hang-up lands in the node that plays that prompt.

``CueCaller`` is PBX-neutral; ``AsteriskCues`` feeds it from the simulated Asterisk's
``AGIExecStart`` events (``STREAM FILE`` / ``GET DATA`` / ``EXEC Playback``), and
``FreeswitchCues`` from the simulated FreeSWITCH's ``CHANNEL_EXECUTE`` (``playback``,
``play_and_get_digits``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pbx.sim.channel import Channel
    from pbx.sim.esl.channel import FsChannel
    from pbx.sim.esl.switch import FsSwitch
    from pbx.sim.pbx import Pbx

HANGUP_NORMAL = 16


@dataclass(frozen=True, slots=True)
class Cue:
    """On the ``occurrence``-th start of ``sound`` (1 = the first): press ``keys`` (may be
    empty: stay silent), then hang up if ``hang_up``."""

    sound: str
    occurrence: int = 1
    keys: str = ""
    hang_up: bool = False


@dataclass(slots=True)
class CueCaller:
    cues: tuple[Cue, ...]
    press: Callable[[str], None]  # sends the keys, in order
    hang_up: Callable[[], None]
    heard: list[str] = field(default_factory=list)
    acted: list[Cue] = field(default_factory=list)
    _counts: dict[str, int] = field(default_factory=dict)
    _todo: dict[tuple[str, int], Cue] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._todo = {(c.sound, c.occurrence): c for c in self.cues}

    def hears(self, sound: str) -> None:
        self.heard.append(sound)
        count = self._counts[sound] = self._counts.get(sound, 0) + 1
        cue = self._todo.pop((sound, count), None)
        if cue is None:
            return
        self.acted.append(cue)
        if cue.keys:
            self.press(cue.keys)
        if cue.hang_up:
            self.hang_up()

    @property
    def pending(self) -> tuple[Cue, ...]:
        """Cues not met (yet)."""
        return tuple(self._todo.values())


_AGI_SOUND = re.compile(r'(?i)^(?:STREAM\s+FILE|GET\s+DATA)\s+("[^"]*"|\S+)')
_AGI_PLAYBACK = re.compile(r'(?i)^EXEC\s+"?Playback"?\s+"?([^"\s,]+)')


class AsteriskCues:
    """Cue callers on the simulated Asterisk: one AMI listener for all of them."""

    def __init__(self, pbx: Pbx) -> None:
        self.pbx = pbx
        self.callers: dict[str, CueCaller] = {}
        self._stop = pbx.listen(self._on_event)

    def attach(self, chan: Channel, cues: Iterable[Cue], key_ms: int = 100) -> CueCaller:
        pbx = self.pbx

        def press(keys: str) -> None:
            # Distinct durations keep the digits in order as they queue up on the channel.
            for i, digit in enumerate(keys):
                pbx.dtmf(chan, digit, ms=key_ms + i)

        caller = CueCaller(tuple(cues), press, lambda: pbx.queue_hangup(chan, HANGUP_NORMAL))
        self.callers[chan.uniqueid] = caller
        return caller

    def close(self) -> None:
        self._stop()

    def _on_event(self, event: Any) -> None:
        if event.name != "AGIExecStart":
            return
        caller = self.callers.get(event.get("Uniqueid") or "")
        if caller is None:
            return
        command = (event.get("Command") or "").strip()
        found = _AGI_SOUND.match(command) or _AGI_PLAYBACK.match(command)
        if found:
            for sound in found.group(1).strip('"').split("&"):
                caller.hears(sound)


class FreeswitchCues:
    """Cue callers on the simulated FreeSWITCH, from its CHANNEL_EXECUTE events."""

    def __init__(self, switch: FsSwitch, extension: str = "wav") -> None:
        self.switch = switch
        self.extension = f".{extension}" if extension else ""
        self.callers: dict[str, CueCaller] = {}
        switch.listeners.append(self._on_event)

    def attach(self, channel: FsChannel, cues: Iterable[Cue], key_ms: int = 100) -> CueCaller:
        switch = self.switch

        def press(keys: str) -> None:
            switch.send_dtmf(channel, keys, key_ms, "INBAND_AUDIO")

        def hang_up() -> None:
            switch.spawn(switch.hangup(channel, "NORMAL_CLEARING"))

        caller = CueCaller(tuple(cues), press, hang_up)
        self.callers[channel.uuid] = caller
        return caller

    def close(self) -> None:
        if self._on_event in self.switch.listeners:
            self.switch.listeners.remove(self._on_event)

    def sound(self, path: str) -> str:
        """``/sounds/ccplane/en/x.wav`` or ``ccplane/en/x.wav`` -> ``ccplane/en/x``."""
        name = path.strip()
        if self.extension and name.endswith(self.extension):
            name = name[: -len(self.extension)]
        return name

    def _on_event(self, event: Any) -> None:
        if event.name != "CHANNEL_EXECUTE":
            return
        caller = self.callers.get(event.get("Unique-ID") or "")
        if caller is None:
            return
        app = event.get("Application") or ""
        data = event.get("Application-Data") or ""
        if app == "playback":
            files = data
        elif app == "play_and_get_digits":
            parts = data.split()
            files = parts[5] if len(parts) > 5 else ""
        else:
            return
        files = files.removeprefix("file_string://")
        for path in filter(None, files.split("!")):
            caller.hears(self.sound(path))
