"""Patterns, substitution, expressions, argument splitting and variable inheritance, checked
against the semantics Asterisk documents (Pattern Matching, Variables, Expressions)."""

from __future__ import annotations

import re

import pytest

from pbx.sim.dialplan import (
    ChannelVariables,
    DialplanError,
    ExpressionError,
    ExtensionName,
    GotoTarget,
    Inheritance,
    callerid_value,
    channel_functions,
    channel_scope,
    check_condition,
    evaluate,
    expand,
    parse_goto,
    split_args,
    split_assignment,
    split_condition,
    substitute,
    substring,
)
from pbx.sim.dialplan.patterns import sort_names

# -- patterns -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "yes", "no"),
    [
        ("_X.", ["12", "123456"], ["1", "", "a1"]),
        ("_X!", ["1", "12"], ["", "a"]),
        ("_NXX", ["200", "999"], ["100", "20", "2000"]),
        ("_nxx", ["200"], ["100"]),
        ("_ZX", ["10", "99"], ["01", "1"]),
        ("_[1-3a]X", ["25", "a0", "10"], ["45", "b0", "2"]),
        ("_[a-z].", ["support", "ab"], ["a", "Support", "1ab"]),
        ("_1NXXNXXXXXX", ["12125551234"], ["11125551234", "1212555123"]),
        ("_9-NXX", ["9200", "9-200"], ["9100"]),
        ("_100X", ["1000", "1009"], ["100", "10000"]),
        ("100", ["100", "1-00"], ["1000", "10"]),
        ("s", ["s"], ["S", "ss"]),
    ],
)
def test_pattern_matching(pattern: str, yes: list[str], no: list[str]) -> None:
    name = ExtensionName(pattern)
    for exten in yes:
        assert name.matches(exten), (pattern, exten)
    for exten in no:
        assert not name.matches(exten), (pattern, exten)


def test_pattern_sort_order_is_asterisks() -> None:
    names = ["_X.", "_NXX", "_1XX", "_X!", "100", "_[a-z].", "_X", "_XX", "_[0-9]XX", "s"]
    ordered = [n.text for n in sort_names([ExtensionName(n) for n in names])]
    assert ordered == [
        "100",
        "s",
        "_1XX",  # one character allowed at the first position
        "_NXX",  # eight
        "_[0-9]XX",  # ten, then goes on longer than _XX
        "_XX",
        "_X.",  # '.' after any character set
        "_X!",  # '!' after '.'
        "_X",  # an ended pattern last
        "_[a-z].",  # 26 characters at the first position
    ]


def test_equal_weight_sets_put_lower_characters_first() -> None:
    names = ["_[13]X", "_[12]X", "_[3-5]", "_[2-4]", "_[ac]", "_[ab]"]
    ordered = [n.text for n in sort_names([ExtensionName(n) for n in names])]
    # Fewer characters first; equal counts and first characters: lower characters first.
    assert ordered == ["_[12]X", "_[13]X", "_[ab]", "_[ac]", "_[2-4]", "_[3-5]"]


def test_case_of_named_sets_does_not_make_a_new_extension() -> None:
    assert ExtensionName("_nxx").identity == ExtensionName("_NXX").identity
    assert ExtensionName("_[a-c]").identity == ExtensionName("_[cba]").identity
    assert ExtensionName("555-1212").identity == ExtensionName("5551212").identity


@pytest.mark.parametrize("bad", ["", "_", "_[12", "_[]", "_[9-1]"])
def test_bad_patterns(bad: str) -> None:
    with pytest.raises(DialplanError):
        ExtensionName(bad)


# -- substitution ---------------------------------------------------------------------------

