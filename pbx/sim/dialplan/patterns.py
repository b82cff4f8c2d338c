"""Extension names and patterns as Asterisk reads, matches and orders them.

A name starting with ``_`` is a pattern: ``X`` (0-9), ``Z`` (1-9), ``N`` (2-9), ``[...]`` (a set
with ranges), ``.`` (one or more of anything), ``!`` (zero or more); any other character stands
for itself. ``-`` is decoration and ignored, in the pattern and in the dialed number alike.

Order follows Asterisk's ``ext_cmp``: literal names first, then patterns position by position,
the position allowing fewer characters first (ties: the set starting with the lower character,
then the set holding lower characters), ``.`` after any set, ``!`` after ``.``, and a pattern
that has ended after one that goes on.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from pbx.sim.dialplan.errors import DialplanError

_DIGITS = "0123456789"
_NAMED_SETS = {"X": _DIGITS, "Z": _DIGITS[1:], "N": _DIGITS[2:]}

# Weights from ext_cmp_pattern_pos(): smaller sorts first.
_W_WILD_ONE = 0x18000  # '.'
_W_WILD_ZERO = 0x28000  # '!'
_W_END = 0x30000
_EMPTY_BITMAP = (255,) * 32


@dataclass(frozen=True, slots=True)
class _Pos:
    chars: frozenset[str] | None  # None for '.' and '!'
    wild: str  # "", "." or "!"
    weight: int
    bitmap_key: tuple[int, ...]


def _bitmap_key(chars: frozenset[str]) -> tuple[int, ...]:
    """Asterisk fills a 256-bit map, most significant bit first, and compares two maps with
    memcmp(right, left): the larger map, i.e. the one holding lower characters, sorts first.
    The key stores each byte inverted so that a smaller key sorts first."""
    bitmap = [0] * 32
    for ch in chars:
        code = ord(ch)
        if code < 256:
            bitmap[code // 8] |= 1 << (7 - code % 8)
    return tuple(255 - b for b in bitmap)


def _compile(body: str, source: str) -> tuple[_Pos, ...]:
    positions: list[_Pos] = []
    i = 0
    while i < len(body):
        ch = body[i]
        i += 1
        if ch == "-":
            continue
        up = ch.upper()
        if up in _NAMED_SETS:
            chars = frozenset(_NAMED_SETS[up])
            weight = (len(chars) << 8) | ord(_NAMED_SETS[up][0])
            positions.append(_Pos(chars, "", weight, _bitmap_key(chars)))
        elif ch == ".":
            positions.append(_Pos(None, ".", _W_WILD_ONE, _EMPTY_BITMAP))
        elif ch == "!":
            positions.append(_Pos(None, "!", _W_WILD_ZERO, _EMPTY_BITMAP))
        elif ch == "[":
            end = body.find("]", i)
            if end < 0:
                raise DialplanError(f"pattern {source!r}: '[' without a closing ']'")
            inner = body[i:end]
            i = end + 1
            members: set[str] = set()
            j = 0
            while j < len(inner):
                first = inner[j]
                if j + 2 < len(inner) and inner[j + 1] == "-":
                    last = inner[j + 2]
                    if ord(last) < ord(first):
                        raise DialplanError(f"pattern {source!r}: empty range {first}-{last}")
                    members.update(chr(c) for c in range(ord(first), ord(last) + 1))
                    j += 3
                else:
                    members.add(first)
                    j += 1
            if not members:
                raise DialplanError(f"pattern {source!r}: empty character set []")
            chars = frozenset(members)
            weight = (len(chars) << 8) | min(ord(c) for c in chars)
            positions.append(_Pos(chars, "", weight, _bitmap_key(chars)))
        else:
            chars = frozenset(ch)
            positions.append(_Pos(chars, "", 0x100 | ord(ch), _bitmap_key(chars)))
    return tuple(positions)


def strip_fluff(text: str) -> str:
    """The name without ``-`` decoration, as Asterisk compares names."""
    return text.replace("-", "")


@dataclass(frozen=True)
class ExtensionName:
    """An extension as written in the dialplan (``100``, ``s``, ``_NXX``, ``_[a-z].``)."""

    text: str

    def __post_init__(self) -> None:
        if not self.text or self.text == "_":
            raise DialplanError(f"empty extension name {self.text!r}")
        if self.is_pattern:
            _ = self._positions  # validate eagerly so errors surface at load time

    @property
    def is_pattern(self) -> bool:
        return self.text.startswith("_")

    @cached_property
    def _positions(self) -> tuple[_Pos, ...]:
        return _compile(self.text[1:], self.text)

    @cached_property
    def identity(self) -> str:
        """Two names with the same identity are the same extension (``_x.`` is ``_X.``)."""
        if not self.is_pattern:
            return strip_fluff(self.text)
        parts = []
        for pos in self._positions:
            if pos.wild:
                parts.append(pos.wild)
            else:
                assert pos.chars is not None
                parts.append("[" + "".join(sorted(pos.chars)) + "]")
        return "_" + "".join(parts)

    @cached_property
    def sort_key(self) -> tuple[object, ...]:
        if not self.is_pattern:
            return (0, strip_fluff(self.text))
        key = tuple((p.weight, p.bitmap_key) for p in self._positions)
        return (1, (*key, (_W_END, _EMPTY_BITMAP)))

    def matches(self, exten: str) -> bool:
        """True when a call to ``exten`` runs this extension (``E_MATCH`` in Asterisk)."""
        if not self.is_pattern:
            return strip_fluff(exten) == self.identity
        data = strip_fluff(exten)
        i = 0
        for pos in self._positions:
            if pos.wild == ".":
                return i < len(data)
            if pos.wild == "!":
                return True
            if i >= len(data):
                return False
            assert pos.chars is not None
            if data[i] not in pos.chars:
                return False
            i += 1
        return i == len(data)

    def could_match_more(self, exten: str) -> bool:
        """True when ``exten`` is a proper prefix of something this extension matches
        (``E_MATCHMORE``): more digits could still reach it."""
        data = strip_fluff(exten)
        if not self.is_pattern:
            return self.identity.startswith(data) and len(self.identity) > len(data)
        for i, pos in enumerate(self._positions):
            if pos.wild or i >= len(data):
                return True
            assert pos.chars is not None
            if data[i] not in pos.chars:
                return False
        return False


def sort_names(names: list[ExtensionName]) -> list[ExtensionName]:
    return sorted(names, key=lambda n: n.sort_key)
