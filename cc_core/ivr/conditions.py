"""Evaluating ``branch`` conditions: pure, the local time is passed in."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping

from cc_core.ivr.fields import WEEKDAYS, parse_clock
from cc_core.ivr.model import Condition


def holds(cond: Condition, attributes: Mapping[str, str], local: dt.datetime) -> bool:
    """Whether ``cond`` holds for these attributes at local time ``local``."""
    if cond.all is not None:
        return all(holds(c, attributes, local) for c in cond.all)
    if cond.any is not None:
        return any(holds(c, attributes, local) for c in cond.any)
    if cond.not_ is not None:
        return not holds(cond.not_, attributes, local)
    if cond.attr is None:
        return _in_time(cond, local)
    value = attributes.get(cond.attr)
    op = cond.operator
    if op == "exists":
        return (value is not None and value != "") == cond.exists
    if value is None:
        return op == "not_equals"
    if op == "equals":
        return value == _text(cond.equals)
    if op == "not_equals":
        return value != _text(cond.not_equals)
    if op == "in":
        return value in [_text(v) for v in cond.in_ or []]
    if op == "matches":
        return re.fullmatch(cond.matches or "", value) is not None
    return _compare(op, value, cond)


def _text(value: object) -> str:
    # Attributes are text; YAML true/5 compare as they are written back ("true", "5").
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _compare(op: str | None, value: str, cond: Condition) -> bool:
    try:
        number = float(value)
    except ValueError:
        return False  # "gold" is neither above nor below 3
    limit = getattr(cond, op or "", None)
    if not isinstance(limit, float | int):
        return False
    return {"gt": number > limit, "ge": number >= limit, "lt": number < limit,
            "le": number <= limit}.get(op or "", False)


def _in_time(cond: Condition, local: dt.datetime) -> bool:
    if cond.days is not None and WEEKDAYS[local.weekday()] not in cond.days:
        return False
    if cond.time is not None:
        return in_range(cond.time, local.time())
    return True


def in_range(text: str, moment: dt.time) -> bool:
    """``"08:00-18:00"`` contains ``moment`` (start included, end excluded)."""
    start, end = (parse_clock(part) for part in text.split("-"))
    assert start is not None  # a range never starts at 24:00 (the model checks)
    return moment >= start and (end is None or moment < end)
