"""Structured log lines and PII masking."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cc_core.logs import log_event, mask_phone_field, mask_pii, setup_logging


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        # E.164, with and without grouping
        ("+49301234567", "+4930*****67"),
        ("call from +49 30 1234567 to queue sales", "call from +49 30 *****67 to queue sales"),
        ("+1 (415) 555-0123", "+1 (415) ***-**23"),
        ("+49 (0)30 123 45 67", "+49 (0)3* *** ** 67"),
        ("+33 1 23 45 67 89", "+33 1 2* ** ** 89"),
        ("tel:+442079460958", "tel:+4420******58"),
        ("+4930123456 5 agents waiting", "+4930****56 5 agents waiting"),
        # national formats with spaces, dashes, slashes, brackets
        ("030 1234567", "030 1****67"),
        ("030-123 45 67", "030-1** ** 67"),
        ("(030) 1234567", "(030) 1****67"),
        ("0171/1234567", "0171/*****67"),
        ("0049 30 1234567", "0049 ** *****67"),
        ("(415) 555-0123", "(415) 5**-**23"),
        ("415-555-0123", "415-5**-**23"),
        ("waiting 3, caller 0301234567.", "waiting 3, caller 0301****67."),
        # SIP URIs and channels holding numbers
        ("sip:+4930123456@10.0.0.5:5060", "sip:+4930****56@10.0.0.5:5060"),
        ("<sip:0301234567@pbx.local;user=phone>", "<sip:0301****67@pbx.local;user=phone>"),
        ("Local/+4930123456@cc-connect-0000001;1", "Local/+4930****56@cc-connect-0000001;1"),
        ("sip:alice@pbx.example.com", "sip:a***@pbx.example.com"),
        # email addresses, bare and in angle brackets
        ("alice@example.com", "a***@example.com"),
        ('From: "Alice" <alice.smith+cc@example.co.uk>', 'From: "Alice" <a***@example.co.uk>'),
        ("reply to bob@mail.example.org, cc carol@example.com", "reply to b***@mail.example.org, cc c***@example.com"),  # noqa: E501
    ],
)
def test_pii_is_masked(raw: str, masked: str) -> None:
    assert mask_pii(raw) == masked


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-21T20:02:25.123Z",
        "1763700000.123456",
        "uniqueid=1763700000.42 linkedid=1763700000.41",
        "ix-0301234567",
        "01234567-89ab-cdef-0123-456789abcdef",
        "12345678-1234-5678-1234-567812345678",
        "127.0.0.1:5060",
        "listening on [::1]:45038 and 192.168.100.200:8021",
        "05/01/2026 and 05.01.2026 and 2026-01-05",
        "version 0.17.6",
        "PJSIP/trunk-0000001a",
        "sip:1001@pbx",
        "agent1001 at 0x7f6b0f6b1850",
        "queue_id=0001234 took 00:01:23, elapsed=0.000123456",
        "epoch ms 1763700000123, count 4930123456",
    ],
)
def test_ids_timestamps_and_ports_are_untouched(text: str) -> None:
    assert mask_pii(text) == text


def test_phone_fields_mask_bare_numbers_but_not_extensions() -> None:
    assert mask_phone_field("4930123456") == "4930****56"
    assert mask_phone_field("1001") == "1001"
    assert mask_phone_field("anonymous") == "anonymous"


@pytest.fixture
def logged() -> Iterator[io.StringIO]:
    """Text-format logging into a buffer; the root logger is restored afterwards."""
    root = logging.getLogger()
    before = (root.level, list(root.handlers))
    buf = io.StringIO()
    setup_logging("debug", json=False, stream=buf)
    yield buf
    for h in list(root.handlers):
        if h not in before[1]:
            root.removeHandler(h)
    root.setLevel(before[0])


def lines(buf: io.StringIO) -> list[str]:
    return buf.getvalue().splitlines()


def test_text_line_is_key_value_with_fields_masked(logged: io.StringIO) -> None:
    log = logging.getLogger("cc_core.acd")
    log_event(
        log, "call.arrived",
        caller="+49301234567", email="alice@example.com", queue="sales", port=5060,
        interaction_id="ix-0301234567", wait=1.5, vip=True, note=None,
    )
    [line] = lines(logged)
    assert line.startswith("ts=")
    assert " level=info logger=cc_core.acd event=call.arrived " in line
    assert line.endswith(
        "caller=+4930*****67 email=a***@example.com queue=sales port=5060 "
        "interaction_id=ix-0301234567 wait=1.5 vip=true note=null"
    )


def test_message_text_is_masked_and_quoted(logged: io.StringIO) -> None:
    logging.getLogger("x").warning("caller %s said \"hi\"\nbye", "+49 30 1234567")
    [line] = lines(logged)
    assert 'level=warning logger=x event="caller +49 30 *****67 said \\"hi\\"\\nbye"' in line


def test_bare_numbers_are_masked_in_phone_fields_only(logged: io.StringIO) -> None:
    log_event(logging.getLogger("x"), "ivr.input", ani=4930123456, digits="4930123456")
    [line] = lines(logged)
    assert "ani=4930****56 digits=4930123456" in line


def test_json_line_keeps_types_and_masks(logged: io.StringIO) -> None:
    buf = io.StringIO()
    setup_logging("info", json=True, stream=buf)
    log_event(
        logging.getLogger("cc_core.api"), "chat.started",
        customer={"email": "bob@example.org", "phone": "+4930123456", "tier": 2},
        tags=["vip", "bob@example.org"], score=0.5, jitter=float("nan"),
    )
    assert logged.getvalue() == ""  # the second set-up replaced the first handler
    [line] = lines(buf)
    rec = json.loads(line)
    assert rec["event"] == "chat.started" and rec["level"] == "info"
    assert rec["customer"] == {"email": "b***@example.org", "phone": "+4930****56", "tier": 2}
    assert rec["tags"] == ["vip", "b***@example.org"]
    assert rec["score"] == 0.5
    assert rec["jitter"] == "nan"  # still strict JSON


def test_masking_can_be_turned_off(logged: io.StringIO) -> None:
    buf = io.StringIO()
    setup_logging("info", json=False, mask_pii=False, stream=buf)
    log_event(logging.getLogger("x"), "call.arrived", caller="+49301234567")
    assert "caller=+49301234567" in buf.getvalue()


def test_level_filters_and_bad_level_is_explained(logged: io.StringIO) -> None:
    setup_logging("WARNING", stream=logged)
    log_event(logging.getLogger("x"), "quiet")
    log_event(logging.getLogger("x"), "loud", logging.ERROR)
    assert [line.split(" event=")[1] for line in lines(logged)] == ["loud"]
    with pytest.raises(ValueError, match="log level: got 'chatty'"):
        setup_logging("chatty")


def test_exceptions_stay_on_one_line_and_are_masked(logged: io.StringIO) -> None:
    try:
        raise RuntimeError("no route for +49301234567")
    except RuntimeError:
        logging.getLogger("x").exception("route.failed")
    [line] = lines(logged)
    assert "exc=\"Traceback" in line and "RuntimeError: no route for +4930*****67" in line


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("boom")

    def __repr__(self) -> str:
        raise RuntimeError("boom")


def test_odd_input_never_raises(logged: io.StringIO, capsys: pytest.CaptureFixture[str]) -> None:
    # Only our handler: pytest's own capture handler re-raises formatting errors by design.
    log = logging.getLogger("odd")
    log.propagate = False
    ours = [h for h in logging.getLogger().handlers if getattr(h, "_cc_structured", False)]
    log.handlers = ours
    try:
        _log_odd_things(log)
    finally:
        log.handlers = []
        log.propagate = True
    out = lines(logged)
    assert len(out) == 4
    assert "msg=\"shadowing msg\" args=\"and args\" level_=\"and level\"" in out[0]
    assert "event_=\"and event\" obj=\"<unprintable Unprintable>\"" in out[0]
    assert "sip:+4930****56@pbx" in out[0] and "two_words=1 _=2" in out[0]
    assert "event=\"bad %d args args=('not-a-number',)\"" in out[1]
    assert "event=\"<unprintable Unprintable>\"" in out[2]
    assert "caller=+4930*****67" in out[3]
    assert capsys.readouterr().err == ""  # logging printed no "--- Logging error ---"


def _log_odd_things(log: logging.Logger) -> None:
    log_event(
        log, "odd.fields",
        msg="shadowing msg", args="and args", level="and level", event="and event",
        obj=Unprintable(), raw=b"\xff\x00sip:+4930123456@pbx", surrogate="\udcff",
        nested={"deep": [[[[[["x"]]]]]]}, **{"two words": 1, "": 2},
    )
    log.info("bad %d args", "not-a-number")
    log.info(Unprintable())
    log.info("extra style", extra={"caller": "+49301234567"})


@given(st.text())
def test_masking_never_raises_and_leaves_plain_text_alone(text: str) -> None:
    out = mask_pii(text)
    if "@" not in text and not any(ch.isdigit() for ch in text):
        assert out == text


@given(
    cc=st.sampled_from(["1", "33", "44", "49", "353"]),
    rest=st.text("0123456789", min_size=7, max_size=11),
    before=st.sampled_from(["", "call from ", "tel:", "<sip:", "caller="]),
    after=st.sampled_from(["", " now", ">", "@pbx.example.com", ", queue 3"]),
)
def test_e164_numbers_never_survive(cc: str, rest: str, before: str, after: str) -> None:
    number = f"+{cc}{rest}"
    out = mask_pii(before + number + after)
    assert number not in out
    assert out.startswith(before) and out.endswith(after)
