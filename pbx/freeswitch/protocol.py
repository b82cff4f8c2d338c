"""ESL wire format, shared by the inbound link and the outbound server. Pure: no I/O.

A frame is a block of ``Name: value`` lines, a blank line, then ``Content-Length`` bytes of body.
Events come as ``text/event-plain`` (the body is itself header lines, URL-encoded values, and an
optional body of its own, e.g. a BACKGROUND_JOB's result) or ``text/event-json``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote

EVENT_TYPES = frozenset({"text/event-plain", "text/event-json"})
REPLY_TYPES = frozenset({"command/reply", "api/response"})


class MalformedFrame(ValueError):
    """Bytes from FreeSWITCH that do not follow the ESL framing (the message says what)."""


@dataclass(frozen=True, slots=True)
class EslEvent:
    """One event: decoded headers (``Event-Name``, ``Unique-ID``...) and the event's own body."""

    headers: Mapping[str, str]
    body: str = ""

    @property
    def name(self) -> str:
        return self.headers.get("Event-Name", "")

    @property
    def subclass(self) -> str:
        return self.headers.get("Event-Subclass", "")

    def get(self, name: str, default: str = "") -> str:
        return self.headers.get(name, default)


@dataclass(frozen=True, slots=True)
class EslReply:
    """A ``command/reply`` (text in ``Reply-Text``) or an ``api/response`` (text in the body)."""

    headers: Mapping[str, str] = field(default_factory=dict)
    body: str = ""

    @property
    def text(self) -> str:
        if self.headers.get("Content-Type") == "api/response":
            return self.body
        return self.headers.get("Reply-Text", "")

    @property
    def ok(self) -> bool:
        return not self.text.startswith("-ERR")


class EncodedHeaders(Mapping[str, str]):
    """Event headers whose values are URL-decoded when first read: a channel event carries
    about a hundred, and the mapping reads a dozen."""

    __slots__ = ("_decoded", "_raw")

    def __init__(self, raw: dict[str, str]) -> None:
        self._raw = raw
        self._decoded: dict[str, str] = {}

    def __getitem__(self, key: str) -> str:
        value = self._decoded.get(key)
        if value is None:
            value = self._raw[key]
            if "%" in value:
                value = unquote(value)
            self._decoded[key] = value
        return value

    def __contains__(self, key: object) -> bool:
        return key in self._raw

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def __repr__(self) -> str:
        return f"EncodedHeaders({dict(self)!r})"


def parse_headers(block: str, *, decode: bool) -> Mapping[str, str]:
    """``Name: value`` lines; with ``decode`` the values are URL-encoded (event bodies)."""
    headers: dict[str, str] = {}
    for line in block.split("\n"):
        key, sep, value = line.partition(": ")
        if not sep:
            line = line.rstrip("\r")
            if not line:
                continue
            key, sep, value = line.partition(":")
            if not sep:
                raise MalformedFrame(f"header line without ':': {line[:80]!r}")
        elif value.endswith("\r"):
            value = value[:-1]
        headers[key] = value
    return EncodedHeaders(headers) if decode else headers


def parse_plain(text: str) -> EslEvent:
    """A ``text/event-plain`` body; its own body (after a blank line) is kept verbatim."""
    head, _, rest = text.partition("\n\n")
    headers = parse_headers(head, decode=True)
    if not headers.get("Event-Name"):
        raise MalformedFrame(f"event without Event-Name: {head[:80]!r}")
    body = rest
    length = headers.get("Content-Length")
    if length is not None:
        try:
            body = rest.encode()[: int(length)].decode("utf-8", "replace")
        except ValueError:
            raise MalformedFrame(f"event Content-Length {length!r} is not a number") from None
    return EslEvent(headers, body)


def parse_json(text: str) -> EslEvent:
    """A ``text/event-json`` body (its own body is the ``_body`` member)."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise MalformedFrame(f"event-json body is not JSON: {exc}") from None
    if not isinstance(data, dict) or not data.get("Event-Name"):
        raise MalformedFrame("event-json body without Event-Name")
    body = str(data.pop("_body", ""))
    return EslEvent({str(k): str(v) for k, v in data.items()}, body)


def parse_event(content_type: str, text: str) -> EslEvent:
    if content_type == "text/event-json":
        return parse_json(text)
    if content_type == "text/event-plain":
        return parse_plain(text)
    raise MalformedFrame(f"not an event content type: {content_type!r}")


def content_length(headers: Mapping[str, str]) -> int:
    raw = headers.get("Content-Length", "0") or "0"
    try:
        length = int(raw)
    except ValueError:
        raise MalformedFrame(f"Content-Length {raw!r} is not a number") from None
    if length < 0:
        raise MalformedFrame(f"negative Content-Length {length}")
    return length
