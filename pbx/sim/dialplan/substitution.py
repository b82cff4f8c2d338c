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

import re
from collections.abc import Callable, Mapping

from pbx.sim.dialplan.args import check_condition, split_condition
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
            if std is None:
                warn(f"function {fname} is not registered")
                return ""
            try:
                value = std(fargs)
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
}


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
