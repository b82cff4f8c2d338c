"""Errors raised while loading or evaluating a dialplan."""

from __future__ import annotations


class DialplanError(Exception):
    """Bad dialplan input. ``file`` and ``line`` point at the offending line when known."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None) -> None:
        self.message = message
        self.file = file
        self.line = line
        where = f"{file}:{line}: " if file and line else (f"{file}: " if file else "")
        super().__init__(where + message)


class ExpressionError(DialplanError):
    """A ``$[...]`` expression that cannot be evaluated (syntax error, division by zero)."""
