"""Every menu path of the shipped main menu, walked with scripted keys: choices, wrong keys,
silence and the fallbacks they lead to, business hours and holidays, the customer lookup."""

from __future__ import annotations

import datetime as dt

import pytest

from cc_core.ivr import IvrLibrary, OutcomeKind

from .conftest import (
    BAD_LUHN,
    CLOSED,
    GOLD,
    KNOWN_CALLER,
    OPEN,
    SILVER,
    UNKNOWN,
    Rebased,
    berlin,
    walk,
)

Q, CB, VM, HU = OutcomeKind.QUEUE, OutcomeKind.CALLBACK, OutcomeKind.VOICEMAIL, OutcomeKind.HANGUP

# (keys, expected kind, queue, language, priority, last nodes of the path)
OPEN_PATHS = {
    "en billing": (f"1,{UNKNOWN},1", Q, "billing", "en", 0, ["billing_route", "billing_queue"]),
    "es billing": (f"2,{UNKNOWN},1", Q, "billing_es", "es", 0, ["billing_es_queue"]),
    "de billing goes to the English line": (f"3,{UNKNOWN},1", Q, "billing", "de", 0,
                                            ["billing_queue"]),
    "de technical": (f"3,{UNKNOWN},2", Q, "tech_de", "de", 0, ["tech_route", "tech_de_queue"]),
    "en outage": (f"1,{UNKNOWN},2,1", Q, "tech_support", "en", 40,
                  ["tech_menu", "outage", "tech_queue"]),
    "es router": (f"2,{UNKNOWN},2,2", Q, "tech_support", "es", 10, ["router", "tech_queue"]),
    "tech sub-menu back up": (f"1,{UNKNOWN},2,9,3", Q, "sales", "en", 20,
                              ["tech_menu", "main_options", "sales_queue"]),
    "tech sub-menu silence": (f"1,{UNKNOWN},2,T,T,T", Q, "tech_support", "en", 0,
                              ["tech_menu", "tech_queue"]),
    "sales": (f"1,{UNKNOWN},3", Q, "sales", "en", 20, ["sales_queue"]),
    "callback from the menu": (f"1,{UNKNOWN},4", CB, "billing", "en", 0, ["callback_request"]),
    "back to the language choice": (f"1,{UNKNOWN},9,2,{UNKNOWN},1", Q, "billing_es", "es", 0,
                                    ["main_options", "language", "lang_es", "opening_hours",
                                     "account"]),
    "wrong keys in the main menu": (f"1,{UNKNOWN},7,8,0", Q, "billing", "en", 0,
                                    ["main_options", "billing_route", "billing_queue"]),
    "silence in the main menu": (f"1,{UNKNOWN},T,T,T", Q, "billing", "en", 0,
                                 ["main_options", "billing_route", "billing_queue"]),
    "silence at the language choice": (f"T,T,{UNKNOWN},3", Q, "sales", "en", 20,
                                       ["language", "opening_hours"]),
    "wrong key then a language": (f"5,3,{UNKNOWN},1", Q, "billing", "de", 0,
                                  ["language", "lang_de"]),
    "gold customer": (f"1,{GOLD}", Q, "vip", "en", 60, ["find_by_account", "found",
                                                        "vip_queue"]),
}


@pytest.mark.parametrize("case", sorted(OPEN_PATHS))
async def test_open_paths(case: str, library: IvrLibrary, lookup: Rebased) -> None:
    keys, kind, queue, language, priority, tail = OPEN_PATHS[case]
    done = await walk(library, "main_menu", keys, lookup=lookup)
    outcome = done.outcome
    assert (outcome.kind, outcome.queue, outcome.language, outcome.priority) == (
        kind, queue, language, priority), outcome
    path = list(outcome.path)
    assert path[: len(tail)] == tail or _contains(path, tail), path
    assert done.session.keys_left == 0


def _contains(path: list[str], part: list[str]) -> bool:
    return any(path[i : i + len(part)] == part for i in range(len(path)))


async def test_every_node_is_visited_by_some_walk(library: IvrLibrary, lookup: Rebased) -> None:
    visited: set[str] = set()
    runs = [(keys, OPEN) for keys, *_ in OPEN_PATHS.values()]
    runs += [("1,1", CLOSED), ("1,2", CLOSED), ("1,T,T,T", CLOSED),
             ("1,1", berlin("2026-12-25T10:00")), (f"1,{SILVER},1", OPEN),
             (f"1,{BAD_LUHN},{BAD_LUHN},{BAD_LUHN},1", OPEN)]
    for keys, at in runs:
        visited |= set((await walk(library, "main_menu", keys, at=at, lookup=lookup)).outcome.path)
    assert visited == set(library.script("main_menu").nodes)


async def test_language_choice_switches_prompts_and_channel(library: IvrLibrary) -> None:
    done = await walk(library, "main_menu", "3,T,T,T,1")
    played = done.session.played
    assert played[:2] == ["ccplane/en/welcome", "ccplane/en/choose_language"]
    assert "ccplane/de/enter_account" in played
    assert not [p for p in played[2:] if p.startswith("ccplane/en/")]
    # The PBX's own sounds (digits, letters) follow the channel language.
    assert done.session.variables["CHANNEL(language)"] == "de"


