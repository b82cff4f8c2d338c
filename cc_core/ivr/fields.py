"""Value types of the IVR language: ids, keys, timeouts, ``{attr}`` templates, regexes, time
ranges and dates, each with a message that says what was expected."""

from __future__ import annotations

import datetime as dt
import re
import string
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator
from pydantic_core import PydanticCustomError

from cc_core.config.value_types import Identifier, in_range, pattern

NodeId = Identifier
PromptId = Identifier
AttrName = Annotated[str, AfterValidator(pattern(
    r"[a-z][a-z0-9_]{0,63}", "an attribute name: a lower-case letter, then a-z, 0-9 or '_'"))]
Digit = Annotated[str, AfterValidator(pattern(r"[0-9*#]", "one key: 0-9, * or #"))]
Timeout = Annotated[float, AfterValidator(in_range(0.5, 60, "a number of seconds"))]
Retries = Annotated[int, AfterValidator(in_range(0, 9, "a number of retries"))]
DigitCount = Annotated[int, AfterValidator(in_range(1, 32, "a number of digits"))]
SoundName = Annotated[str, AfterValidator(pattern(
    r"[A-Za-z0-9_][A-Za-z0-9_/-]*", "a sound name without extension, e.g. 'custom/welcome'"))]

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _invalid(value: Any, expected: str) -> PydanticCustomError:
    shown = repr(value) if isinstance(value, str) else str(value)
    return PydanticCustomError("invalid", "got {value} (expected {expected})",
                               {"value": shown, "expected": expected})


def template_fields(text: str) -> list[str]:
    """The ``{attr}`` names in a template, in order; ValueError for anything else in braces."""
    fields = []
    for _, name, spec, conversion in string.Formatter().parse(text):
        if name is None:
            continue
        if spec or conversion or not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", name):
            raise ValueError(f"'{{{name}}}' is not an attribute placeholder")
        fields.append(name)
    return fields


def check_template(value: str) -> str:
    try:
        template_fields(value)
    except ValueError as exc:
        raise _invalid(value, f"text with {{attribute}} placeholders; {exc}; write '{{{{' "
                       "for a literal brace") from None
    return value


def _check_regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise _invalid(value, f"a valid regular expression; {exc}") from None
    return value


Template = Annotated[str, AfterValidator(check_template)]
Regex = Annotated[str, AfterValidator(_check_regex)]


def parse_clock(text: str) -> dt.time | None:
    """``HH:MM`` -> time; ``24:00`` -> None (end of day)."""
    hours, minutes = int(text[:2]), int(text[3:])
    return None if (hours, minutes) == (24, 0) else dt.time(hours, minutes)


def _check_range(value: str) -> str:
    match = re.fullmatch(r"([01][0-9]|2[0-4]):([0-5][0-9])-([01][0-9]|2[0-4]):([0-5][0-9])",
                         value)
    expected = "a time range 'HH:MM-HH:MM' within one day, e.g. '08:00-18:00'"
    if match is None:
        raise _invalid(value, expected)
    start = int(match[1]) * 60 + int(match[2])
    end = int(match[3]) * 60 + int(match[4])
    if start >= 24 * 60 or end > 24 * 60 or end <= start:
        raise _invalid(value, expected + " (end after start, at most 24:00)")
    return value


TimeRange = Annotated[str, AfterValidator(_check_range)]


def _date_value(value: Any) -> Any:
    # Unquoted 2026-12-25 is already a date for YAML; a quoted one is text.
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise _invalid(value, "a date YYYY-MM-DD") from None
    return value


Date = Annotated[dt.date, BeforeValidator(_date_value)]


def skill_level(value: Any) -> int | str:
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 5:
        return value
    if isinstance(value, str) and re.fullmatch(r"\{[a-z][a-z0-9_]*\}", value):
        return value
    raise _invalid(value, "a proficiency 1-5 or one placeholder such as '{level}'")


def queue_priority(value: Any) -> int | str:
    # One validator for both forms, so a mistake gets one message, not one per union arm.
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 100:
        return value
    if isinstance(value, str) and re.fullmatch(r"\{[a-z][a-z0-9_]*\}", value):
        return value
    raise _invalid(value, "a number 0-100 or one placeholder such as '{priority}'")
