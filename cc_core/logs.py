"""Structured logging: one line per event, key=value text (default) or JSON, PII masked.

House style: an event name in dotted lower case plus fields, through `log_event`:

    log = logging.getLogger(__name__)
    log_event(log, "call.arrived", caller="+4930123456", queue="sales")
    log_event(log, "agent.lost", logging.WARNING, agent_id="a-17", node="acd-2")

which prints

    ts=2026-11-21T20:02:25.123Z level=info logger=cc_core.acd event=call.arrived
        caller=+4930****56 queue=sales                                   (on one line)

Records from other libraries (plain messages, `extra=` fields) go through the same formatter.
Phone numbers and email addresses are masked in the message, in field values and in exception
text unless `mask_pii=False`. Formatting never raises: an odd value is shown by its repr.
"""

from __future__ import annotations

import datetime as dt
import functools
import json as jsonlib
import logging
import math
import re
import sys
from collections.abc import Mapping
from typing import Any, TextIO

__all__ = ["StructuredFormatter", "log_event", "mask_phone_field", "mask_pii", "setup_logging"]

_FIELDS_ATTR = "cc_fields"
_STANDARD_ATTRS = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__
) | {"message", "asctime", "taskName", _FIELDS_ATTR}

# -- masking ---------------------------------------------------------------------------------

# user@host; the host may be a name without dots (sip:1001@pbx) or an address.
_EMAIL_RE = re.compile(
    r"(?<![\w.%+-])(?P<local>[\w.%+-]+)@"
    r"(?P<host>[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*)"
)

# Phone numbers in free text. Dots are never separators, so IP addresses, versions and decimals
# stay intact; a number must start a token (not follow a letter, digit, '-', '.' or '*'), which
# keeps ids, UUIDs, dates and masked output untouched. Bare digit runs without '+' or a leading
# 0 (4930123456, 1763700000) are left alone here: they look like timestamps and counters. Put
# such numbers in a phone field (caller=..., see _PHONE_KEYS) to have them masked. No number
# dials out with 000, so zero-padded ids (0001234) are left alone too.
_PHONE_RE = re.compile(
    r"""
    (?=[+(\d])                                         # cheap first test at every position
    (?:
        (?<![\w+*.\-])\+\d{1,4}(?:[ \-]?\d)?           # +CC and maybe a one-digit area (+33 1)
            (?:[ \-/]?(?:\(\d{1,5}\)|\d{2,}))+         # groups, '(0)' or '(30)' allowed
      | (?<![\w+*./\-])\(0\d{1,5}\)(?:[ \-/]?\d{2,})+  # (030) 1234567
      | (?<![\w+*./\-])00?[1-9]\d{0,4}                 # trunk prefix 0 or 00 ...
            (?:/\d{3,}(?:[ \-]?\d{2,})*|(?:[ \-]?\d{2,})+)   # 0171/1234567, 030 123 45 67
      | (?<![\w+*./\-])\(\d{3}\)\ ?\d{3}[ \-]\d{4}     # (415) 555-0123
      | (?<![\w+*./\-])\d{3}[ \-]\d{3}[ \-]\d{4}       # 415-555-0123
    )
    (?![\w*]|[.\-]\w)                                  # and must end a token
    """,
    re.VERBOSE,
)
_DIGIT_RE = re.compile(r"\d")
_HAS_DIGIT = _DIGIT_RE.search
_ANY_DIGITS_RE = re.compile(r"\+?\(?\d[\d \-/().]*\d")
_MIN_DIGITS, _MAX_DIGITS = 7, 17  # E.164 allows 15; '(0)' and '00' add up to two

# Fields whose value is a phone number even without '+' or a trunk prefix.
_PHONE_KEYS = frozenset(
    {
        "caller", "callee", "callerid", "calleridnum", "callernum", "callernumber",
        "callednumber", "connectedlinenum", "cidnum", "ani", "dnis", "msisdn", "phone",
        "phonenumber", "mobile", "from", "to", "number",
    }
)


