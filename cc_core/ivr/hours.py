"""Business hours: is the centre open at an instant? Pure; the instant comes from the caller."""

from __future__ import annotations

import datetime as dt
import enum
import zoneinfo

from cc_core.ivr.conditions import in_range
from cc_core.ivr.fields import WEEKDAYS
from cc_core.ivr.model import Calendar


class Opening(enum.Enum):
    OPEN = "open"
    CLOSED = "closed"
    HOLIDAY = "holiday"  # a listed holiday outside its (possibly empty) hours


def opening(calendar: Calendar, instant: dt.datetime) -> tuple[Opening, str]:
    """Open, closed or holiday at ``instant`` (an aware datetime), and why in words."""
    if instant.tzinfo is None:
        raise ValueError("instant must be timezone-aware")
    local = instant.astimezone(zoneinfo.ZoneInfo(calendar.timezone))
    moment = local.time()
    for holiday in calendar.holidays:
        if holiday.date == local.date():
            if any(in_range(r, moment) for r in holiday.hours):
                return Opening.OPEN, f"{holiday.name}: special hours"
            return Opening.HOLIDAY, holiday.name
    day = WEEKDAYS[local.weekday()]
    ranges = calendar.weekly.get(day, [])
    for span in ranges:
        if in_range(span, moment):
            return Opening.OPEN, f"{day} {span}"
    return Opening.CLOSED, f"{day} {local:%H:%M} outside {', '.join(ranges) or 'any hours'}"
