"""Base model and the constrained value types shared by every config file.

Each check raises a ``PydanticCustomError`` whose message already says what was expected, so a
problem reads ``got 6 (expected an integer from 1 to 5)`` rather than pydantic's generic text.
"""

from __future__ import annotations

import difflib
import re
import zoneinfo
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict
from pydantic_core import PydanticCustomError


class ConfigModel(BaseModel):
    """Strict: YAML already gives typed values, so "8080" for a port is a mistake, not a port.

    Unknown keys are errors so that typos never silently fall back to defaults.
    """

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


def _fail(value: Any, expected: str) -> PydanticCustomError:
    return PydanticCustomError("invalid", "got {value} (expected {expected})",
                               {"value": _show(value), "expected": expected})


def _show(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # strict float fields turn 120 into 120.0; show what was written
    return repr(value) if isinstance(value, str) else str(value)


def in_range(lo: float | None, hi: float | None, kind: str) -> Callable[[Any], Any]:
    """An after-validator rejecting numbers outside [lo, hi] with both bounds in the message."""
    if lo is not None and hi is not None:
        expected = f"{kind} from {lo} to {hi}"
    elif lo is not None:
        expected = f"{kind} >= {lo}"
    else:
        expected = f"{kind} <= {hi}"

    def check(value: Any) -> Any:
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise _fail(value, expected)
        return value

    return check


def pattern(regex: str, expected: str) -> Callable[[str], str]:
    compiled = re.compile(regex)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise _fail(value, expected)
        return value

    return check


Port = Annotated[int, AfterValidator(in_range(1, 65535, "a port number"))]
Seconds = Annotated[int, AfterValidator(in_range(0, 86400, "a whole number of seconds"))]
Proficiency = Annotated[int, AfterValidator(in_range(1, 5, "a proficiency"))]
Score = Annotated[float, AfterValidator(in_range(0, 1, "a number"))]

Identifier = Annotated[str, AfterValidator(pattern(
    r"[A-Za-z][A-Za-z0-9_.-]{0,63}",
    "an id: a letter, then letters, digits, '_', '-' or '.'; at most 64 characters"))]
LanguageCode = Annotated[str, AfterValidator(pattern(
    r"[a-z]{2,3}(-[A-Z]{2})?", "a language code such as 'en' or 'pt-BR'"))]
Host = Annotated[str, AfterValidator(pattern(
    r"[A-Za-z0-9_.:-]+|\[[0-9A-Fa-f:]+\]", "a host name or IP address"))]
NonEmpty = Annotated[str, AfterValidator(pattern(r"(?s).*\S.*", "a non-empty string"))]
# TECHNOLOGY/resource, e.g. PJSIP/1001 (Asterisk) or user/1001 (FreeSWITCH)
Endpoint = Annotated[str, AfterValidator(pattern(
    r"[A-Za-z][A-Za-z0-9_]*/\S+", "a dial string such as 'PJSIP/1001' or 'user/1001'"))]
EmailAddress = Annotated[str, AfterValidator(pattern(
    r"[^@\s]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+", "an e-mail address such as 'help@example.com'"))]
Domain = Annotated[str, AfterValidator(pattern(
    r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+", "a domain name such as 'example.com'"))]


def _did_is_text(value: Any) -> Any:
    # YAML reads +4930123456 as an int (losing the '+') and 0301234 as octal.
    if isinstance(value, int) and not isinstance(value, bool):
        raise PydanticCustomError(
            "invalid", "got the number {value} (expected a quoted string such as '+4930123456'; "
            "YAML drops a leading '+' or '0' from unquoted numbers)", {"value": str(value)})
    return value


Did = Annotated[str, BeforeValidator(_did_is_text), AfterValidator(pattern(
    r"\+?[0-9]{2,15}", "a dialled number: digits with an optional leading '+'"))]


def _check_zone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        close = difflib.get_close_matches(value, zoneinfo.available_timezones(), n=1)
        hint = f"'{close[0]}'" if close else "'Europe/Berlin'"
        raise _fail(value, f"an IANA time zone such as {hint}") from None
    return value


TimeZoneName = Annotated[str, AfterValidator(_check_zone)]

Channel = Literal["voice", "video", "chat", "email"]
CHANNELS: tuple[Channel, ...] = ("voice", "video", "chat", "email")
# Channels carried by the PBX (the others arrive through the email and chat adapters).
CALL_CHANNELS: frozenset[str] = frozenset({"voice", "video"})
