"""What the engine needs from a dialplan, kept narrow so any parser can stand behind it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Protocol


class Dialplan(Protocol):
    """A loaded extensions.conf: find the application at a place in the dialplan."""

    def lookup(
        self, context: str, exten: str, priority: int, callerid: str | None = None
    ) -> tuple[str, str] | None:
        """(application name, raw unexpanded arguments) at that priority, or None."""
        ...

    def find_label(self, context: str, exten: str, label: str) -> int | None:
        """Priority number carrying `label`, or None."""
        ...

    def applications(self) -> Iterable[tuple[str, str, int, str]]:
        """Every (context, exten, priority, application) in the file, for load-time checks."""
        ...

    @property
    def globals(self) -> Mapping[str, str]: ...


# expand(text, variable, function) -> text with ${...} and $[...] resolved.
# `variable(name)` and `function(name, args)` give None when unknown.
Expander = Callable[
    [str, Callable[[str], str | None], Callable[[str, str], str | None]],
    str,
]
