"""``{attr}`` placeholders in prompt texts, URLs and values."""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping


def render(template: str, attributes: Mapping[str, str],
           quote: Callable[[str], str] | None = None) -> str:
    """Fill placeholders; a missing attribute becomes "" (the caller may not have said it)."""
    out = []
    for literal, name, _, _ in string.Formatter().parse(template):
        out.append(literal)
        if name is not None:
            value = attributes.get(name, "")
            out.append(quote(value) if quote else value)
    return "".join(out)


def split(template: str) -> list[tuple[str, str | None]]:
    """``"Hi {name}!"`` -> ``[("Hi ", None), ("", "name"), ("!", None)]`` without empties:
    the text pieces and placeholders in order, as a prompt is spoken."""
    parts: list[tuple[str, str | None]] = []
    for literal, name, _, _ in string.Formatter().parse(template):
        if literal:
            parts.append((literal, None))
        if name is not None:
            parts.append(("", name))
    return parts
