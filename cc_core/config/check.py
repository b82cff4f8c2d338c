"""``cc-admin check``: print every problem of a config directory, one per line."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from cc_core.config.loader import collect

EXIT_CLEAN = 0
EXIT_ERRORS = 2


def check_directory(directory: Path | str, out: TextIO, *,
                    environ: Mapping[str, str] | None = None) -> int:
    """Print all problems and a summary; 0 when there is no error (warnings allowed), else 2."""
    try:
        found = collect(directory, environ)
    except Exception as exc:  # an admin tool answers with a line, never a traceback
        print(f"{directory}: internal error while checking: {type(exc).__name__}: {exc}",
              file=out)
        return EXIT_ERRORS
    for problem in found.problems:
        print(problem, file=out)
    errors = sum(1 for p in found.problems if p.is_error)
    warnings = len(found.problems) - errors
    files = f"{found.files} file{'s' if found.files != 1 else ''}"
    verdict = "FAILED" if errors else "OK"
    print(f"{directory}: {verdict}: {_count(errors, 'error')}, {_count(warnings, 'warning')} "
          f"in {files}", file=out)
    return EXIT_ERRORS if errors else EXIT_CLEAN


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
