"""The pure parts of the PBX port contract: causes, validation, event fan-out, timeouts."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from pbx import port
from pbx.port import (
    CallAnswered,
    CallerHungUp,
    CallHungUp,
    CollectEnd,
    CollectResult,
    CollectSpec,
    CommandTimeout,
    EventHub,
    HangupCause,
    HangupKind,
    InvalidArgument,
    NoSuchCall,
    PbxError,
)


@pytest.mark.parametrize(
    ("code", "text", "kind", "fs_name"),
    [
        (16, "Normal Clearing", HangupKind.NORMAL, "NORMAL_CLEARING"),
        (17, "User busy", HangupKind.BUSY, "USER_BUSY"),
        (19, "User alerting, no answer", HangupKind.NO_ANSWER, "NO_ANSWER"),
        (21, "Call Rejected", HangupKind.REJECTED, "CALL_REJECTED"),
        (34, "Circuit/channel congestion", HangupKind.CONGESTION, "NORMAL_CIRCUIT_CONGESTION"),
        (127, "Interworking, unspecified", HangupKind.FAILURE, "INTERWORKING"),
    ],
)
def test_cause_from_code_uses_asterisk_text(
    code: int, text: str, kind: HangupKind, fs_name: str
) -> None:
    cause = HangupCause.from_code(code)
    assert cause == HangupCause(code, text)
    assert cause.kind is kind
    assert cause.freeswitch_name == fs_name
    # The FreeSWITCH name maps back onto the same cause.
    assert HangupCause.from_freeswitch(fs_name) == cause


def test_cause_from_asterisk_headers_keeps_pbx_text() -> None:
    assert HangupCause.from_code("16", "Normal Clearing").code == 16
    assert HangupCause.from_code("99", "").text == "Unknown"
    assert HangupCause.from_code(99, "Vendor text") == HangupCause(99, "Vendor text")


def test_freeswitch_only_names_and_unknown_names() -> None:
    assert HangupCause.from_freeswitch("ORIGINATOR_CANCEL").code == 16
    assert HangupCause.from_freeswitch("lose_race").text == "Answered elsewhere"
    unknown = HangupCause.from_freeswitch("SOMETHING_NEW")
    assert unknown == HangupCause(0, "SOMETHING_NEW")


@pytest.mark.parametrize("bad", ["x", "", -1, 128, None])
def test_cause_rejects_bad_codes(bad: object) -> None:
    with pytest.raises(InvalidArgument) as err:
        HangupCause.from_code(bad)  # type: ignore[arg-type]
    assert err.value.field == "cause"
    assert "Q.850" in str(err.value)


def test_collect_spec_defaults_and_validation() -> None:
    spec = CollectSpec(min_digits=4, max_digits=6, timeout=3, terminator="#")
    assert spec.max_digits == 6
    bad = [
        ({"min_digits": -1}, "min_digits"),
        ({"min_digits": 3, "max_digits": 2}, "max_digits"),
        ({"max_digits": 0}, "max_digits"),
        ({"max_digits": True}, "max_digits"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": "5"}, "timeout"),
        ({"terminator": "##"}, "terminator"),
        ({"terminator": "x"}, "terminator"),
    ]
    for kwargs, field_name in bad:
        with pytest.raises(InvalidArgument) as err:
            CollectSpec(**kwargs)  # type: ignore[arg-type]
        assert err.value.field == field_name, kwargs
    assert CollectSpec(terminator="").terminator == ""


def test_collect_result_satisfies() -> None:
    spec = CollectSpec(min_digits=2, max_digits=4)
    assert CollectResult("12", CollectEnd.TIMEOUT).satisfies(spec)
    assert not CollectResult("1", CollectEnd.TERMINATOR).satisfies(spec)
    assert CollectResult("1234", CollectEnd.MAX_DIGITS).satisfies(spec)


@pytest.mark.parametrize("good", ["PJSIP/agent1001", "SIP/1001", "user/1001", "Local/1@ctx/n"])
def test_endpoint_accepts(good: str) -> None:
    assert port.check_endpoint(good) == good


@pytest.mark.parametrize("bad", ["agent1001", "PJSIP/", "PJSIP/a b", "PJSIP/a,b", "/x", 5])
def test_endpoint_rejects(bad: object) -> None:
    with pytest.raises(InvalidArgument, match="TECH/resource"):
        port.check_endpoint(bad)  # type: ignore[arg-type]


def test_variable_names() -> None:
    for good in ["FOO", "__ACD_DNIS", "_X1", "CALLERID(num)", "CHANNEL(name)"]:
        assert port.check_variable_name(good) == good
    for bad in ["", "1FOO", "___FOO", "FOO BAR", "A(b", "A=b"]:
        with pytest.raises(InvalidArgument):
            port.check_variable_name(bad)


def test_dialplan_target() -> None:
    port.check_dialplan_target("cc-hold", "s", 1)
    with pytest.raises(InvalidArgument, match="priority"):
        port.check_dialplan_target("cc-hold", "s", 0)
    with pytest.raises(InvalidArgument, match="context"):
        port.check_dialplan_target("cc hold", "s", 1)
    with pytest.raises(InvalidArgument, match="exten"):
        port.check_dialplan_target("cc-hold", "a,b", 1)


def test_timeouts() -> None:
    assert port.check_timeout(2) == 2.0
    for bad in [0, -1, True, "3", None]:
        with pytest.raises(InvalidArgument):
            port.check_timeout(bad)  # type: ignore[arg-type]


def test_errors_form_one_family() -> None:
    for err in [
        NoSuchCall("1.1"),
        CommandTimeout("Redirect", 2),
        port.NotConnected("down"),
        InvalidArgument("x", 1, "y"),
        CallerHungUp("1.1", HangupCause.from_code(16)),
    ]:
        assert isinstance(err, PbxError)
    assert "1.1" in str(NoSuchCall("1.1", "gone"))
    assert "16 Normal Clearing" in str(CallerHungUp("1.1", HangupCause.from_code(16)))


def test_events_are_frozen() -> None:
    ev = CallHungUp(call_id="1.2", cause=HangupCause.from_code(17))
    with pytest.raises(dataclasses.FrozenInstanceError):
        ev.call_id = "x"  # type: ignore[misc]
    assert CallHungUp(call_id="1.2").cause.code == 16


async def test_hub_fans_out_in_order_without_loss() -> None:
    hub = EventHub()
    first, second = hub.subscribe(), hub.subscribe()
    sent = [CallAnswered(call_id=str(i), channel=f"PJSIP/x-{i}") for i in range(500)]
    for ev in sent:
        hub.publish(ev)
    second.close()
    hub.publish(CallHungUp(call_id="late"))
    hub.close()
    got_first = [ev async for ev in first]
    got_second = [ev async for ev in second]
    assert got_first == [*sent, CallHungUp(call_id="late")]
    assert got_second == sent
    assert port.events_of(got_first, CallHungUp) == [CallHungUp(call_id="late")]


async def test_with_timeout_raises_command_timeout() -> None:
    with pytest.raises(CommandTimeout) as err:
        await port.with_timeout("Redirect", 0.05, asyncio.sleep(1))
    assert err.value.command == "Redirect"
    assert await port.with_timeout("Ping", 1, asyncio.sleep(0, result="pong")) == "pong"