async def test_account_retries_then_caller_id(library: IvrLibrary, lookup: Rebased,
                                              crm: object) -> None:
    keys = f"1,T,{BAD_LUHN},123#,1"
    done = await walk(library, "main_menu", keys, lookup=lookup, caller=KNOWN_CALLER)
    invalid = [e.detail["why"] for e in done.kinds("invalid")]
    assert invalid == ["fails the luhn check", "3 digits (expected 8-8)"]
    assert [e.detail["attempt"] for e in done.kinds("timeout")] == ["1"]
    assert done.outcome.path[4:8] == ("account", "find_by_caller", "found", "main_options")
    assert "account" not in done.outcome.attributes
    assert done.outcome.attributes["customer_id"] == "c-3"
    assert done.outcome.attributes["tier"] == "bronze"
    played = done.session.played
    # Before the second attempt the caller hears why the first failed, and so on.
    assert played.count("ccplane/en/no_input") == 1
    assert played.count("ccplane/en/account_invalid") == 1


async def test_balance_is_spoken_with_the_pbx_digits(library: IvrLibrary,
                                                     lookup: Rebased) -> None:
    done = await walk(library, "main_menu", f"1,{SILVER},3", lookup=lookup)
    played = done.session.played
    start = played.index("ccplane/en/balance/1")
    assert played[start : start + 4] == ["ccplane/en/balance/1", "digits/4", "digits/2",
                                         "ccplane/en/balance/2"]
    (said,) = [e.detail["text"] for e in done.kinds("prompt") if e.detail["prompt"] == "balance"]
    assert said == "Your current balance is 42 euros."
    assert done.outcome.attributes["account"] == SILVER


@pytest.mark.parametrize(("at", "state"), [
    (OPEN, "open"),
    (CLOSED, "closed"),
    (berlin("2026-11-26T19:30"), "open"),          # Thursday: open until 20:00
    (berlin("2026-11-28T12:59"), "open"),          # Saturday morning
    (berlin("2026-11-28T13:00"), "closed"),        # the end of a range is excluded
    (berlin("2026-11-29T10:00"), "closed"),        # Sunday
    (berlin("2026-12-24T10:00"), "open"),          # Christmas Eve: special hours
    (berlin("2026-12-24T13:00"), "holiday"),
    (berlin("2026-12-25T10:00"), "holiday"),
    (berlin("2027-01-01T09:00"), "holiday"),
    (dt.datetime(2026, 11, 23, 16, 59, tzinfo=dt.UTC), "open"),   # 17:59 in Berlin
    (dt.datetime(2026, 11, 23, 17, 0, tzinfo=dt.UTC), "closed"),  # 18:00 in Berlin
])
async def test_business_hours(at: dt.datetime, state: str, library: IvrLibrary) -> None:
    done = await walk(library, "main_menu", "1,H", at=at)
    (hours,) = done.kinds("hours")
    assert hours.detail["state"] == state
    expected = {"open": "account", "closed": "closed_menu", "holiday": "holiday_notice"}[state]
    assert hours.detail["target"] == expected


@pytest.mark.parametrize(("keys", "kind", "tail"), [
    ("1,1", CB, "callback_request"),
    ("1,2", VM, "leave_message"),
    ("1,5,T,0", HU, "goodbye"),
    ("1,T,T,T", HU, "goodbye"),
])
async def test_closed_menu(keys: str, kind: OutcomeKind, tail: str,
                           library: IvrLibrary) -> None:
    done = await walk(library, "main_menu", keys, at=CLOSED, caller="+4915199999999")
    assert done.outcome.kind is kind
    assert done.outcome.path[-1] == tail
    if kind is CB:
        assert (done.outcome.queue, done.outcome.callback_number) == ("billing",
                                                                      "+4915199999999")
    if kind is VM:
        assert done.outcome.mailbox == "support@cc-default"
    if kind is HU:
        assert done.session.hung_up
        assert done.session.played[-1] == "ccplane/en/goodbye"


async def test_holiday_notice_then_closed_options(library: IvrLibrary) -> None:
    done = await walk(library, "main_menu", "2,2", at=berlin("2026-12-25T11:00"))
    assert done.outcome.kind is VM
    assert done.outcome.path[-3:] == ("holiday_notice", "closed_menu", "leave_message")
    assert "ccplane/es/holiday_closed" in done.session.played


async def test_every_step_is_reported_in_order(library: IvrLibrary) -> None:
    done = await walk(library, "main_menu", f"1,{UNKNOWN},3")
    assert [e.seq for e in done.events] == list(range(1, len(done.events) + 1))
    assert done.events[0].kind == "start"
    assert done.events[-1].kind == "outcome"
    assert done.events[-1].detail["outcome"] == "queue"
    assert {e.call_id for e in done.events} == {"call-1"}
    nodes = [e.node for e in done.kinds("node")]
    assert tuple(nodes) == done.outcome.path
