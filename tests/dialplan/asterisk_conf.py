"""Reads the shipped non-dialplan Asterisk files (pjsip, manager, musiconhold) as Asterisk's
config.c does: `;` comments, `[name](options)` sections with `!` templates and inherited
templates, several sections of one name (pjsip's endpoint/auth/aor), `key = value` lines."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

_HEADER = re.compile(r"^\[([^\]]+)\](?:\(([^)]*)\))?$")


class ConfError(ValueError):
    def __init__(self, path: Path, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")


@dataclass
class Section:
    name: str
    line: int
    template: bool = False
    values: list[tuple[str, str]] = field(default_factory=list)

    def get(self, key: str) -> str | None:
        """The last value of ``key`` (a later line overrides a template's)."""
        found = [v for k, v in self.values if k == key]
        return found[-1] if found else None

    def get_all(self, key: str) -> list[str]:
        return [v for k, v in self.values if k == key]


def _strip_comment(raw: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(raw):
        if raw[i] == "\\" and i + 1 < len(raw) and raw[i + 1] == ";":
            out.append(";")
            i += 2
            continue
        if raw[i] == ";":
            break
        out.append(raw[i])
        i += 1
    return "".join(out).strip()


def read_conf(path: Path) -> list[Section]:
    """Every non-template section in file order, template lines copied in first."""
    sections: list[Section] = []
    templates: dict[str, Section] = {}
    current: Section | None = None
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = _strip_comment(raw)
        if not line:
            continue
        header = _HEADER.match(line)
        if header:
            options = [o.strip() for o in (header.group(2) or "").split(",") if o.strip()]
            current = Section(header.group(1).strip(), number, template="!" in options)
            for option in options:
                if option == "!":
                    continue
                if option not in templates:
                    raise ConfError(path, number, f"unknown template {option!r}")
                current.values.extend(templates[option].values)
            if current.template:
                templates[current.name] = current
            else:
                sections.append(current)
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ConfError(path, number, f"expected key = value, got {line!r}")
        if current is None:
            raise ConfError(path, number, f"{key.strip()!r} before any [section]")
        current.values.append((key.strip(), value.lstrip(">").strip()))
    return sections


def of_type(sections: list[Section], kind: str) -> dict[str, Section]:
    """pjsip sections of one ``type`` by name."""
    return {s.name: s for s in sections if s.get("type") == kind}