def _mask_digits(text: str) -> str:
    """Keep the first digits and the last two, star the others, keep every separator."""
    where = [m.start() for m in _DIGIT_RE.finditer(text)]
    head = 4 if len(where) >= 10 else 2
    out = list(text)
    for i in where[head:-2]:
        out[i] = "*"
    return "".join(out)


def _phone_match(m: re.Match[str]) -> str:
    text = m.group(0)
    n = sum(map(str.isdigit, text))
    return _mask_digits(text) if _MIN_DIGITS <= n <= _MAX_DIGITS else text


def _email_match(m: re.Match[str]) -> str:
    local, host = m.group("local"), m.group("host")
    digits = local.removeprefix("+")
    if digits.isdigit():
        # sip:+4930123456@host is a phone number; sip:1001@pbx is an extension, not personal.
        return f"{_mask_digits(local) if len(digits) >= _MIN_DIGITS else local}@{host}"
    return f"{local[0]}***@{host}"


def mask_pii(text: str) -> str:
    """Mask email addresses and phone numbers found in free text."""
    if "@" in text:
        text = _EMAIL_RE.sub(_email_match, text)
    return _PHONE_RE.sub(_phone_match, text) if _HAS_DIGIT(text) else text


def mask_phone_field(text: str) -> str:
    """Mask a value known to be a phone number: any run of 6+ digits, prefixed or not."""
    if "@" in text:
        text = _EMAIL_RE.sub(_email_match, text)
    return _ANY_DIGITS_RE.sub(_field_digits_match, text)


def _field_digits_match(m: re.Match[str]) -> str:
    text = m.group(0)
    return _mask_digits(text) if sum(map(str.isdigit, text)) >= 6 else text


@functools.lru_cache(maxsize=1024)
def _is_phone_key(key: str) -> bool:
    k = key.lower().replace("_", "").replace("-", "")
    return k in _PHONE_KEYS or k.endswith(("phone", "msisdn", "callerid", "calleridnum"))


# -- rendering -------------------------------------------------------------------------------


def _safe_str(value: object) -> str:
    try:
        text = value if isinstance(value, str) else str(value)
    except Exception:
        try:
            text = repr(value)
        except Exception:
            text = f"<unprintable {type(value).__name__}>"
    if text.isascii():
        return text
    # Lone surrogates would make the stream's write fail later, away from any handler.
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _clean(value: object, key: str, mask: bool, depth: int = 0) -> Any:
    """A JSON-ready copy of a field value, masked when asked."""
    if type(value) is str:  # the common case first
        return _clean_text(value, key, mask)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # NaN and Infinity are not JSON
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, int):
        return mask_phone_field(str(value)) if mask and _is_phone_key(key) else value
    if isinstance(value, bytes | bytearray):
        value = bytes(value).decode("utf-8", "backslashreplace")
    if depth < 4 and isinstance(value, Mapping):
        return {_safe_str(k): _clean(v, _safe_str(k), mask, depth + 1) for k, v in value.items()}
    if depth < 4 and isinstance(value, list | tuple | set | frozenset):
        return [_clean(v, key, mask, depth + 1) for v in value]
    return _clean_text(value, key, mask)


def _clean_text(value: object, key: str, mask: bool) -> str:
    text = _safe_str(value)
    if not mask:
        return text
    return mask_phone_field(text) if _is_phone_key(key) else mask_pii(text)


_BARE_RE = re.compile(r"^[^\s\"=\\]+$")
_KEY_RE = re.compile(r"[^A-Za-z0-9_.\-]")


def _logfmt_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        value = jsonlib.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    text = str(value)
    if _BARE_RE.match(text):
        return text
    escaped = (
        text.replace("\\", "\\\\").replace('"', '\\"')
        .replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    )
    return f'"{escaped}"'


