"""Pure parts: Luhn, conditions, the hours calendar (DST included), templates, key lists."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from cc_core.ivr.checks import luhn
from cc_core.ivr.conditions import holds
from cc_core.ivr.fields import template_fields
from cc_core.ivr.hours import Opening, opening
from cc_core.ivr.model import Calendar, Condition
from cc_core.ivr.scripted import parse_keys
from cc_core.ivr.templates import render, split

MONDAY = dt.datetime(2026, 11, 23, 10, 0)


@pytest.mark.parametrize(("number", "valid"), [
    ("79927398713", True), ("79927398710", False), ("4539148803436467", True),
    ("4539148803436468", False), ("0", False), ("12a4", False), ("", False), ("18", True),
])
def test_luhn(number: str, valid: bool) -> None:
    assert luhn(number) is valid


@pytest.mark.parametrize(("raw", "attrs", "expected"), [
    ({"attr": "tier", "equals": "gold"}, {"tier": "gold"}, True),
    ({"attr": "tier", "equals": "gold"}, {}, False),
    ({"attr": "tier", "not_equals": "gold"}, {}, True),
    ({"attr": "vip", "equals": True}, {"vip": "true"}, True),
    ({"attr": "n", "equals": 5}, {"n": "5"}, True),
    ({"attr": "tier", "in": ["gold", "silver"]}, {"tier": "silver"}, True),
    ({"attr": "tier", "exists": True}, {"tier": ""}, False),
    ({"attr": "tier", "exists": False}, {}, True),
    ({"attr": "balance", "gt": 100}, {"balance": "100.5"}, True),
    ({"attr": "balance", "le": 100}, {"balance": "100"}, True),
    ({"attr": "balance", "lt": 100}, {"balance": "lots"}, False),
    ({"attr": "caller", "matches": r"\+34.*"}, {"caller": "+34911"}, True),
    ({"all": [{"attr": "a", "exists": True}, {"attr": "b", "exists": True}]}, {"a": "1"}, False),
    ({"any": [{"attr": "a", "exists": True}, {"attr": "b", "exists": True}]}, {"a": "1"}, True),
    ({"not": {"attr": "a", "exists": True}}, {"a": "1"}, False),
    ({"time": "09:00-10:00"}, {}, False),      # MONDAY is 10:00: the end is excluded
    ({"time": "10:00-24:00", "days": ["mon"]}, {}, True),
    ({"days": ["sat", "sun"]}, {}, False),
])
def test_conditions(raw: dict[str, object], attrs: dict[str, str], expected: bool) -> None:
    assert holds(Condition.model_validate(raw), attrs, MONDAY) is expected


CALENDAR = Calendar.model_validate({
    "timezone": "Europe/Berlin",
    "weekly": {"mon": ["08:00-12:00", "13:00-18:00"], "sun": ["00:00-24:00"]},
    "holidays": [{"date": dt.date(2026, 3, 30), "name": "Closed Monday"}]})
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(("local", "state"), [
    ("2026-11-23T07:59", Opening.CLOSED),
    ("2026-11-23T08:00", Opening.OPEN),
    ("2026-11-23T12:30", Opening.CLOSED),   # lunch break
    ("2026-11-23T17:59", Opening.OPEN),
    ("2026-11-24T10:00", Opening.CLOSED),   # no hours on Tuesday
    ("2026-11-29T23:59", Opening.OPEN),     # 24:00 ends the day
    ("2026-03-29T02:30", Opening.OPEN),     # the DST switch night, still Sunday
    ("2026-03-30T10:00", Opening.HOLIDAY),
])
def test_hours(local: str, state: Opening) -> None:
    instant = dt.datetime.fromisoformat(local).replace(tzinfo=BERLIN).astimezone(dt.UTC)
    assert opening(CALENDAR, instant)[0] is state


def test_hours_need_an_aware_instant() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        opening(CALENDAR, dt.datetime(2026, 11, 23, 10))


def test_hours_across_the_dst_change_use_local_time() -> None:
    # 07:30 UTC is 08:30 in winter (open) and 09:30 in summer (open); 06:30 UTC differs.
    winter = dt.datetime(2026, 3, 23, 6, 30, tzinfo=dt.UTC)   # 07:30 CET: closed
    summer = dt.datetime(2026, 4, 6, 6, 30, tzinfo=dt.UTC)    # 08:30 CEST: open
    assert opening(CALENDAR, winter)[0] is Opening.CLOSED
    assert opening(CALENDAR, summer)[0] is Opening.OPEN


def test_templates() -> None:
    assert render("Hi {name}, {missing}!", {"name": "Ana"}) == "Hi Ana, !"
    assert render("q={q}", {"q": "a&b"}, quote=lambda v: v.replace("&", "%26")) == "q=a%26b"
    assert split("Hi {name}!") == [("Hi ", None), ("", "name"), ("!", None)]
    assert template_fields("{a} and {b_2}") == ["a", "b_2"]
    assert render("{{literal}}", {}) == "{literal}"
    for bad in ("{a.b}", "{A}", "{a!r}", "{a:>3}", "{0}"):
        with pytest.raises(ValueError, match="not an attribute placeholder"):
            template_fields(bad)


def test_parse_keys() -> None:
    assert parse_keys("1,2,#") == ["1", "2", "#"]
    assert parse_keys("12#, t ,h") == ["1", "2", "#", "T", "H"]
    assert parse_keys("") == []
    with pytest.raises(ValueError, match="key 'X'"):
        parse_keys("1,x")
