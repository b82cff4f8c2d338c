"""Splitting application arguments the way Asterisk's ``AST_STANDARD_APP_ARGS`` does."""

from __future__ import annotations

from dataclasses import dataclass

from pbx.sim.dialplan.errors import DialplanError


def split_args(data: str, delim: str = ",", *, limit: int | None = None) -> list[str]:
    """Split ``data`` on ``delim`` outside ``(...)``, ``[...]`` and double quotes.

    As in Asterisk, double quotes and backslashes are removed (a backslash keeps the next
    character literally) and an empty ``data`` gives no arguments. With ``limit``, at most
    ``limit`` pieces are returned; the last holds the rest of the text untouched.
    """
    if data == "":
        return []
    args: list[str] = []
    cur: list[str] = []
    paren = bracket = 0
    quote = False
    i = 0
    while i < len(data):
        ch = data[i]
        if ch == "\\":
            if i + 1 < len(data):
                cur.append(data[i + 1])
            i += 2
            continue
        if ch == '"' and delim != '"':
            quote = not quote
        elif ch == "(" and not quote:
            paren += 1
            cur.append(ch)
        elif ch == ")" and not quote:
            paren = max(0, paren - 1)
            cur.append(ch)
        elif ch == "[" and not quote:
            bracket += 1
            cur.append(ch)
        elif ch == "]" and not quote:
            bracket = max(0, bracket - 1)
            cur.append(ch)
        elif ch == delim and not (paren or bracket or quote):
            args.append("".join(cur))
            cur = []
            if limit is not None and len(args) == limit - 1:
                # Like Asterisk, the last slot takes the remaining text as it is.
                args.append(data[i + 1 :])
                return args
        else:
            cur.append(ch)
        i += 1
    args.append("".join(cur))
    return args


@dataclass(frozen=True, slots=True)
class GotoTarget:
    """Where ``Goto``/``GotoIf``/``Gosub`` send the call; ``priority`` may be a label, or a
    relative ``+N``/``-N``."""

    context: str
    exten: str
    priority: str


def parse_goto(data: str, context: str, exten: str) -> GotoTarget:
    """``[[context,]exten,]priority`` (``ast_parseable_goto``), relative to the current place."""
    parts = [p.strip() for p in split_args(data)]
    if not parts or not all(parts) or len(parts) > 3:
        raise DialplanError(f"Goto({data}): expected [[context,]exten,]priority")
    if len(parts) == 1:
        return GotoTarget(context, exten, parts[0])
    if len(parts) == 2:
        return GotoTarget(context, parts[0], parts[1])
    return GotoTarget(parts[0], parts[1], parts[2])


def split_condition(data: str) -> tuple[str, str, str]:
    """``GotoIf(cond?iftrue:iffalse)`` / ``ExecIf`` / ``IF()``: (condition, when true, when
    false); either branch may be empty."""
    cond_and_rest = split_args(data, "?", limit=2)
    if len(cond_and_rest) < 2:
        return data.strip(), "", ""
    cond, rest = cond_and_rest
    branches = split_args(rest, ":", limit=2)
    when_true = branches[0] if branches else ""
    when_false = branches[1] if len(branches) > 1 else ""
    return cond.strip(), when_true.strip(), when_false.strip()


def split_assignment(data: str) -> tuple[str, str]:
    """``Set(NAME=value)``: the name (possibly ``FUNC(args)``) and the value (may hold ``=``)."""
    name, sep, value = data.partition("=")
    if not sep or not name.strip():
        raise DialplanError(f"Set({data}): expected NAME=value")
    return name.strip(), value


def check_condition(value: str) -> bool:
    """``pbx_checkcondition``: empty is false, a leading integer is its truth, other text true."""
    text = value.strip()
    if not text:
        return False
    sign = 1
    digits = text
    if text[0] in "+-":
        sign = -1 if text[0] == "-" else 1
        digits = text[1:]
    lead = ""
    for ch in digits:
        if not ch.isdigit():
            break
        lead += ch
    if lead:
        return sign * int(lead) != 0
    return True