class StructuredFormatter(logging.Formatter):
    """Formats a record as one logfmt or JSON line; see the module docstring."""

    def __init__(self, json: bool = False, mask_pii: bool = True) -> None:
        super().__init__()
        self.json = json
        self.mask = mask_pii

    def format(self, record: logging.LogRecord) -> str:
        try:
            return self._format(record)
        except Exception as exc:
            return self._render(
                {
                    "ts": self._ts(record),
                    "level": "error",
                    "logger": "cc_core.logs",
                    "event": "log.unformattable",
                    "source_logger": _safe_str(getattr(record, "name", "?")),
                    "error": _safe_str(exc),
                }
            )

    @staticmethod
    def _ts(record: logging.LogRecord) -> str:
        stamp = dt.datetime.fromtimestamp(record.created, tz=dt.UTC)
        return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def _message(self, record: logging.LogRecord) -> str:
        try:
            return record.getMessage()
        except Exception:
            shown = _safe_str(record.msg)
            return f"{shown} args={_safe_str(record.args)}" if record.args else shown

    def _format(self, record: logging.LogRecord) -> str:
        message = _safe_str(self._message(record))
        line: dict[str, Any] = {
            "ts": self._ts(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": mask_pii(message) if self.mask else message,
        }
        fields: dict[str, object] = {}
        given = getattr(record, _FIELDS_ATTR, None)
        if isinstance(given, Mapping):
            fields.update(given)
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                fields[key] = value
        for key, value in fields.items():
            name = _safe_str(key)
            if not self.json:
                name = _KEY_RE.sub("_", name) or "_"
            while name in line:  # a field never hides ts, level, logger or event
                name += "_"
            line[name] = _clean(value, name, self.mask)
        if record.exc_info and record.exc_info[0] is not None:
            exc_text = _safe_str(self.formatException(record.exc_info))
            line["exc"] = mask_pii(exc_text) if self.mask else exc_text
        if record.stack_info:
            line["stack"] = _safe_str(record.stack_info)
        return self._render(line)

    def _render(self, line: dict[str, Any]) -> str:
        if self.json:
            return jsonlib.dumps(line, ensure_ascii=False, default=_safe_str)
        return " ".join(f"{k}={_logfmt_value(v)}" for k, v in line.items())


def log_event(
    logger: logging.Logger, event: str, level: int = logging.INFO, /, **fields: object
) -> None:
    """Log `event` with `fields`; any field name is allowed, `msg` and `level` included."""
    try:
        if logger.isEnabledFor(level):
            # stacklevel=2 credits the caller, not this helper, in the record's location.
            logger.log(level, event, extra={_FIELDS_ATTR: fields}, stacklevel=2)
    except Exception:
        logging.getLogger(__name__).error("log.event_failed", extra={"event_name": event})


_LEVELS = {"debug": 10, "info": 20, "warning": 30, "warn": 30, "error": 40, "critical": 50}


def _parse_level(level: int | str) -> int:
    if isinstance(level, int) and not isinstance(level, bool) and level >= 0:
        return level
    if isinstance(level, str) and level.strip().lower() in _LEVELS:
        return _LEVELS[level.strip().lower()]
    raise ValueError(
        f"log level: got {level!r}, expected one of {', '.join(_LEVELS)} or an int >= 0"
    )


def setup_logging(
    level: int | str = "info",
    json: bool = False,
    mask_pii: bool = True,
    *,
    stream: TextIO | None = None,
) -> logging.Handler:
    """Send every record to `stream` (stderr by default) as one structured line.

    Calling it again replaces the handler it installed before, so a service can switch level
    or format at run time. Returns the handler.
    """
    lvl = _parse_level(level)
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_cc_structured", False):
            root.removeHandler(old)
            old.close()
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(StructuredFormatter(json=json, mask_pii=mask_pii))
    handler._cc_structured = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(lvl)
    return handler