VARS = {
    "EXTEN": "918005551234",
    "N": "2",
    "VAR_2": "second",
    "EMPTY": "",
    "X": "7",
    "NAME": "support",
    "CHANNEL": "PJSIP/caller-00000000",
    "PATH": "a/b/c/d",
    "DASHED": "555-200-1234",
}
FUNCS = {"CALLERID": lambda a: callerid_value(a, "5551234", "Jane Doe")}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${EXTEN}", "918005551234"),
        ("${EXTEN:1}", "18005551234"),
        ("${EXTEN:-4}", "1234"),
        ("${EXTEN:-4:3}", "123"),
        ("${EXTEN:2:3}", "800"),
        ("${EXTEN:0:-4}", "91800555"),
        ("${EXTEN:1:-3}", "18005551"),
        ("${EXTEN:40}", ""),
        ("${EXTEN:-40:2}", "91"),
        ("${UNSET}", ""),
        ("${UNSET:1}", ""),
        ("a${EMPTY}b", "ab"),
        ("${VAR_${N}}", "second"),
        ("${LEN(${EXTEN})}", "12"),
        ("${LEN()}", "0"),
        ("${LEN(a b)}", "3"),
        ("${ISNULL(${EMPTY})}", "1"),
        ("${ISNULL(${X})}", "0"),
        ("${EXISTS(${X})}", "1"),
        ("${EXISTS(${UNSET})}", "0"),
        ("${IF($[${X} > 5]?big:small)}", "big"),
        ("${IF($[${X} > 50]?big:small)}", "small"),
        ("${IF(0?yes)}", ""),
        ("${IF(1?yes)}", "yes"),
        ("${IF(${EMPTY}?yes:no)}", ""),  # Asterisk refuses an empty condition
        ("${IF(abc?yes:no)}", "yes"),
        ("${if(1?lower:case)}", "lower"),
        ("${TOUPPER(${NAME})}", "SUPPORT"),
        ("${CALLERID(num)}", "5551234"),
        ("${CALLERID(name)}", "Jane Doe"),
        ("${CALLERID(all)}", '"Jane Doe" <5551234>'),
        ("${CALLERID(num):3}", "1234"),
        ("${NOSUCHFUNC(x)}", ""),
        ("$[${X} + 1]", "8"),
        ("$[${X}*2]-${X}", "14-7"),
        ("cost: $5 and $", "cost: $5 and $"),
        ("${CHANNEL(name)}", ""),  # no CHANNEL function registered here: empty, warned
        ("Queue(${NAME},t,,,300)", "Queue(support,t,,,300)"),
        ("$[${X} / 0]", ""),
        ("${CUT(PATH,/,2)}", "b"),
        ("${CUT(PATH,/,2-3)}", "b/c"),
        ("${CUT(PATH,/,3-)}", "c/d"),
        ("${CUT(PATH,/,-2)}", "a/b"),
        ("${CUT(PATH,/,1&4)}", "a/d"),
        ("${CUT(PATH,/,9)}", ""),
        ("${CUT(DASHED,,2)}", "200"),  # the delimiter defaults to '-'
        ("${FIELDQTY(PATH,/)}", "4"),
        ("${FIELDQTY(EMPTY,/)}", "0"),
        ('${REGEX("^9[0-9]+$" ${EXTEN})}', "1"),
        ('${REGEX("^0" ${EXTEN})}', "0"),
    ],
)
def test_substitute(text: str, expected: str) -> None:
    assert substitute(text, VARS, FUNCS) == expected


def test_cut_fieldqty_regex_errors_are_warned() -> None:
    warnings: list[str] = []
    text = '${CUT(PATH,/)}${CUT(PATH,/,x)}${FIELDQTY(PATH)}${REGEX(nope)}${REGEX("(" a)}'
    assert substitute(text, VARS, warn=warnings.append) == ""
    assert [w.split(":")[0] for w in warnings] == [
        "CUT(PATH,/)",
        "CUT",
        "FIELDQTY(PATH)",
        "REGEX(nope)",
        'REGEX("(" a)',
    ]


def test_warnings_are_reported_not_raised() -> None:
    warnings: list[str] = []
    assert substitute("${NOSUCHFUNC(x)}$[1/0]${X", VARS, warn=warnings.append) == "7"
    assert any("NOSUCHFUNC is not registered" in w for w in warnings)
    assert any("division by zero" in w for w in warnings)
    assert any("missing '}'" in w for w in warnings)
    warnings.clear()
    # Unclosed although the text ends with '}': the inner one closes, the outer does not.
    assert substitute("${A${X}", {"A7": "no", "X": "7"}, warn=warnings.append) == "no"
    assert any("missing '}'" in w for w in warnings)


