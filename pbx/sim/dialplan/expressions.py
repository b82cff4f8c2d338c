"""``$[...]`` expressions with Asterisk's semantics (``ast_expr``, see doc "Expressions").

Precedence, loosest first: ``? ::`` (conditional), ``|``, ``&``, comparisons
(``= == != < > <= >=``), ``+ -``, ``* / %``, unary ``- !``, then the regex operators ``:``
(anchored at the start) and ``=~`` (anywhere). Parentheses group.

Values are strings; a string that looks like a number is a number. Comparisons are numeric when
both sides are numbers and string comparisons otherwise; results are ``1`` or ``0``.
``a | b`` gives ``a`` unless it is empty or zero, then ``b``; ``a & b`` gives ``a`` when neither
is empty or zero, else ``0``. Arithmetic is floating point printed like ``%.16g`` (``10/4`` is
``2.5``, ``10/5`` is ``2``); as in Asterisk a non-numeric operand is reported and the other
operand (or ``0``) is the result. ``s : re`` gives the first group's text when the regex has a
group, else the length of the match (``0`` or ``""`` when it does not match).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from pbx.sim.dialplan.errors import ExpressionError

Warn = Callable[[str], None]

_NUMBER = re.compile(r"^\s*-?(\d+\.?\d*|\.\d+)\s*$")
# Longest operators first so '<=' wins over '<'.
_OPERATORS = (
    "::",
    "==",
    "!=",
    "<=",
    ">=",
    "=~",
    "|",
    "&",
    "=",
    "<",
    ">",
    "+",
    "-",
    "*",
    "/",
    "%",
    "?",
    "!",
    ":",
    "(",
    ")",
)
_OP_CHARS = set("|&=<>+-*/%?!:()")


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # "op" or "str"
    text: str


def _tokenize(expr: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i, n = 0, len(expr)
    while i < n:
        ch = expr[i]
        if ch in " \t\r\n":
            i += 1
            continue
        if ch == '"':
            end = expr.find('"', i + 1)
            if end < 0:
                raise ExpressionError(f"unterminated quoted string in $[{expr}]")
            toks.append(_Tok("str", expr[i + 1 : end]))
            i = end + 1
            continue
        for op in _OPERATORS:
            if expr.startswith(op, i):
                toks.append(_Tok("op", op))
                i += len(op)
                break
        else:
            start = i
            while i < n and expr[i] not in _OP_CHARS and expr[i] not in ' \t\r\n"':
                i += 1
            toks.append(_Tok("str", expr[start:i]))
    return toks


def is_number(value: str) -> bool:
    return bool(_NUMBER.match(value))


def _num(value: str) -> float:
    return float(value)


def format_number(value: float) -> str:
    if value == int(value) and abs(value) < 1e16:
        return str(int(value))
    return f"{value:.16g}"


def is_zero_or_null(value: str) -> bool:
    return value == "" or (is_number(value) and _num(value) == 0)


_LEVELS: tuple[tuple[str, ...], ...] = (
    ("|",),
    ("&",),
    ("=", "==", "!=", "<", ">", "<=", ">="),
    ("+", "-"),
    ("*", "/", "%"),
)


class _Parser:
    def __init__(self, expr: str, warn: Warn) -> None:
        self.expr = expr
        self.toks = _tokenize(expr)
        self.i = 0
        self.warn = warn

    def error(self, what: str) -> ExpressionError:
        return ExpressionError(f"syntax error in $[{self.expr}]: {what}")

    def peek_op(self) -> str | None:
        if self.i < len(self.toks) and self.toks[self.i].kind == "op":
            return self.toks[self.i].text
        return None

    def parse(self) -> str:
        if not self.toks:
            return ""
        value = self.conditional()
        if self.i != len(self.toks):
            raise self.error(f"unexpected {self.toks[self.i].text!r}")
        return value

    def conditional(self) -> str:
        cond = self.binary(0)
        while self.peek_op() == "?":
            self.i += 1
            when_true = self.binary(0)
            if self.peek_op() != "::":
                raise self.error("'?' without '::'")
            self.i += 1
            when_false = self.binary(0)
            if is_number(cond):
                cond = when_true if _num(cond) != 0 else when_false
            else:
                cond = when_true if cond not in ("", '""', "0") else when_false
        return cond

    def binary(self, level: int) -> str:
        if level == len(_LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while (op := self.peek_op()) in _LEVELS[level]:
            self.i += 1
            right = self.binary(level + 1)
            left = self.apply(op, left, right)
        return left

    def unary(self) -> str:
        op = self.peek_op()
        if op == "-":
            self.i += 1
            value = self.unary()
            if not is_number(value):
                self.warn(f"non-numeric argument {value!r} to unary '-' in $[{self.expr}]")
                return "0"
            return format_number(-_num(value))
        if op == "!":
            self.i += 1
            return "1" if is_zero_or_null(self.unary()) else "0"
        return self.regex()

    def regex(self) -> str:
        left = self.primary()
        while (op := self.peek_op()) in (":", "=~"):
            self.i += 1
            right = self.primary()
            left = self.match(left, right, anchored=op == ":")
        return left

    def primary(self) -> str:
        if self.i >= len(self.toks):
            raise self.error("missing operand at the end")
        tok = self.toks[self.i]
        if tok.kind == "str":
            self.i += 1
            return tok.text
        if tok.text == "(":
            self.i += 1
            value = self.conditional()
            if self.peek_op() != ")":
                raise self.error("'(' without ')'")
            self.i += 1
            return value
        raise self.error(f"unexpected {tok.text!r}")

    def match(self, text: str, pattern: str, *, anchored: bool) -> str:
        try:
            rx = re.compile(pattern)
        except re.error as exc:
            raise ExpressionError(
                f"bad regular expression {pattern!r} in $[{self.expr}]: {exc}"
            ) from None
        m = rx.match(text) if anchored else rx.search(text)
        if m is None:
            return "" if rx.groups else "0"
        if rx.groups:
            return m.group(1) or ""
        return str(m.end() - m.start())

    def apply(self, op: str, a: str, b: str) -> str:
        if op == "|":
            return a if not is_zero_or_null(a) else b
        if op == "&":
            return a if not (is_zero_or_null(a) or is_zero_or_null(b)) else "0"
        if op in ("=", "==", "!=", "<", ">", "<=", ">="):
            left: float | str
            right: float | str
            if is_number(a) and is_number(b):
                left, right = _num(a), _num(b)
            else:
                left, right = a, b
            result = {
                "=": left == right,
                "==": left == right,
                "!=": left != right,
                "<": left < right,  # type: ignore[operator]
                ">": left > right,  # type: ignore[operator]
                "<=": left <= right,  # type: ignore[operator]
                ">=": left >= right,  # type: ignore[operator]
            }[op]
            return "1" if result else "0"
        # Arithmetic: Asterisk warns on a non-numeric side and yields the other side.
        a_num, b_num = is_number(a), is_number(b)
        if not (a_num and b_num):
            self.warn(f"non-numeric argument to '{op}' in $[{self.expr}]")
            if op not in ("+", "-"):
                return "0"
            if a_num:
                return format_number(_num(a))
            if b_num:
                return format_number(_num(b) if op == "+" else -_num(b))
            return "0"
        x, y = _num(a), _num(b)
        if op == "+":
            return format_number(x + y)
        if op == "-":
            return format_number(x - y)
        if op == "*":
            return format_number(x * y)
        if y == 0:
            raise ExpressionError(f"division by zero in $[{self.expr}]")
        if op == "/":
            return format_number(x / y)
        return format_number(_fmod(x, y))


def _fmod(x: float, y: float) -> float:
    # C fmod: the result takes the sign of the dividend (Python's % takes the divisor's).
    r = abs(x) % abs(y)
    return -r if x < 0 else r


def _ignore(_: str) -> None:
    return None


def evaluate(expr: str, warn: Warn | None = None) -> str:
    """Evaluate the text inside ``$[...]`` (variables already substituted) to a string.

    Raises :class:`ExpressionError` on a syntax error or a division by zero; ``warn`` receives
    the conditions Asterisk only logs (non-numeric arithmetic operands).
    """
    return _Parser(expr, warn or _ignore).parse()
