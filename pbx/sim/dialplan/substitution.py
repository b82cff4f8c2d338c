"""``${...}`` and ``$[...]`` substitution, following ``pbx_substitute_variables_helper``.

* ``${NAME}`` reads a variable; unknown names give ``""``.
* ``${NAME:offset}`` / ``${NAME:offset:length}``: a negative offset counts from the end, a
  negative length drops that many characters from the end.
* ``${FUNC(args)}`` calls a dialplan function (name case-insensitive); ``${FUNC(args):o:l}`` too.
* Substitution nests: ``${VAR_${N}}``, ``${LEN(${X})}``, ``$[${A} + 1]``.
* ``$[expr]`` is evaluated by :func:`pbx.sim.dialplan.expressions.evaluate` after the inside is
  substituted.

Values are never re-scanned, so a value holding ``${...}`` stays literal.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping

from pbx.sim.dialplan.args import check_condition, split_args, split_condition
from pbx.sim.dialplan.errors import DialplanError
from pbx.sim.dialplan.expressions import Warn, evaluate

VariableLookup = Callable[[str], str | None]
FunctionCall = Callable[[str, str], str | None]
Function = Callable[[str], str]

_OFFSETS = re.compile(r"\s*([+-]?\d+)(?:\s*:\s*([+-]?\d+))?")


def substring(value: str, offset: int, length: int | None = None) -> str:
    """Asterisk's ``substring()`` for ``${VAR:offset:length}``."""
    size = len(value)
    if offset < 0:
        offset = max(0, size + offset)
    if offset >= size:
        return ""
    rest = value[offset:]
    if length is None:
        return rest
    if length >= 0:
        return rest[:length]
    return rest[:length] if len(rest) > -length else ""


def _split_name(var: str) -> tuple[str, bool, int, int | None]:
    """``parse_variable_name``: (name, is a function call, offset, length)."""
    if ":" not in var:
        return var, "(" in var, 0, None
    parens = 0
    is_function = False
    for i, ch in enumerate(var):
        if ch == "(":
            is_function = True
            parens += 1
        elif ch == ")":
            parens -= 1
        elif ch == ":" and parens == 0:
            m = _OFFSETS.match(var, i + 1)
            if m is None:
                return var[:i], is_function, 0, None
            length = int(m.group(2)) if m.group(2) is not None else None
            return var[:i], is_function, int(m.group(1)), length
    return var, is_function, 0, None


def split_function(call: str) -> tuple[str, str]:
    """``"CALLERID(num)"`` -> ``("CALLERID", "num")``; the arguments end at the last ``)``."""
    open_at = call.find("(")
    close_at = call.rfind(")")
    if open_at <= 0 or close_at < open_at:
        raise DialplanError(f"{call!r}: expected FUNCTION(arguments)")
    return call[:open_at].strip(), call[open_at + 1 : close_at]


_SCAN_TOKENS = re.compile(r"\$\{|\$\[|[{}\[\]]")


def _scan(text: str, start: int, opening: str, closing: str) -> tuple[int, bool, bool]:
    """Index just past the closing delimiter of the construct whose body starts at ``start``,
    whether the body holds nested ``${``/``$[``, and whether it was closed at all.

    Like Asterisk, only the construct's own kind of bracket is counted: ``$[`` inside ``${``
    marks nesting without changing the depth, and the other way round."""
    depth = 1
    nested = False
    for m in _SCAN_TOKENS.finditer(text, start):
        tok = m.group()
        if len(tok) == 2:
            nested = True
            if tok[1] == opening:
                depth += 1
        elif tok == opening:
            depth += 1
        elif tok == closing:
            depth -= 1
            if depth == 0:
                return m.end(), nested, True
    return len(text), nested, False


def _ignore(_: str) -> None:
    return None


def expand(
    text: str,
    variable: VariableLookup,
    function: FunctionCall,
    warn: Warn | None = None,
) -> str:
    """Substitute ``text`` with callables: ``variable(name)`` and ``function(name, args)`` give
    ``None`` for unknown names. The standard pure functions (see :data:`STANDARD_FUNCTIONS`)
    answer whatever ``function`` does not. ``warn`` receives what Asterisk would log."""
    warn = warn or _ignore
    if "$" not in text:
        return text
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        j = text.find("$", i)
        if j < 0 or j + 1 >= n:
            out.append(text[i:])
            break
        out.append(text[i:j])
        kind = text[j + 1]
        if kind not in "{[":
            out.append("$")
            i = j + 1
            continue
        closing = "}" if kind == "{" else "]"
        end, nested, terminated = _scan(text, j + 2, kind, closing)
        body = text[j + 2 : end - 1] if terminated else text[j + 2 :]
        if not terminated:
            warn(f"missing {closing!r} in {text!r}")
        if nested:
            body = expand(body, variable, function, warn)
        if kind == "{":
            out.append(_variable_value(body, variable, function, warn))
        else:
            try:
                out.append(evaluate(body, warn))
            except DialplanError as exc:
                warn(str(exc))
        i = end
    return "".join(out)


