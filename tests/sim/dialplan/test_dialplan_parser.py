"""extensions.conf syntax: what loads, what it means, and errors that name file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from pbx.sim.dialplan import Dialplan, DialplanError

SAMPLE = r"""
[general]
static=yes
autofallthrough = yes

[globals]
ACD = agi://127.0.0.1:4573   ; trailing comment
IVR = ${ACD}/ivr
SEMI = a\;b

;-- a block comment
[ignored]
exten => 1,1,NoOp()
--;

[cc-inbound]
exten => _X.,1(start),NoOp(call ${EXTEN})
 same => n,Answer
 same => n(ivr),AGI(${IVR},${EXTEN})
 same => n,GotoIf($["${AGISTATUS}" = "SUCCESS"]?cc-hold,s,1:failed)
 same => n(failed),Playback(sorry)
 same => failed+1,Hangup(16)
exten => 1001,hint,PJSIP/agent1001
exten => 1001,1,Dial(PJSIP/agent1001,20)
exten => 555-1212,1,NoOp(dashes are decoration)
exten => 100/5551234,1,NoOp(VIP caller)
exten => 100,1,NoOp(everyone else)
exten => _[1,2]X,1,NoOp(comma in a set)
include => cc-common
include => cc-later,09:00-17:00,mon-fri,*,*

[cc-common]
exten => _0.,1,NoOp(common ${EXTEN})
exten => s,1,NoOp(common s)

[cc-later]
exten => _9XX,1,NoOp(later)

[cc-inbound](+)
exten => 42,1,NoOp(added later)

[tmpl](!)
exten => i,1,Playback(invalid)
exten => t,1,Hangup()

[menu-a](tmpl)
exten => 1,1,NoOp(a)

