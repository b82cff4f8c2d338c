"""AMI event filters (manager.conf ``eventfilter``), as Asterisk 22's manager.c applies them.

They follow Asterisk 22's manager.c (``manager_add_filter``, ``should_send_event``):

* legacy ``eventfilter = regex`` (``!regex`` excludes), matched anywhere in the whole event
  text (``Event: ...`` and ``Privilege: ...`` lines included);
* advanced ``eventfilter(action(include|exclude),name(Event),header(Name),method(m)) = value``
  with ``m`` one of regex, exact, starts_with, ends_with, contains, none (the default when
  any option is given); ``name`` compares the event name exactly; ``header`` narrows the
  data to each line that starts with ``Name:``, blanks after the colon skipped;
* no filters: every event; includes only: events matching any include; excludes only:
  events matching none; both: events matching an include and no exclude.

Regexes are POSIX extended in Asterisk; Python's ``re`` agrees on the forms a filter needs
(anchors, classes, alternation, ``{m,n}``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from pbx.sim.ami.events import Event

METHODS = frozenset({"regex", "exact", "starts_with", "ends_with", "contains", "none"})
_OPTION = re.compile(r"^(action|name|header|method)\((.*)\)$")


@dataclass(frozen=True, slots=True)
class EventFilter:
    exclude: bool
    pattern: str
    method: str = "regex"
    name: str | None = None
    header: str | None = None  # with its trailing colon, as manager.c stores it
    _regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def _match_data(self, data: str) -> bool:
        if self.method == "regex":
            assert self._regex is not None
            return self._regex.search(data) is not None
        if self.method == "starts_with":
            return data.startswith(self.pattern)
        if self.method == "ends_with":
            return data.endswith(self.pattern)
        if self.method == "contains":
            return self.pattern in data
        if self.method == "exact":
            return data == self.pattern
        return True  # none

    def matches(self, event: Event) -> bool:
        if self.name is not None and event.name != self.name:
            return False
        if self.header is None:
            return self._match_data(event_text(event))
        key = self.header[:-1]
        if ":" not in key:
            # "Key:" starts a line exactly when the line's header is Key (the usual case).
            lines = event.headers if key not in ("Event", "Privilege") else event_lines(event)
            for name, value in lines:
                if name == key:
                    data = value.lstrip(" \t")
                    if data and self._match_data(data):
                        return True
            return False
        for key, value in event_lines(event):
            line = f"{key}: {value}"
            if not line.startswith(self.header):
                continue
            data = line[len(self.header) :].lstrip(" \t")
            if data and self._match_data(data):
                return True
        return False


def event_lines(event: Event) -> list[tuple[str, str]]:
    return [("Event", event.name), ("Privilege", _privilege(event)), *event.headers]


def _privilege(event: Event) -> str:
    return ",".join(sorted(event.classes)) + ",all"


def event_text(event: Event) -> str:
    """The event as manager.c matches it: its lines, each ending in CRLF."""
    return "".join(f"{k}: {v}\r\n" for k, v in event_lines(event))


def parse_filter(criteria: str, value: str) -> EventFilter:
    """One ``eventfilter[(...)] = value`` line; ValueError names what is wrong."""
    criteria, pattern = criteria.strip(), value.strip()
    exclude = False
    if pattern.startswith("!"):
        exclude, pattern = True, pattern[1:]
    method, name, header = "regex", None, None
    options_at = criteria.find("(")
    if options_at < 0:
        if criteria.lower() != "eventfilter":
            raise ValueError(f"expected eventfilter or eventfilter(...), got {criteria!r}")
        if not pattern:
            raise ValueError("a legacy eventfilter needs a pattern")
    else:
        inner = criteria[options_at + 1 :].strip()
        if not inner.endswith(")"):
            raise ValueError(f"filter options not closed by ')': {criteria!r}")
        method = "none"
        seen: set[str] = set()
        for option in (o.strip() for o in inner[:-1].split(",")):
            found = _OPTION.match(option)
            if found is None:
                raise ValueError(
                    f"unknown filter option {option!r} (expected action(), name(), header() "
                    "or method())"
                )
            key, arg = found.group(1), found.group(2).strip()
            if key in seen:
                raise ValueError(f"filter option {key} given twice")
            seen.add(key)
            if key == "action":
                if arg not in ("include", "exclude"):
                    raise ValueError(f"action({arg}): expected include or exclude")
                exclude = arg == "exclude"
            elif key == "name":
                if not arg:
                    raise ValueError("name() needs an event name")
                name = arg
            elif key == "header":
                if not arg:
                    raise ValueError("header() needs a header name")
                header = arg if arg.endswith(":") else arg + ":"
            else:
                if arg not in METHODS:
                    raise ValueError(f"method({arg}): expected one of {', '.join(sorted(METHODS))}")
                method = arg
        if not pattern and method != "none":
            raise ValueError(f"method({method}) needs a value after '='")
        if pattern and method == "none":
            raise ValueError("a value after '=' needs a method other than none")
    regex = None
    if method == "regex":
        try:
            regex = re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"regex {pattern!r} does not compile: {exc}") from None
    return EventFilter(exclude, pattern, method, name, header, regex)


class FilterSet:
    """One user's filters, sorted for speed: by event name first, as Asterisk hashes names
    (the simulator checks every event for every session)."""

    def __init__(self, filters: Iterable[EventFilter]) -> None:
        self.filters = tuple(filters)
        self._includes = self._index([f for f in self.filters if not f.exclude])
        self._excludes = self._index([f for f in self.filters if f.exclude])
        self._any_include = any(not f.exclude for f in self.filters)

    @staticmethod
    def _index(
        filters: list[EventFilter],
    ) -> tuple[dict[str, tuple[EventFilter, ...]], tuple[EventFilter, ...]]:
        named: dict[str, list[EventFilter]] = {}
        for f in filters:
            if f.name is not None:
                named.setdefault(f.name, []).append(f)
        unnamed = tuple(f for f in filters if f.name is None)
        return {name: tuple(fs) for name, fs in named.items()}, unnamed

    def allows(self, event: Event) -> bool:
        """manager.c's should_send_event."""
        if self._any_include:
            named, unnamed = self._includes
            if not any(f.matches(event) for f in named.get(event.name, ())) and not any(
                f.matches(event) for f in unnamed
            ):
                return False
        named, unnamed = self._excludes
        return not any(f.matches(event) for f in named.get(event.name, ())) and not any(
            f.matches(event) for f in unnamed
        )


def should_send(filters: Iterable[EventFilter], event: Event) -> bool:
    """manager.c's should_send_event over one user's filters."""
    return FilterSet(filters).allows(event)