def test_expand_with_callables_prefers_callers_functions() -> None:
    calls: list[tuple[str, str]] = []

    def function(name: str, args: str) -> str | None:
        calls.append((name, args))
        if name.upper() == "CHANNEL" and args == "name":
            return "PJSIP/agent1001-00000001"
        return None  # fall back to the standard functions

    text = "${CHANNEL(name):6} ${LEN(${V})} ${V}"
    assert expand(text, {"V": "abc"}.get, function) == "agent1001-00000001 3 abc"
    assert ("CHANNEL", "name") in calls and ("LEN", "abc") in calls


def test_values_are_not_rescanned() -> None:
    assert substitute("${A}", {"A": "${B}", "B": "no"}) == "${B}"


def test_substring_helper() -> None:
    assert substring("abcdef", 2) == "cdef"
    assert substring("abcdef", -2) == "ef"
    assert substring("abcdef", 1, -10) == ""
    assert substring("", 0, 3) == ""


def test_callerid_all_without_name_and_bad_field() -> None:
    assert callerid_value("all", "100", "") == "100"
    assert callerid_value("all", "", "Jo") == "Jo"
    assert callerid_value("all", "1", 'a"b') == '"a\\"b" <1>'
    with pytest.raises(DialplanError, match="num, name or all"):
        callerid_value("rdnis", "1", "")


# -- expressions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("1 + 2 * 3", "7"),
        ("(1 + 2) * 3", "9"),
        ("1+1", "2"),
        ("10 / 4", "2.5"),
        ("10 / 5", "2"),
        ("10 % 3", "1"),
        ("-7 % 3", "-1"),  # C fmod keeps the dividend's sign
        ("0.1 + 0.2", "0.3"),
        ("1.5 + 1", "2.5"),
        ("-5 + 2", "-3"),
        ("5 > 3", "1"),
        ("10 < 9", "0"),  # numeric
        ('"10" < "9"', "0"),  # quoted numbers still compare as numbers
        ("abc < abd", "1"),  # strings
        ("abc = abc", "1"),
        ("abc == abc", "1"),
        ('"abc" != "abd"', "1"),
        ('"" = ""', "1"),
        ("05 = 5", "1"),
        ("2 + 3 = 5", "1"),  # '+' binds tighter than '='
        ("1 = 1 & 2 = 2", "1"),
        ("5 & 3", "5"),
        ("1 & 0", "0"),
        ('"" & 1', "0"),
        ("0 | 7", "7"),
        ('"" | fallback', "fallback"),
        ("first | second", "first"),
        ("!0", "1"),
        ("!5", "0"),
        ('!""', "1"),
        ("1 ? a :: b", "a"),
        ("0 ? a :: b", "b"),
        ("3 > 2 ? yes :: no", "yes"),
        ("abc123 : abc", "3"),
        ('abc123 : "abc([0-9]+)"', "123"),
        ("xabc : abc", "0"),  # ':' is anchored at the start
        ('xabc : "x([0-9]+)"', ""),  # no match, pattern with a group: empty
        ("xabc =~ abc", "3"),
        ("", ""),
        ("abc + 1", "1"),  # non-numeric operand: the other side, with a warning
        ("abc - 1", "-1"),
        ("abc * 2", "0"),  # '*', '/' and '%' give 0
        ("2 / abc", "0"),
    ],
)
def test_expressions(expr: str, expected: str) -> None:
    assert evaluate(expr) == expected


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("1 / 0", "division by zero"),
        ("1 % 0", "division by zero"),
        ("1 +", "missing operand"),
        ("(1 + 2", "'(' without ')'"),
        ("1 2", "unexpected '2'"),
        ("1 ? 2", "'?' without '::'"),
        ('"open', "unterminated quoted string"),
        ('a : "("', "bad regular expression"),
        ("abc : x([0-9]+)", "unexpected '('"),  # unquoted regex parentheses are operators
    ],
)
def test_expression_errors(expr: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=re.escape(message)):
        evaluate(expr)


def test_non_numeric_arithmetic_warns() -> None:
    seen: list[str] = []
    assert evaluate("abc - 1", seen.append) == "-1"
    assert seen and "non-numeric" in seen[0]


