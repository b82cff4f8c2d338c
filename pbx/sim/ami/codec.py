"""AMI framing: turn a byte stream into messages and messages into bytes.

Follows Asterisk's manager.c: lines end with CRLF or a bare LF, a blank line ends a message,
a line longer than the session input buffer poisons the whole message, lines without a colon
are kept (they simply never match a header lookup) and at most 128 lines are kept per message.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

# Asterisk reads each line into a 1025-byte buffer (1024 characters plus the terminator).
MAX_LINE = 1024
MAX_LINES = 128

Headers = Sequence[tuple[str, str]]


@dataclass(slots=True)
class Message:
    """One client message as Asterisk keeps it: raw lines, looked up by `Name:` prefix."""

    lines: list[str] = field(default_factory=list)
    line_too_long: bool = False

    def get(self, name: str) -> str:
        """First value of header `name` (case-insensitive), leading blanks stripped, or ''."""
        prefix = name.lower() + ":"
        n = len(prefix)
        for line in self.lines:
            if line[:n].lower() == prefix:
                return line[n:].lstrip(" \t")
        return ""

    def get_all(self, name: str) -> list[str]:
        prefix = name.lower() + ":"
        n = len(prefix)
        return [line[n:].lstrip(" \t") for line in self.lines if line[:n].lower() == prefix]

    def has(self, name: str) -> bool:
        prefix = name.lower() + ":"
        n = len(prefix)
        return any(line[:n].lower() == prefix for line in self.lines)


class Decoder:
    """Incremental parser: feed bytes as they arrive, collect complete messages."""

    def __init__(self, max_line: int = MAX_LINE, max_lines: int = MAX_LINES) -> None:
        self._buf = bytearray()
        self._current = Message()
        self._discarding = False  # inside an over-long line, dropping bytes until its end
        self._max_line = max_line
        self._max_lines = max_lines

    @property
    def pending(self) -> bool:
        """True when part of a message has been received but not its end."""
        return bool(self._buf) or bool(self._current.lines) or self._current.line_too_long

    def feed(self, data: bytes) -> list[Message]:
        out: list[Message] = []
        buf = self._buf
        buf += data
        start = 0
        while True:
            nl = buf.find(b"\n", start)
            if nl < 0:
                break
            raw = bytes(buf[start:nl])
            start = nl + 1
            if self._discarding:
                self._discarding = False
                continue
            if len(raw) > self._max_line + 1:
                self._current.line_too_long = True
                continue
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            line = raw.decode("utf-8", "replace")
            if not line.strip():
                msg = self._current
                if msg.lines or msg.line_too_long:
                    out.append(msg)
                self._current = Message()
                continue
            if len(self._current.lines) < self._max_lines:
                self._current.lines.append(line)
        del buf[:start]
        if len(buf) > self._max_line:
            # The line in progress is already too long: drop it now so memory stays bounded.
            self._current.line_too_long = True
            self._discarding = True
            buf.clear()
        return out


def encode(headers: Iterable[tuple[str, str]]) -> bytes:
    """One AMI message: `Name: value` lines with CRLF, then the blank line."""
    return ("".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n").encode()


def decode_stream(data: bytes) -> list[list[tuple[str, str]]]:
    """Split a recorded server stream (banner stripped) into header lists; for tests and tools."""
    text = data.decode("utf-8", "replace").replace("\r\n", "\n")
    result = []
    for block in text.split("\n\n"):
        lines = [ln for ln in block.split("\n") if ln]
        if lines and lines[0].startswith("Asterisk Call Manager/"):
            lines = lines[1:]
        if lines:
            result.append([_split(ln) for ln in lines])
    return result


def _split(line: str) -> tuple[str, str]:
    name, _, value = line.partition(":")
    return name, value[1:] if value.startswith(" ") else value
