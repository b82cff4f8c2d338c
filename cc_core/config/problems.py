"""Problems found in config files, and the error that carries them."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Problem:
    """One finding, located in a file; ``line`` and ``col`` are 1-based, None when unknown."""

    file: str
    line: int | None
    col: int | None
    field: str
    message: str
    severity: Severity = Severity.ERROR

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.col is not None:
                where += f":{self.col}"
        text = self.message if self.is_error else f"warning: {self.message}"
        if self.field:
            return f"{where}: {self.field}: {text}"
        return f"{where}: {text}"


class ConfigError(Exception):
    """Raised by ``load_configs`` when at least one error was found; carries every problem."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: list[Problem] = sorted_problems(problems)
        errors = [p for p in self.problems if p.is_error]
        lines = "\n".join(str(p) for p in errors)
        super().__init__(f"{len(errors)} config error(s):\n{lines}")

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]


def sorted_problems(problems: Iterable[Problem]) -> list[Problem]:
    """File order, then position; identical findings reported once."""
    unique = dict.fromkeys(problems)
    return sorted(unique, key=lambda p: (p.file, p.line or 0, p.col or 0, p.field, p.message))


def field_path(loc: Sequence[str | int]) -> str:
    """``("agents", 3, "skills", "billing")`` -> ``agents[3].skills.billing``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def did_you_mean(word: object, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when a close candidate exists, else an empty string."""
    if not isinstance(word, str):
        return ""
    # Compare case-insensitively so 'info' finds 'INFO'.
    by_lower = {c.lower(): c for c in candidates}
    close = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    return f" (did you mean '{by_lower[close[0]]}'?)" if close else ""


def quoted_list(values: Iterable[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)
