"""A caller made of a key list: a :class:`~pbx.port.MediaSession` for dry runs and tests.

Each entry of ``keys`` is what the caller does next: one DTMF key (``0-9 * # A-D``), ``T``
(stays silent until the collection times out), ``H`` (hangs up) or ``L`` (listens to a prompt
that takes no keys to its end: an ``H`` right after one hangs up at the next prompt, not at
this one; without ``L`` the ``H`` would end the call at once). A key pressed while prompts
play interrupts them when the prompts allow it, as on a phone. Once the keys run out the caller
hangs up, so a dry run always ends.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from pbx.port import DTMF_DIGITS, CallerHungUp, CollectEnd, CollectResult, CollectSpec

TIMEOUT = "T"
HANG_UP = "H"
LISTEN = "L"


def parse_keys(text: str) -> list[str]:
    """``"1,2,#"`` or ``"12#"`` or ``"1,T,H"`` -> ``["1", "2", "#"]`` ...; ValueError if odd."""
    keys: list[str] = []
    for item in text.replace(",", " ").split():
        for char in item.upper():
            if char not in DTMF_DIGITS and char not in (TIMEOUT, HANG_UP, LISTEN):
                raise ValueError(f"key {char!r} (expected 0-9 * # A-D, T for silence, H "
                                 "to hang up or L to listen to a prompt)")
            keys.append(char)
    return keys


@dataclass
class ScriptedSession:
    keys: Iterable[str]
    caller_num: str = "+4915112345678"
    called_num: str = "+4930901820"
    call_id: str = "dry-run-1"
    played: list[str] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)
    answered: bool = False
    hung_up: bool = False  # the script hung up
    caller_left: bool = False  # the caller hung up

    def __post_init__(self) -> None:
        self._keys = deque(self.keys)

    def _check(self) -> None:
        if self.caller_left or self.hung_up:
            raise CallerHungUp(self.call_id)

    def _next(self) -> str:
        if not self._keys:
            self.caller_left = True
            raise CallerHungUp(self.call_id)
        key = self._keys.popleft()
        if key == HANG_UP:
            self.caller_left = True
            raise CallerHungUp(self.call_id)
        return key

    async def answer(self) -> None:
        self._check()
        self.answered = True

    async def play(self, prompts: Sequence[str], *, interrupt_digits: str = "") -> str:
        self._check()
        if prompts and not interrupt_digits and self._keys and self._keys[0] == LISTEN:
            self._keys.popleft()
            self.played.extend(prompts)
            return ""
        for prompt in prompts:
            self.played.append(prompt)
            upcoming = self._keys[0] if self._keys else ""
            if upcoming == HANG_UP:
                self._next()
            if upcoming and upcoming in interrupt_digits:
                return self._keys.popleft()
        return ""

    async def play_and_collect(self, prompts: Sequence[str], spec: CollectSpec) -> CollectResult:
        digit = await self.play(prompts, interrupt_digits="0123456789*#ABCD")
        digits = ""
        while True:
            if not digit:
                digit = self._next()
            if digit == TIMEOUT:
                return CollectResult(digits, CollectEnd.TIMEOUT)
            if spec.terminator and digit == spec.terminator:
                return CollectResult(digits, CollectEnd.TERMINATOR)
            digits += digit
            if len(digits) >= spec.max_digits:
                return CollectResult(digits, CollectEnd.MAX_DIGITS)
            digit = ""

    async def get_variable(self, name: str) -> str | None:
        self._check()
        return self.variables.get(name)

    async def set_variable(self, name: str, value: str) -> None:
        self._check()
        self.variables[name] = value

    async def hangup(self) -> None:
        self._check()
        self.hung_up = True

    @property
    def keys_left(self) -> int:
        return len(self._keys)
