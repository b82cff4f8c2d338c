"""manager.conf users in the simulated AMI: read classes and eventfilter lines as Asterisk 22
applies them (manager.c's own filter test table, then the shipped manager_cc.conf)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from pbx.sim.ami.events import Event
from pbx.sim.ami.filters import parse_filter, should_send
from pbx.sim.ami.manager_conf import ManagerConfError, load_accounts
from pbx.sim.inbound import inbound_call
from pbx.sim.runtime import SimConfig, Simulator
from tests.dialplan.conftest import EXTENSIONS, trunk_name

MANAGER_CC = Path(__file__).resolve().parents[2] / "dialplan" / "asterisk" / "manager_cc.conf"

NEWCHANNEL = Event("Newchannel", frozenset({"call"}), [("Channel", "XXX"), ("Someheader", "YYY")])
VARSET = Event("VarSet", frozenset({"dialplan"}), [("Channel", "ABC"), ("Someheader", "XXX")])

# manager.c's parsing_filter_tests: criteria, value, event, sent.
VALID = [
    ("eventfilter", "XXX", NEWCHANNEL, True),
    ("eventfilter", "!XXX", VARSET, False),
    ("eventfilter(name(VarSet),method(none))", "", VARSET, True),
    ("eventfilter(name(Newchannel),method(regex))", "X[XYZ]X", NEWCHANNEL, True),
    ("eventfilter(name(Newchannel),method(regex))", "X[abc]X", NEWCHANNEL, False),
    ("eventfilter(action(exclude),name(Newchannel),method(regex))", "X[XYZ]X", NEWCHANNEL, False),
    ("eventfilter(action(exclude),name(Newchannel),method(regex))", "X[abc]X", NEWCHANNEL, True),
    (
        "eventfilter(action(include),name(VarSet),header(Channel),method(starts_with))",
        "AB",
        VARSET,
        True,
    ),
    (
        "eventfilter(action(include),name(VarSet),header(Channel),method(ends_with))",
        "BC",
        VARSET,
        True,
    ),
    (
        "eventfilter(action(include),name(VarSet),header(Channel),method(exact))",
        "ABC",
        VARSET,
        True,
    ),
    (
        "eventfilter(action(include),name(VarSet),header(Channel),method(exact))",
        "XXX",
        VARSET,
        False,
    ),
    ("eventfilter(name(VarSet),header(Channel),method(exact))", "!ZZZ", VARSET, True),
    (
        "eventfilter(action(exclude),name(VarSet),header(Channel),method(exact))",
        "ZZZ",
        VARSET,
        True,
    ),
    (
        "eventfilter(action(include),name(VarSet),header(Someheader),method(exact))",
        "!XXX",
        VARSET,
        True,
    ),
]

INVALID = [
    ("eventfilter(action(include)", ""),
    ("eventfilter(action(inlude)", ""),
    ("eventfilter(nnnn(yyy)", "XXX"),
    ("eventfilter(eader(VarSet)", "XXX"),
    ("eventfilter(ethod(contains)", "XXX"),
    ("eventfilter(nnnn(yyy),header(VarSet),method(contains)", "XXX"),
    ("eventfilter(name(yyy),heder(VarSet),method(contains)", "XXX"),
    ("eventfilter(name(yyy),header(VarSet),mehod(contains)", "XXX"),
    ("eventfilter(name(yyy),header(VarSet),method(coains)", "XXX"),
    ("eventfilter(method(yyy))", "XXX"),
    ("eventfilter", ""),
    ("eventfilter", "!"),
    ("eventfilter()", "XXX"),
    ("eventfilter", "XX[X"),
    ("eventfilter(method(regex))", "XX[X"),
]


@pytest.mark.parametrize(("criteria", "value", "event", "sent"), VALID)
def test_filter_as_manager_c(criteria: str, value: str, event: Event, sent: bool) -> None:
    assert should_send([parse_filter(criteria, value)], event) is sent


@pytest.mark.parametrize(("criteria", "value"), INVALID)
def test_filter_refused_as_manager_c(criteria: str, value: str) -> None:
    with pytest.raises(ValueError):
        parse_filter(criteria, value)


def test_includes_then_excludes() -> None:
    filters = [
        parse_filter("eventfilter", "Event: Newchannel"),
        parse_filter("eventfilter", "Event: VarSet"),
        parse_filter("eventfilter", "!Channel: ABC"),
    ]
    assert should_send(filters, NEWCHANNEL)
    assert not should_send(filters, VARSET)  # included, then excluded
    assert not should_send(filters, Event("Hangup", frozenset({"call"}), []))
    assert should_send([], VARSET)


def test_header_value_is_matched_after_the_colon_and_blanks() -> None:
    f = parse_filter("eventfilter(name(VarSet),header(Variable),method(regex))", "^_{0,2}CC_")
    ours = Event("VarSet", frozenset({"dialplan"}), [("Variable", "__CC_INTERACTION_ID")])
    theirs = Event("VarSet", frozenset({"dialplan"}), [("Variable", "DIALSTATUS")])
    # "Variables" starts with "Variable" but not with "Variable:"
    other = Event("VarSet", frozenset({"dialplan"}), [("Variables", "CC_X")])
    assert f.matches(ours)
    assert not f.matches(theirs)
    assert not f.matches(other)


def test_bad_line_names_file_line_and_key(tmp_path: Path) -> None:
    conf = tmp_path / "manager.conf"
    conf.write_text("[general]\nenabled = yes\n\n[u]\nsecret = s\neventfilter(nme(X)) =\n")
    with pytest.raises(ManagerConfError, match=r"manager.conf:6: eventfilter\(nme\(X\)\): "):
        load_accounts(conf)
    conf.write_text("[u]\nread = call,bogus\n")
    with pytest.raises(ManagerConfError, match=r":2: read: unknown class\(es\) bogus"):
        load_accounts(conf)


def test_shipped_account_is_read() -> None:
    accounts = load_accounts(MANAGER_CC)
    assert list(accounts) == ["ccplane"]
    ccplane = accounts["ccplane"]
    assert ccplane.read == {"call", "dialplan", "agi", "dtmf", "system", "user"}
    assert ccplane.filters and all(not f.exclude for f in ccplane.filters)


async def _listen(port: int, user: str, secret: str, out: list[dict[str, str]]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await reader.readline()
    writer.write(f"Action: Login\r\nUsername: {user}\r\nSecret: {secret}\r\n\r\n".encode())
    buf = b""
    try:
        while data := await reader.read(65536):
            buf += data
            while b"\r\n\r\n" in buf:
                block, buf = buf.split(b"\r\n\r\n", 1)
                lines = block.decode().split("\r\n")
                out.append(dict(line.split(": ", 1) for line in lines if ": " in line))
    finally:
        writer.close()


async def test_shipped_filters_on_a_call() -> None:
    """One call through cc-inbound (IVR unreachable: held untagged) and its hang-up, seen by
    an unfiltered account and by the shipped ccplane account."""
    ccplane = load_accounts(MANAGER_CC)["ccplane"]
    sim = Simulator(
        SimConfig(
            dialplan_path=EXTENSIONS,
            time_scale=0.01,
            accounts={"all": "allsecret"},
            manager_conf=MANAGER_CC,
            globals_override={"CC_FASTAGI": "agi://127.0.0.1:9", "CC_AUDIOSOCKET": ""},
            auth_fail_delay=0.05,
        )
    )
    await sim.start()
    every: list[dict[str, str]] = []
    filtered: list[dict[str, str]] = []
    tasks = [
        asyncio.create_task(_listen(sim.ami_port, "all", "allsecret", every)),
        asyncio.create_task(_listen(sim.ami_port, "ccplane", ccplane.secret, filtered)),
    ]
    try:
        for _ in range(200):
            if all(any(m.get("Event") == "FullyBooted" for m in got) for got in (every, filtered)):
                break
            await asyncio.sleep(0.01)
        chan = inbound_call(sim.pbx, "5551000", context="cc-inbound", trunk=trunk_name())
        for _ in range(500):
            if any(m.get("Event") == "MusicOnHoldStart" for m in every):
                break
            await asyncio.sleep(0.01)
        sim.pbx.soft_hangup(chan, 16)
        for _ in range(500):
            if any(m.get("Event") == "Hangup" for m in filtered):
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await sim.stop()

    def names(got: list[dict[str, str]]) -> list[str]:
        return [m["Event"] for m in got if "Event" in m]

    assert "Hangup" in names(filtered) and "Newchannel" in names(filtered)
    # The unfiltered account saw what the filters keep away ...
    assert any(m.get("Event") == "Newexten" and m.get("Context") == "cc-hold" for m in every)
    assert any(
        m.get("Event") == "VarSet" and not m["Variable"].lstrip("_").startswith("CC_")
        for m in every
    )
    assert "MusicOnHoldStart" in names(every)
    # ... and ccplane got none of it, but every CC_ variable and the inbound steps.
    assert "MusicOnHoldStart" not in names(filtered)
    for m in filtered:
        if m.get("Event") == "Newexten":
            assert m["Context"] == "cc-inbound" or m["Application"] == "Dial", m
        if m.get("Event") == "VarSet":
            assert m["Variable"].lstrip("_").startswith("CC_"), m
    assert any(m.get("Event") == "Newexten" for m in filtered)
    cc_vars = {
        m["Variable"]
        for m in every
        if m.get("Event") == "VarSet" and m["Variable"].lstrip("_").startswith("CC_")
    }
    assert cc_vars and cc_vars == {m["Variable"] for m in filtered if m.get("Event") == "VarSet"}
    assert len(names(filtered)) < len(names(every))


def test_header_filter_on_the_event_and_privilege_lines() -> None:
    by_event = parse_filter("eventfilter(header(Event),method(exact))", "Newchannel")
    by_class = parse_filter("eventfilter(header(Privilege),method(starts_with))", "dialplan")
    assert by_event.matches(NEWCHANNEL) and not by_event.matches(VARSET)
    assert by_class.matches(VARSET) and not by_class.matches(NEWCHANNEL)