def _variable_value(body: str, variable: VariableLookup, function: FunctionCall, warn: Warn) -> str:
    name, is_function, offset, length = _split_name(body)
    value: str | None
    if is_function:
        try:
            fname, fargs = split_function(name)
        except DialplanError as exc:
            warn(str(exc))
            return ""
        try:
            value = function(fname, fargs)
        except DialplanError as exc:
            warn(str(exc))
            return ""
        if value is None:
            std = STANDARD_FUNCTIONS.get(fname.upper())
            scoped = SCOPED_FUNCTIONS.get(fname.upper())
            if std is None and scoped is None:
                warn(f"function {fname} is not registered")
                return ""
            try:
                if std is not None:
                    value = std(fargs)
                else:
                    assert scoped is not None
                    value = scoped(fargs, variable)
            except DialplanError as exc:
                warn(str(exc))
                return ""
    else:
        value = variable(name)
    if value is None:
        return ""
    if offset == 0 and length is None:
        return value
    return substring(value, offset, length)


def substitute(
    text: str,
    variables: Mapping[str, str],
    functions: Mapping[str, Function] | None = None,
    warn: Warn | None = None,
) -> str:
    """Substitute ``text`` from a mapping of variables (builtins such as ``EXTEN`` included by
    the caller) and a mapping of extra functions keyed by upper-case name."""
    extra = {k.upper(): v for k, v in (functions or {}).items()}

    def call(name: str, args: str) -> str | None:
        fn = extra.get(name.upper())
        return None if fn is None else fn(args)

    return expand(text, variables.get, call, warn)


# --------------------------------------------------------------------------------------------
# Standard functions that need no channel
# --------------------------------------------------------------------------------------------


def _if(args: str) -> str:
    cond, when_true, when_false = split_condition(args)
    if not cond or "?" not in args:
        raise DialplanError(f"IF({args}): expected IF(<expr>?[<true>][:<false>])")
    return when_true if check_condition(cond) else when_false


STANDARD_FUNCTIONS: dict[str, Function] = {
    "LEN": lambda a: str(len(a)),
    "ISNULL": lambda a: "1" if a == "" else "0",
    "EXISTS": lambda a: "0" if a == "" else "1",
    "IF": _if,
    "TOUPPER": str.upper,
    "TOLOWER": str.lower,
    # func_md5.c: the hex digest of the argument (the media fork builds its UUID with it).
    "MD5": lambda a: hashlib.md5(a.encode(), usedforsecurity=False).hexdigest() if a else "",
}


def _regex(args: str) -> str:
    """``REGEX("pattern" text)``: 1 when the pattern matches anywhere in the text."""
    m = re.match(r'\s*"((?:[^"\\]|\\.)*)"\s?(.*)$', args, re.DOTALL)
    if m is None:
        raise DialplanError(f'REGEX({args}): expected REGEX("regular expression" string)')
    try:
        return "1" if re.search(m.group(1), m.group(2)) else "0"
    except re.error as exc:
        raise DialplanError(f"REGEX({args}): bad regular expression: {exc}") from None


def _fields(spec: str, count: int) -> list[int]:
    """1-based field numbers of a CUT range spec such as ``2``, ``2-3``, ``2-``, ``-2``,
    ``1&3``."""
    picked: list[int] = []
    for part in spec.split("&"):
        part = part.strip()
        m = re.fullmatch(r"(\d*)(-?)(\d*)", part)
        if m is None or not (m.group(1) or m.group(3)):
            raise DialplanError(f"CUT: bad range {part!r}: expected N, N-M, N- or -M")
        first = int(m.group(1)) if m.group(1) else 1
        last = first
        if m.group(2):
            last = int(m.group(3)) if m.group(3) else count
        picked.extend(range(max(first, 1), min(last, count) + 1))
    return picked


def _cut(args: str, variable: VariableLookup) -> str:
    parts = split_args(args)
    if len(parts) != 3 or not parts[0].strip():
        raise DialplanError(f"CUT({args}): expected CUT(varname,char-delim,range-spec)")
    name, delim, spec = parts[0].strip(), parts[1] or "-", parts[2]
    value = variable(name) or ""
    fields = value.split(delim[0])
    return delim[0].join(fields[i - 1] for i in _fields(spec, len(fields)))


def _fieldqty(args: str, variable: VariableLookup) -> str:
    parts = split_args(args)
    if len(parts) != 2 or not parts[0].strip() or not parts[1]:
        raise DialplanError(f"FIELDQTY({args}): expected FIELDQTY(varname,delim)")
    value = variable(parts[0].strip()) or ""
    return str(len(value.split(parts[1]))) if value else "0"


# Functions that read a variable by name (their first argument) rather than a value.
SCOPED_FUNCTIONS: dict[str, Callable[[str, VariableLookup], str]] = {
    "CUT": _cut,
    "FIELDQTY": _fieldqty,
}
STANDARD_FUNCTIONS["REGEX"] = _regex


def callerid_value(field: str, num: str, name: str) -> str:
    """``CALLERID(field)`` read: ``num``, ``name``, or ``all`` (``"name" <num>``)."""
    key = field.strip().lower()
    if key in ("num", "number"):
        return num
    if key == "name":
        return name
    if key == "all":
        if name and num:
            return '"{}" <{}>'.format(name.replace("\\", "\\\\").replace('"', '\\"'), num)
        return name or num
    raise DialplanError(f"CALLERID({field}): expected num, name or all")
