"""Named checks a ``collect`` node can apply to what the caller keyed in."""

from __future__ import annotations

from collections.abc import Callable


def luhn(digits: str) -> bool:
    """The Luhn (mod 10) check digit used by card and many account numbers."""
    if len(digits) < 2 or not digits.isdigit():
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


CHECKS: dict[str, Callable[[str], bool]] = {"luhn": luhn}