[menu-b](tmpl)
exten => 1,1,NoOp(b)
"""


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> Dialplan:
    path = tmp_path_factory.mktemp("dp") / "extensions.conf"
    path.write_text(SAMPLE)
    return Dialplan.load(str(path))


def test_general_and_globals(plan: Dialplan) -> None:
    assert plan.general == {"static": "yes", "autofallthrough": "yes"}
    assert dict(plan.globals) == {
        "ACD": "agi://127.0.0.1:4573",
        "IVR": "agi://127.0.0.1:4573/ivr",  # substituted with the globals defined before it
        "SEMI": "a;b",
    }
    assert "ignored" not in plan.contexts


def test_same_n_labels_and_label_plus(plan: Dialplan) -> None:
    steps = [(s.priority, s.app, s.label) for s in plan.steps() if s.context == "cc-inbound"
             and s.exten == "_X."]  # fmt: skip
    assert steps == [
        (1, "NoOp", "start"),
        (2, "Answer", None),
        (3, "AGI", "ivr"),
        (4, "GotoIf", None),
        (5, "Playback", "failed"),
        (6, "Hangup", None),
    ]
    assert plan.find_label("cc-inbound", "123", "failed") == 5
    assert plan.find_label("cc-inbound", "123", "nope") is None
    assert plan.resolve_priority("cc-inbound", "123", "ivr") == 3
    assert plan.resolve_priority("cc-inbound", "123", "+2", current=3) == 5
    assert plan.resolve_priority("cc-inbound", "123", "6") == 6
    with pytest.raises(DialplanError, match="'nope' not found in 123@cc-inbound"):
        plan.resolve_priority("cc-inbound", "123", "nope")
    step = plan.find("cc-inbound", "123", 4)
    assert step is not None
    assert step.raw_args == '$["${AGISTATUS}" = "SUCCESS"]?cc-hold,s,1:failed'
    assert step.where.endswith("extensions.conf:20")


def test_hint_dashes_callerid_and_sets_with_commas(plan: Dialplan) -> None:
    assert plan.hint("cc-inbound", "1001") == "PJSIP/agent1001"
    assert plan.lookup("cc-inbound", "1001", 1) == ("Dial", "PJSIP/agent1001,20")
    assert plan.lookup("cc-inbound", "5551212", 1) == ("NoOp", "dashes are decoration")
    assert plan.lookup("cc-inbound", "555-1212", 1) == ("NoOp", "dashes are decoration")
    assert plan.lookup("cc-inbound", "100", 1, callerid="555-1234") == ("NoOp", "VIP caller")
    assert plan.lookup("cc-inbound", "100", 1, callerid="5550000") == ("NoOp", "everyone else")
    assert plan.lookup("cc-inbound", "100", 1) == ("NoOp", "everyone else")
    assert plan.lookup("cc-inbound", "15", 1) == ("NoOp", "comma in a set")
    assert plan.lookup("cc-inbound", ",5", 1) == ("NoOp", "comma in a set")


def test_includes_in_order_and_appended_sections(plan: Dialplan) -> None:
    # _X. of cc-inbound itself matches before anything included.
    assert plan.lookup("cc-inbound", "0123", 1) == ("NoOp", "call ${EXTEN}")
    assert plan.lookup("cc-inbound", "s", 1) == ("NoOp", "common s")
    assert plan.lookup("cc-inbound", "42", 1) == ("NoOp", "added later")
    # Time conditions are recorded but not applied; the include still works.
    assert [i.context for i in plan.contexts["cc-inbound"].includes] == ["cc-common", "cc-later"]
    assert plan.contexts["cc-inbound"].includes[1].timing == "09:00-17:00,mon-fri,*,*"
    assert any("time condition" in w and ":30:" in w for w in plan.warnings)
    assert plan.exists("cc-inbound", "s")
    assert not plan.exists("cc-inbound", "s", 2)


def test_templates(plan: Dialplan) -> None:
    assert "tmpl" not in plan.contexts
    assert plan.lookup("menu-a", "1", 1) == ("NoOp", "a")
    assert plan.lookup("menu-b", "i", 1) == ("Playback", "invalid")
    assert plan.lookup("menu-b", "t", 1) == ("Hangup", "")


def test_can_match_more(plan: Dialplan) -> None:
    assert plan.can_match_more("cc-later", "9")
    assert plan.can_match_more("cc-later", "91")
    assert not plan.can_match_more("cc-later", "912")
    assert plan.can_match_more("cc-inbound", "100")  # _X. takes more digits


def test_include_files_relative_and_glob(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.conf").write_text("[a]\nexten => 1,1,NoOp(a)\n#include b.conf\n")
    (tmp_path / "sub" / "b.conf").write_text("[b]\nexten => 1,1,NoOp(b)\n")
    (tmp_path / "extra-1.conf").write_text("[x1]\nexten => 1,1,NoOp(x1)\n")
    (tmp_path / "extra-2.conf").write_text("[x2]\nexten => 1,1,NoOp(x2)\n")
    main = tmp_path / "extensions.conf"
    main.write_text(
        '[globals]\nA=1\n#include "sub/a.conf"\n#include extra-*.conf\n#tryinclude missing.conf\n'
    )
    plan = Dialplan.load(str(main), overrides={"A": "2", "B": "3"})
    assert sorted(plan.contexts) == ["a", "b", "x1", "x2"]
    assert dict(plan.globals) == {"A": "2", "B": "3"}
    step = plan.find("b", "1", 1)
    assert step is not None and step.file == str(tmp_path / "sub" / "b.conf")
    assert len(plan.files) == 5


def test_globals_first_and_in_extension_names() -> None:
    plan = Dialplan.parse(
        "[c]\nexten => ${OPERATOR},1,NoOp(${OPERATOR})\ninclude => ${COMMON}\n"
        "[shared]\nexten => 5,1,NoOp(shared)\n"
        "[globals]\nOPERATOR=0\nCOMMON=shared\n"
    )
    assert plan.lookup("c", "0", 1) == ("NoOp", "${OPERATOR}")
    assert plan.lookup("c", "5", 1) == ("NoOp", "shared")


def test_linear_match_goes_on_when_a_priority_is_missing() -> None:
    # Asterisk's default matcher: the first extension that matches *and* has the priority.
    plan = Dialplan.parse(
        "[c]\nexten => 100,1,NoOp(literal)\n"
        "exten => _1XX,1,NoOp(pattern)\n same => n(two),NoOp(pattern 2)\n"
    )
    assert plan.lookup("c", "100", 1) == ("NoOp", "literal")
    assert plan.lookup("c", "100", 2) == ("NoOp", "pattern 2")
    assert plan.find_label("c", "100", "two") == 2
    assert plan.next_priority("c", "100", 1) == 2
    ext = plan.match("c", "100")
    assert ext is not None and ext.name.text == "100"


def test_discouraged_catch_all_is_warned() -> None:
    plan = Dialplan.parse("[c]\nexten => _.,1,NoOp()\n", "x.conf")
    assert plan.warnings == [
        "x.conf:2: extension '_.' also matches h, i, t and other special extensions; use '_X.'"
    ]


def test_parse_from_text() -> None:
    plan = Dialplan.parse("[c]\nexten => s,1,Answer()\n same => n,Hangup()\n")
    assert plan.lookup("c", "s", 2) == ("Hangup", "")
    assert plan.next_priority("c", "s", 1) == 2


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("exten => 1,1,NoOp()\n", 1, "outside any [context]"),
        ("[c]\nexten => 1,1,NoOp(\n", 2, "missing closing ')'"),
        ("[c]\nexten => 1,1\n", 2, "expected 'exten => extension,priority,Application(args)'"),
        ("[c]\n same => n,NoOp()\n", 2, "same => with no exten =>"),
        ("[c]\nexten => 1,n,NoOp()\n", 2, "needs an earlier priority"),
        ("[c]\nexten => 1,x,NoOp()\n", 2, "bad priority 'x'"),
        ("[c]\nexten => 1,0,NoOp()\n", 2, "must be >= 1"),
        ("[c]\nexten => 1,1,NoOp()\nexten => 1,1,Hangup()\n", 3, "already defined at"),
        ("[c]\nexten => 1,1(a),NoOp()\n same => n(a),NoOp()\n", 3, "label 'a' already used"),
        # An unclosed '[' swallows the commas after it, as Asterisk's pbx_strsep does.
        ("[c]\nexten => _[12,1,NoOp()\n", 2, "expected 'exten => extension,priority"),
        ("[c]\nexten => 9,1,Set,A=1\n", 2, "the old 'App,args' form is not read by Asterisk"),
        ("[c]\nexten => _[],1,NoOp()\n", 2, "empty character set"),
        ("[c]\nexten => 1,1,No Op()\n", 2, "bad application name 'No Op'"),
        ("[c]\nexten => 1,1,NoOp(x) trailing\n", 2, "unexpected text after NoOp(...)"),
        ("[c]\nexten => 1,1,\n", 2, "missing application name"),
        ("[c]\nfoo => bar\n", 2, "unknown keyword 'foo'"),
        ("[c]\njust some words\n", 2, "expected [context], #include or 'name => value'"),
        ("[c\n", 1, "bad section header"),
        ("[]\n", 1, "empty section name"),
        ("[c](nope)\n", 1, "inherits unknown template 'nope'"),
        ("[c](+)\n", 1, "adds to a section never defined"),
        ("[c]\nexten => 1,hint,A\nexten => 1,hint,B\n", 3, "second hint"),
        ("[c]\ninclude =>\n", 2, "include => needs a context name"),
        ("#include nothere.conf\n", 1, "no such file"),
        ("#exec /bin/true\n", 1, "#exec is not supported"),
    ],
)
def test_errors_name_file_and_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = tmp_path / "extensions.conf"
    path.write_text(text)
    with pytest.raises(DialplanError) as err:
        Dialplan.load(str(path))
    assert err.value.file == str(path)
    assert err.value.line == line
    assert message in err.value.message
    assert str(err.value).startswith(f"{path}:{line}: ")


def test_error_in_included_file_names_that_file(tmp_path: Path) -> None:
    (tmp_path / "inc.conf").write_text("[x]\n\nexten => 1,1,NoOp(\n")
    (tmp_path / "extensions.conf").write_text("[a]\nexten => 1,1,NoOp()\n#include inc.conf\n")
    with pytest.raises(DialplanError) as err:
        Dialplan.load(str(tmp_path / "extensions.conf"))
    assert (err.value.file, err.value.line) == (str(tmp_path / "inc.conf"), 3)


def test_include_loop_is_reported(tmp_path: Path) -> None:
    (tmp_path / "a.conf").write_text("#include b.conf\n")
    (tmp_path / "b.conf").write_text("#include a.conf\n")
    with pytest.raises(DialplanError, match="#include loop"):
        Dialplan.load(str(tmp_path / "a.conf"))


def test_unreadable_and_unclosed_block(tmp_path: Path) -> None:
    with pytest.raises(DialplanError, match="cannot read"):
        Dialplan.load(str(tmp_path / "absent.conf"))
    (tmp_path / "bin.conf").write_bytes(b"[c]\nexten => 1,1,NoOp(\xff)\n")
    with pytest.raises(DialplanError, match="not UTF-8"):
        Dialplan.load(str(tmp_path / "bin.conf"))
    (tmp_path / "open.conf").write_text("[c]\n;-- never closed\nexten => 1,1,NoOp()\n")
    with pytest.raises(DialplanError, match="never closed"):
        Dialplan.load(str(tmp_path / "open.conf"))


def test_unknown_include_is_a_warning_not_an_error() -> None:
    plan = Dialplan.parse("[c]\ninclude => parkedcalls\nexten => 1,1,NoOp()\n", "x.conf")
    assert plan.warnings == ["x.conf:2: [c] includes unknown context 'parkedcalls'"]
    assert plan.lookup("c", "2", 1) is None
