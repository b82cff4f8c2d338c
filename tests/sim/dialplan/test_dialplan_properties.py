"""Property checks: expressions against Python's integer arithmetic, substrings against the
documented slicing rule, argument splitting round trips."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from pbx.sim.dialplan import ExtensionName, evaluate, split_args, substitute, substring

_ints = st.integers(min_value=-50, max_value=50)


@st.composite
def _arith(draw: st.DrawFn, depth: int = 3) -> str:
    if depth == 0 or draw(st.booleans()):
        n = draw(_ints)
        return f"({n})" if n < 0 else str(n)
    op = draw(st.sampled_from(["+", "-", "*"]))
    left = draw(_arith(depth - 1))
    right = draw(_arith(depth - 1))
    if draw(st.booleans()):
        return f"({left} {op} {right})"
    return f"{left} {op} {right}"


@settings(max_examples=300, deadline=None)
@given(_arith())
def test_integer_arithmetic_matches_python(expr: str) -> None:
    # Same precedence and associativity as Python for + - * and unary minus.
    assert evaluate(expr) == str(eval(expr))


@settings(max_examples=200, deadline=None)
@given(_arith(), st.sampled_from(["=", "!=", "<", ">", "<=", ">="]), _arith())
def test_comparisons_bind_looser_than_arithmetic(a: str, op: str, b: str) -> None:
    py = {"=": "=="}.get(op, op)
    assert evaluate(f"{a} {op} {b}") == ("1" if eval(f"({a}) {py} ({b})") else "0")


@given(st.text(alphabet="abc0123456789", max_size=12), st.integers(-15, 15), st.integers(-15, 15))
def test_substring_follows_the_documented_rule(value: str, offset: int, length: int) -> None:
    # Documented: a negative offset counts from the end; a negative length leaves that many
    # characters off the end of what the offset selected.
    start = max(0, len(value) + offset) if offset < 0 else offset
    rest = value[start:]
    expected = rest[:length] if length >= 0 else rest[: max(0, len(rest) + length)]
    assert substring(value, offset, length) == expected
    assert substitute(f"${{V:{offset}:{length}}}", {"V": value}) == expected


_plain = st.text(alphabet="abcXYZ019 _-./@", max_size=8)


@given(st.lists(_plain, min_size=1, max_size=6))
def test_split_args_round_trip(args: list[str]) -> None:
    data = ",".join(args)
    expected = [] if data == "" else args
    assert split_args(data) == expected


@given(st.lists(st.text(alphabet='ab,()"\\x', max_size=6), min_size=1, max_size=5))
def test_split_args_with_quoting_round_trip(args: list[str]) -> None:
    # Quote every argument and escape quotes and backslashes: splitting gives them back.
    def quote(a: str) -> str:
        return '"' + a.replace("\\", "\\\\").replace('"', '\\"') + '"'

    assert split_args(",".join(quote(a) for a in args)) == args


@given(st.text(alphabet="abc ${}[]:()019", max_size=30))
def test_substitute_never_raises(text: str) -> None:
    substitute(text, {"a": "1", "b": "${a}"}, warn=lambda _: None)


_pattern_parts = st.sampled_from(["X", "Z", "N", "x", "1", "5", "a", "[1-3]", "[a-c9]", "-"])


@st.composite
def _pattern(draw: st.DrawFn) -> str:
    body = "".join(draw(st.lists(_pattern_parts, min_size=1, max_size=5)))
    return "_" + body + draw(st.sampled_from(["", ".", "!"]))


def _as_regex(pattern: str) -> str:
    # An independent reading of the documented pattern language, as a Python regex.
    out = []
    i = 1
    body = pattern
    while i < len(body):
        ch = body[i]
        if ch == "[":
            end = body.index("]", i)
            out.append(body[i : end + 1])
            i = end + 1
            continue
        out.append(
            {"X": "[0-9]", "Z": "[1-9]", "N": "[2-9]", ".": ".+", "!": ".*", "-": ""}.get(
                ch.upper(), ch
            )
        )
        i += 1
    return "".join(out)


@settings(max_examples=300, deadline=None)
@given(_pattern(), st.text(alphabet="0123456789abc-", max_size=8))
def test_pattern_matching_agrees_with_a_regex_reading(pattern: str, exten: str) -> None:
    expected = re.fullmatch(_as_regex(pattern), exten.replace("-", "")) is not None
    assert ExtensionName(pattern).matches(exten) is expected
