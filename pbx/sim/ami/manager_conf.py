"""Manager users from a manager.conf-style file: secret, read classes and event filters
(see ``pbx.sim.ami.filters`` for how filters select events)."""

from __future__ import annotations

from pathlib import Path

from pbx.sim.ami.filters import parse_filter
from pbx.sim.ami.server import EVENT_CLASSES, Account


class ManagerConfError(ValueError):
    """A line of the file Asterisk would refuse (file, line and what was expected)."""


def parse_classes(value: str) -> frozenset[str]:
    """``read =`` / ``write =``: a comma list of classes; ``all`` is every class."""
    names = {c.strip().lower() for c in value.split(",") if c.strip()}
    if "all" in names:
        return EVENT_CLASSES
    unknown = sorted(names - EVENT_CLASSES)
    if unknown:
        raise ValueError(f"unknown class(es) {', '.join(unknown)}")
    return frozenset(names)


def _strip_comment(line: str) -> str:
    out, i = [], 0
    while i < len(line):
        ch = line[i]
        if ch == "\\" and i + 1 < len(line) and line[i + 1] == ";":
            out.append(";")
            i += 2
            continue
        if ch == ";":
            break
        out.append(ch)
        i += 1
    return "".join(out).strip()


def load_accounts(path: Path) -> dict[str, Account]:
    """Every user section of a manager.conf-style file (``[general]`` is not a user).

    Only what the simulator uses is read (secret, read, eventfilter); other keys are
    accepted and ignored. ``#include`` lines are not followed."""
    users: dict[str, dict[str, object]] = {}
    current: dict[str, object] | None = None
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = _strip_comment(raw)
        if not line or line.startswith("#"):
            continue
        where = f"{path}:{number}"
        if line.startswith("["):
            if not line.endswith("]"):
                raise ManagerConfError(f"{where}: section header: expected [name]")
            name = line[1:-1].strip()
            current = None if name == "general" else {"filters": []}
            if current is not None:
                users[name] = current
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ManagerConfError(f"{where}: expected key = value, got {line!r}")
        key, value = key.strip(), value.strip().removeprefix(">").strip()
        if current is None:
            continue
        lowered = key.lower()
        try:
            if lowered == "secret":
                current["secret"] = value
            elif lowered == "read":
                current["read"] = parse_classes(value)
            elif lowered.startswith("eventfilter"):
                filters = current["filters"]
                assert isinstance(filters, list)
                filters.append(parse_filter(key, value))
        except ValueError as exc:
            raise ManagerConfError(f"{where}: {key}: {exc}") from None
    accounts: dict[str, Account] = {}
    for name, user in users.items():
        filters = user["filters"]
        assert isinstance(filters, list)
        read = user.get("read", frozenset())
        assert isinstance(read, frozenset)
        accounts[name] = Account(
            name, str(user.get("secret", "")), read=read, filters=tuple(filters)
        )
    return accounts
