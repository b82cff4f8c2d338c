"""Event-socket framing as mod_event_socket does it.

Client to server: a command is a run of LF-terminated lines (CR tolerated) ending with a blank
line; `sendmsg` and `bgapi` carry extra `Name: value` lines, and a `Content-Length` header is
followed by that many body bytes. Server to client: `Name: value` headers, a blank line, then
`Content-Length` bytes of body. Events travel as `text/event-plain` (URL-encoded header values)
or `text/event-json` (a JSON object, body under `_body`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import unquote

Headers = Sequence[tuple[str, str]]

# A command larger than this is refused and the connection dropped, so a client that never
# sends the blank line cannot make the server buffer without bound.
MAX_COMMAND = 64 * 1024
MAX_BODY = 1024 * 1024

# switch_url_encode escapes these (and control / non-ASCII bytes); everything else stays as is,
# which is why FreeSWITCH headers read "Sat,%2021%20Nov" and "tone_stream%3A//%25(300,200,440)".
_URL_UNSAFE = frozenset(b' #%&+:;<=>?@[\\]^`{|}"')
_URL_TABLE = [
    (f"%{b:02X}" if (b in _URL_UNSAFE or b < 0x20 or b > 0x7E) else chr(b)) for b in range(256)
]


def url_encode(value: str) -> str:
    if value.isalnum():
        return value
    return "".join(_URL_TABLE[b] for b in value.encode())


def url_decode(value: str) -> str:
    return unquote(value)


@dataclass(slots=True)
class Command:
    """One client command: the first line, then `Name: value` lines, then an optional body."""

    line: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: str = ""

    def get(self, name: str, default: str = "") -> str:
        low = name.lower()
        for k, v in self.headers:
            if k.lower() == low:
                return v
        return default


class FrameTooLarge(Exception):
    """The peer sent a command (or body) beyond the limits above."""


class CommandDecoder:
    """Incremental parser of client commands (also used for server frames in tests)."""

    def __init__(self, max_command: int = MAX_COMMAND, max_body: int = MAX_BODY) -> None:
        self._buf = bytearray()
        self._max_command = max_command
        self._max_body = max_body

    @property
    def pending(self) -> bool:
        return bool(self._buf.strip(b"\r\n"))

    def feed(self, data: bytes) -> list[Command]:
        self._buf += data
        out: list[Command] = []
        while True:
            cmd = self._take()
            if cmd is None:
                break
            out.append(cmd)
        return out

    def _take(self) -> Command | None:
        buf = self._buf
        # Blank lines between commands are ignored, as the server skips empty reads.
        start = 0
        while start < len(buf) and buf[start] in (0x0A, 0x0D):
            start += 1
        if start:
            del buf[:start]
        end = buf.find(b"\n\n")
        end_crlf = buf.find(b"\r\n\r\n")
        if end_crlf != -1 and (end == -1 or end_crlf < end):
            end, sep = end_crlf, 4
        else:
            sep = 2
        if end == -1:
            if len(buf) > self._max_command:
                raise FrameTooLarge(f"command longer than {self._max_command} bytes")
            return None
        head = bytes(buf[:end]).decode("utf-8", "replace")
        lines = [ln.rstrip("\r") for ln in head.split("\n")]
        cmd = Command(lines[0].strip())
        for ln in lines[1:]:
            name, sep_, value = ln.partition(":")
            if sep_:
                cmd.headers.append((name.strip(), value.strip()))
        length = cmd.get("Content-Length")
        n = 0
        if length:
            try:
                n = int(length)
            except ValueError:
                n = -1
            if n < 0 or n > self._max_body:
                raise FrameTooLarge(f"bad Content-Length {length!r}")
        if len(buf) < end + sep + n:
            return None
        cmd.body = bytes(buf[end + sep : end + sep + n]).decode("utf-8", "replace")
        del buf[: end + sep + n]
        return cmd


def frame(headers: Iterable[tuple[str, str]], body: str | bytes = b"") -> bytes:
    """One server frame; Content-Length is appended after the given headers when there is a body."""
    raw = body.encode() if isinstance(body, str) else body
    out = [f"{k}: {v}\n" for k, v in headers]
    if raw:
        out.append(f"Content-Length: {len(raw)}\n")
    out.append("\n")
    return "".join(out).encode() + raw


def command_reply(text: str, extra: Iterable[tuple[str, str]] = ()) -> bytes:
    return frame([("Content-Type", "command/reply"), ("Reply-Text", text), *extra])


def api_response(body: str) -> bytes:
    # An empty body still carries Content-Length: 0 in FreeSWITCH; keep the header always.
    raw = body.encode()
    return f"Content-Type: api/response\nContent-Length: {len(raw)}\n\n".encode() + raw


DISCONNECT_BODY = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"


def disconnect_notice(extra: Iterable[tuple[str, str]] = ()) -> bytes:
    raw = DISCONNECT_BODY.encode()
    head = [("Content-Type", "text/disconnect-notice"), *extra, ("Content-Length", str(len(raw)))]
    return "".join(f"{k}: {v}\n" for k, v in head).encode() + b"\n" + raw


def event_plain_body(headers: Headers, body: str = "") -> bytes:
    """The serialized event (what `uuid_dump` and `text/event-plain` carry)."""
    parts = [f"{k}: {url_encode(v)}\n" for k, v in headers]
    if body:
        raw = body.encode()
        parts.append(f"Content-Length: {len(raw)}\n\n")
        return "".join(parts).encode() + raw
    parts.append("\n")
    return "".join(parts).encode()


def event_plain(headers: Headers, body: str = "") -> bytes:
    payload = event_plain_body(headers, body)
    return f"Content-Length: {len(payload)}\nContent-Type: text/event-plain\n\n".encode() + payload


def event_json_text(headers: Headers, body: str = "") -> str:
    obj: dict[str, str] = {}
    for k, v in headers:
        obj[k] = v
    if body:
        obj["Content-Length"] = str(len(body.encode()))
        obj["_body"] = body
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def event_json(headers: Headers, body: str = "") -> bytes:
    payload = event_json_text(headers, body).encode()
    return f"Content-Length: {len(payload)}\nContent-Type: text/event-json\n\n".encode() + payload


def parse_frames(data: bytes) -> tuple[list[tuple[list[tuple[str, str]], bytes]], bytes]:
    """Split server output into (headers, body) frames; returns the unparsed rest too."""
    out: list[tuple[list[tuple[str, str]], bytes]] = []
    i = 0
    while True:
        j = data.find(b"\n\n", i)
        if j == -1:
            break
        hdrs: list[tuple[str, str]] = []
        for ln in data[i:j].decode("utf-8", "replace").split("\n"):
            k, _, v = ln.partition(": ")
            hdrs.append((k, v))
        n = int(dict(hdrs).get("Content-Length", "0") or 0)
        if len(data) < j + 2 + n:
            break
        out.append((hdrs, data[j + 2 : j + 2 + n]))
        i = j + 2 + n
    return out, data[i:]


def parse_event_plain(payload: bytes) -> tuple[list[tuple[str, str]], bytes]:
    """Headers (values URL-decoded) and body of a text/event-plain payload."""
    j = payload.find(b"\n\n")
    head = payload if j == -1 else payload[:j]
    hdrs = []
    for ln in head.decode("utf-8", "replace").split("\n"):
        if ln:
            k, _, v = ln.partition(": ")
            hdrs.append((k, url_decode(v)))
    body = b"" if j == -1 else payload[j + 2 :]
    return hdrs, body