# -- arguments and conditions ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "args"),
    [
        ("", []),
        ("a", ["a"]),
        ("a,,", ["a", "", ""]),
        ("default,3600", ["default", "3600"]),
        ("PJSIP/agent${EXTEN:2},qw", ["PJSIP/agent${EXTEN:2}", "qw"]),
        ('a,b(c,d),"e,f",[g,h],i\\,j', ["a", "b(c,d)", "e,f", "[g,h]", "i,j"]),
        ('say "hi, there"', ["say hi, there"]),
    ],
)
def test_split_args(data: str, args: list[str]) -> None:
    assert split_args(data) == args


def test_split_args_limit_keeps_the_rest_untouched() -> None:
    assert split_args('a,"b,c",d', limit=2) == ["a", '"b,c",d']


def test_goto_and_conditions() -> None:
    assert parse_goto("1", "c", "e") == GotoTarget("c", "e", "1")
    assert parse_goto("s,1", "c", "e") == GotoTarget("c", "s", "1")
    assert parse_goto("hold, s, 1", "c", "e") == GotoTarget("hold", "s", "1")
    for bad in ["", "a,,1", "a,b,c,d"]:
        with pytest.raises(DialplanError, match="Goto"):
            parse_goto(bad, "c", "e")
    assert split_condition("1?hold,s,1:failed") == ("1", "hold,s,1", "failed")
    assert split_condition("0?:failed") == ("0", "", "failed")
    assert split_condition("$[(1)]?a") == ("$[(1)]", "a", "")
    assert split_condition("x") == ("x", "", "")
    assert split_assignment("__ACD_DNIS=100") == ("__ACD_DNIS", "100")
    assert split_assignment("CALLERID(num)=a=b") == ("CALLERID(num)", "a=b")
    with pytest.raises(DialplanError, match="NAME=value"):
        split_assignment("novalue")


@pytest.mark.parametrize(
    ("value", "truth"),
    [("", False), ("0", False), ("00", False), (" 0", False), ("0abc", False), ("1", True),
     ("-1", True), ("abc", True), ("5abc", True), ("  ", False)],
)  # fmt: skip
def test_check_condition(value: str, truth: bool) -> None:
    assert check_condition(value) is truth


# -- variables -------------------------------------------------------------------------------


def test_inheritance() -> None:
    parent = ChannelVariables()
    parent["__ACD_DNIS"] = "100"
    parent["_ONCE"] = "1"
    parent["LOCAL"] = "x"
    assert parent["ACD_DNIS"] == "100"
    assert parent.full_name("ACD_DNIS") == "__ACD_DNIS"
    assert parent.flag("ONCE") is Inheritance.ONCE
    child = parent.inherited()
    assert dict(child) == {"ACD_DNIS": "100", "ONCE": "1"}
    assert child.full_name("ACD_DNIS") == "__ACD_DNIS"
    assert child.flag("ONCE") is Inheritance.NONE
    grandchild = child.inherited()
    assert dict(grandchild) == {"ACD_DNIS": "100"}
    # Re-setting without a prefix clears the flag, as Asterisk's Set does.
    parent["ACD_DNIS"] = "200"
    assert parent.flag("ACD_DNIS") is Inheritance.NONE
    del parent["LOCAL"]
    assert "LOCAL" not in parent
    assert substitute("${ACD_DNIS}", parent) == "200"


# -- channel scope ---------------------------------------------------------------------------


class _Chan:
    name = "PJSIP/agent1001-0000000a"
    uniqueid = "1795286202.20"
    context = "agents"
    exten = "1001"
    priority = 1
    caller_num = "1001"
    caller_name = ""
    language = "en"
    accountcode = ""


def test_channel_scope_order_and_functions() -> None:
    warnings: list[str] = []
    scope = channel_scope(_Chan(), {"EXTEN": "shadowed", "A": "chan"}, {"A": "global", "G": "g"})
    funcs = channel_functions(_Chan())
    text = "${EXTEN} ${A} ${G} ${UNIQUEID} ${CHANNEL(channeltype)} ${CALLERID(all)} ${CONTEXT}"
    assert substitute(text, scope, funcs) == "1001 chan g 1795286202.20 PJSIP 1001 agents"
    assert substitute("${CHANNEL(peerip)}${CALLERID(x)}", scope, funcs, warnings.append) == ""
    assert any("CHANNEL(peerip): expected one of" in w for w in warnings)
    assert any("CALLERID(x): expected num, name or all" in w for w in warnings)
