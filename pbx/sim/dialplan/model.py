"""A loaded dialplan: contexts, extensions and their priorities, and Asterisk's lookup rules.

Lookup of ``exten`` at a priority, as Asterisk's default (linear) matcher does it: the
context's own extensions in Asterisk order (literal names, then patterns, most specific first;
see :mod:`pbx.sim.dialplan.patterns`); the first that matches and has the priority wins. When
none does, the included contexts are searched in ``include =>`` order, depth first, each
context once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from pbx.sim.dialplan.errors import DialplanError
from pbx.sim.dialplan.patterns import ExtensionName


@dataclass(frozen=True, slots=True)
class Step:
    """One priority: the application and its unsubstituted arguments, and where it was read."""

    context: str
    exten: str  # the extension as written (``_X.``), not the dialed number
    priority: int
    app: str
    raw_args: str
    label: str | None
    file: str
    line: int

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


_CACHE_LIMIT = 50_000
_CID_FLUFF = re.compile(r"[\s()\-.]")


def shrink_number(number: str) -> str:
    """Caller numbers are compared without spaces, ``()``, ``-`` and ``.`` (as Asterisk)."""
    return _CID_FLUFF.sub("", number)


@dataclass
class Extension:
    name: ExtensionName
    cid: ExtensionName | None = None  # ``exten => 100/5551234,...`` caller-id match
    steps: dict[int, Step] = field(default_factory=dict)
    labels: dict[str, int] = field(default_factory=dict)
    hint: str | None = None

    @property
    def sort_key(self) -> tuple[object, ...]:
        # Extensions with a caller-id match come before the same name without one.
        if self.cid is None:
            return (self.name.sort_key, 1, ())
        return (self.name.sort_key, 0, self.cid.sort_key)

    def matches(self, exten: str, callerid: str | None) -> bool:
        if not self.name.matches(exten):
            return False
        if self.cid is None:
            return True
        return callerid is not None and self.cid.matches(shrink_number(callerid))


@dataclass(frozen=True, slots=True)
class Include:
    context: str
    file: str
    line: int
    timing: str = ""  # ``include => ctx,09:00-17:00,...``: recorded, not applied


@dataclass
class Context:
    name: str
    file: str
    line: int
    extensions: dict[tuple[str, str], Extension] = field(default_factory=dict)
    includes: list[Include] = field(default_factory=list)
    ignore_patterns: list[str] = field(default_factory=list)
    _ordered: list[Extension] | None = None

    def ordered(self) -> list[Extension]:
        """Extensions in Asterisk order (as ``dialplan show`` lists them)."""
        if self._ordered is None:
            self._ordered = sorted(self.extensions.values(), key=lambda e: e.sort_key)
        return self._ordered

    def best_match(self, exten: str, callerid: str | None) -> Extension | None:
        for ext in self.ordered():
            if ext.matches(exten, callerid):
                return ext
        return None

    def matches(self, exten: str, callerid: str | None) -> list[Extension]:
        return [ext for ext in self.ordered() if ext.matches(exten, callerid)]


class Dialplan:
    """A parsed ``extensions.conf``. Build with :meth:`load` or :meth:`parse`."""

    def __init__(self) -> None:
        self.contexts: dict[str, Context] = {}
        self._globals: dict[str, str] = {}
        self.general: dict[str, str] = {}
        self.files: list[str] = []
        self.warnings: list[str] = []  # problems Asterisk only logs (file:line: message)
        # (context, exten, callerid) -> best match per searched context; a loaded dialplan
        # does not change, and calls repeat the same lookups priority after priority.
        self._candidates_cache: dict[tuple[str, str, str | None], tuple[Extension, ...]] = {}

    # -- construction ----------------------------------------------------------------------

    @classmethod
    def load(cls, path: str, overrides: Mapping[str, str] | None = None) -> Dialplan:
        """Read ``path`` (and its ``#include`` files). ``overrides`` replace ``[globals]``."""
        from pbx.sim.dialplan.parser import load_file

        return load_file(path, overrides)

    @classmethod
    def parse(
        cls, text: str, filename: str = "<string>", overrides: Mapping[str, str] | None = None
    ) -> Dialplan:
        """Parse dialplan text; ``#include`` resolves relative to ``filename``'s folder."""
        from pbx.sim.dialplan.parser import parse_text

        return parse_text(text, filename, overrides)

    # -- reading ---------------------------------------------------------------------------

    @property
    def globals(self) -> Mapping[str, str]:
        return self._globals

    def context(self, name: str) -> Context | None:
        return self.contexts.get(name)

    def _search(self, context: str) -> Iterator[Context]:
        """The context, then its includes depth first, each context once."""
        seen: set[str] = set()
        stack = [context]
        while stack:
            name = stack.pop()
            if name in seen:
                continue
            seen.add(name)
            ctx = self.contexts.get(name)
            if ctx is None:
                continue
            yield ctx
            stack.extend(inc.context for inc in reversed(ctx.includes))

    def _candidates(self, context: str, exten: str, callerid: str | None) -> tuple[Extension, ...]:
        """Every matching extension, in Asterisk order, context by context in search order."""
        key = (context, exten, callerid)
        found = self._candidates_cache.get(key)
        if found is None:
            found = tuple(
                ext for ctx in self._search(context) for ext in ctx.matches(exten, callerid)
            )
            if len(self._candidates_cache) >= _CACHE_LIMIT:
                self._candidates_cache.clear()
            self._candidates_cache[key] = found
        return found

    def invalidate(self) -> None:
        """Forget cached lookups (call after changing contexts in place)."""
        self._candidates_cache.clear()
        for ctx in self.contexts.values():
            ctx._ordered = None

    def match(self, context: str, exten: str, callerid: str | None = None) -> Extension | None:
        """The extension a call to ``exten`` in ``context`` runs (``None``: no match)."""
        found = self._candidates(context, exten, callerid)
        return found[0] if found else None

    def find(
        self, context: str, exten: str, priority: int, callerid: str | None = None
    ) -> Step | None:
        """The step at ``priority`` of the extension ``exten`` matches, or ``None``."""
        for ext in self._candidates(context, exten, callerid):
            step = ext.steps.get(priority)
            if step is not None:
                return step
        return None

    def lookup(
        self, context: str, exten: str, priority: int, callerid: str | None = None
    ) -> tuple[str, str] | None:
        """(application, raw arguments) at that place, or ``None``."""
        step = self.find(context, exten, priority, callerid)
        return None if step is None else (step.app, step.raw_args)

    def exists(
        self, context: str, exten: str, priority: int = 1, callerid: str | None = None
    ) -> bool:
        return self.find(context, exten, priority, callerid) is not None

    def can_match_more(self, context: str, exten: str) -> bool:
        """True when more digits after ``exten`` could still reach an extension."""
        return any(
            ext.name.could_match_more(exten)
            for ctx in self._search(context)
            for ext in ctx.ordered()
        )

    def next_priority(
        self, context: str, exten: str, priority: int, callerid: str | None = None
    ) -> int | None:
        """``priority + 1`` when that step exists; ``None`` means the call falls off the end
        of the extension (Asterisk's autofallthrough hangs it up)."""
        nxt = priority + 1
        return nxt if self.find(context, exten, nxt, callerid) is not None else None

    def find_label(
        self, context: str, exten: str, label: str, callerid: str | None = None
    ) -> int | None:
        """The priority carrying ``label`` in the extension ``exten`` reaches, or ``None``."""
        for ext in self._candidates(context, exten, callerid):
            if label in ext.labels:
                return ext.labels[label]
        return None

    def resolve_priority(
        self,
        context: str,
        exten: str,
        priority: str,
        current: int | None = None,
        callerid: str | None = None,
    ) -> int:
        """A Goto priority: a number, ``+N``/``-N`` relative to ``current``, or a label."""
        text = priority.strip()
        if re.fullmatch(r"\d+", text):
            return int(text)
        if re.fullmatch(r"[+-]\d+", text) and current is not None:
            return current + int(text)
        found = self.find_label(context, exten, text, callerid)
        if found is None:
            raise DialplanError(f"priority or label {text!r} not found in {exten}@{context}")
        return found

    def hint(self, context: str, exten: str) -> str | None:
        ext = self.match(context, exten)
        return None if ext is None else ext.hint

    def extensions(self, context: str) -> list[Extension]:
        ctx = self.contexts.get(context)
        return [] if ctx is None else list(ctx.ordered())

    def steps(self) -> Iterable[Step]:
        """Every step, by context (file order), extension (Asterisk order) and priority."""
        for ctx in self.contexts.values():
            for ext in ctx.ordered():
                for prio in sorted(ext.steps):
                    yield ext.steps[prio]

    def applications(self) -> Iterable[tuple[str, str, int, str]]:
        """Every (context, exten, priority, application), for load-time checks."""
        return [(s.context, s.exten, s.priority, s.app) for s in self.steps()]

    def applications_used(self) -> set[str]:
        """Names of the applications the dialplan calls, as written (``Answer``, ``AGI``)."""
        return {s.app for s in self.steps()}
