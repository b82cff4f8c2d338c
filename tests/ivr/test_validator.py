"""The validator on a corpus of broken scripts and prompt sets (tests/ivr/corpus), run the way
`cc-admin check` runs it: every problem with file, line, column, field and message."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from cc_core.cli.admin import cli
from cc_core.config import ConfigError, Severity
from cc_core.config.loader import collect
from cc_core.ivr import load_library
from cc_core.ivr.model import CollectNode, Condition

from .conftest import ROOT, SHIPPED

E, W = Severity.ERROR, Severity.WARNING
CORPUS = Path(__file__).parent / "corpus"
MINIMAL = ROOT / "tests" / "fixtures" / "configs_min"

EXPECTED = [
    ("ivr/digits.yaml", 9, 11, "nodes.ask.into",
     "got 'Account' (expected an attribute name: a lower-case ", E),
    ("ivr/digits.yaml", 12, 17, "nodes.ask.terminator",
     "got 'x' (expected '#', '*' or '')", E),
    ("ivr/digits.yaml", 18, 15, "nodes.pick.options.12",
     "got '12' (expected one key: 0-9, * or #)", E),
    ("ivr/digits.yaml", 18, 26, "nodes.pick.options[3]",
     'got 3 (expected a string; quote it: YAML reads digits as', E),
    ("ivr/digits.yaml", 19, 14, "nodes.pick.timeout",
     'got 90 (expected a number of seconds from 0.5 to 60)', E),
    ("ivr/digits.yaml", 21, 45, "nodes.end.priority",
     "got '{x} y' (expected a number 0-100 or one placeholder ", E),
    ("ivr/digits.yaml", 25, 20, "nodes.skilled.skills.tech",
     "got 6 (expected a proficiency 1-5 or one placeholder such", E),
    ("ivr/digits.yaml", 29, 34, "nodes.skill_ids.skills.bilingual",
     "unknown skill 'bilingual' (did you mean 'billing'?)", E),
    ("ivr/digits.yaml", 29, 48, "nodes.skill_ids.skills.techs",
     "unknown skill 'techs' (did you mean 'tech'?)", E),
    ("ivr/fields.yaml", 4, 11, "timezone",
     "got 'Europe/Berln' (expected an IANA time zone such as '", E),
    ("ivr/fields.yaml", 9, 20, "calendars.office.weekly.mon[0]",
     "got '18:00-08:00' (expected a time range 'HH:MM-HH:MM' w", E),
    ("ivr/fields.yaml", 9, 42, "calendars.office.weekly.tue[0]",
     "got '08:00-25:00' (expected a time range 'HH:MM-HH:MM' w", E),
    ("ivr/fields.yaml", 11, 16, "calendars.office.holidays[0].date",
     "got '2026-02-30' (expected a date YYYY-MM-DD)", E),
    ("ivr/fields.yaml", 13, 34, "nodes.check.calendar",
     "unknown calendar 'ofice' (did you mean 'office'?)", E),
    ("ivr/fields.yaml", 20, 23, "nodes.ask.validate.regex",
     "got '([0-9]' (expected a valid regular expression; missi", E),
    ("ivr/fields.yaml", 26, 15, "nodes.route.cases[0].when",
     "expected 'attr' with exactly one operator of equals, not", E),
    ("ivr/fields.yaml", 31, 40, "nodes.lang.values.language",
     "language 'fr' is not in the script's languages (en)", E),
    ("ivr/fields.yaml", 32, 27, "nodes.q.queue",
     "unknown queue 'biling' (did you mean 'billing'?)", E),
    ("ivr/fields.yaml", 34, 8, "nodes.odd",
     "expected a mapping with 'type' one of play, menu, collec", E),
    ("ivr/fields.yaml", 35, 28, "nodes.url.url",
     "got 'ftp://crm/{account}' (expected an http:// or https:", E),
    ("ivr/loops.yaml", 6, 3, "nodes.a",
     'loop with no input: a -> b -> a (expected a menu or coll', E),
    ("ivr/loops.yaml", 8, 3, "nodes.spin",
     'loop with no exit: spin -> again -> spin (expected an op', E),
    ("ivr/loops.yaml", 8, 3, "nodes.spin",
     "node 'spin' is unreachable from start 'a'", W),
    ("ivr/loops.yaml", 13, 3, "nodes.again",
     "node 'again' is unreachable from start 'a'", W),
    ("ivr/loops.yaml", 14, 3, "nodes.unused",
     "node 'unused' is unreachable from start 'a'", W),
    ("ivr/prompts.yaml", 2, 21, "languages[2]",
     "no prompt set for language 'fr' (expected prompts/fr.yam", E),
    ("ivr/prompts.yaml", 3, 11, "language",
     "default language 'es' is not in languages (en, de, fr)", E),
    ("ivr/prompts.yaml", 8, 22, "nodes.hi.prompts[1]",
     "prompt 'bye' is missing for de (expected it in prompts/d", E),
    ("ivr/prompts.yaml", 8, 27, "nodes.hi.prompts[2]",
     "prompt 'helo' is missing for en, de (expected it in prom", E),
    ("ivr/targets.yaml", 4, 8, "start",
     "unknown node 'helo' (did you mean 'hello'?)", E),
    ("ivr/targets.yaml", 13, 30, "nodes.menu.options.2",
     "unknown node 'nowhere' (expected one of hello, menu, bye", E),
    ("prompts/es.yaml", 2, 8, "voice",
     "got 'es es' (expected an espeak-ng voice such as 'en-us'", E),
    ("prompts/es.yaml", 4, 10, "prompts.hello",
     "got 'Hola {Name}.' (expected text with {attribute} place", E),
    ("prompts/it.yaml", 1, 11, "language",
     "language 'de' in a file named it.yaml (expected 'it')", E),
]


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    for name in ("acd.yaml", "agents.yaml", "queues.yaml"):
        shutil.copy(MINIMAL / name, tmp_path / name)
    shutil.copytree(CORPUS / "ivr", tmp_path / "ivr")
    shutil.copytree(CORPUS / "prompts", tmp_path / "prompts")
    return tmp_path


def test_corpus_reports_exactly_the_expected_problems(broken: Path) -> None:
    found = collect(broken, environ={}).problems
    got = [(str(Path(p.file).relative_to(broken)), p.line, p.col, p.field, p.message,
            p.severity) for p in found]
    assert len(got) == len(EXPECTED), "\n".join(map(str, got))
    for actual, expected in zip(got, EXPECTED, strict=True):
        assert actual[:4] == expected[:4]
        assert actual[4].startswith(expected[4]), actual
        assert actual[5] == expected[5]


def test_cc_admin_check_prints_file_line_col(broken: Path) -> None:
    result = CliRunner().invoke(cli, ["check", str(broken)])
    assert result.exit_code == 2
    assert f"{broken}/ivr/targets.yaml:4:8: start: unknown node 'helo'" in result.output
    assert f"{broken}/ivr/loops.yaml:6:3: nodes.a: loop with no input" in result.output


def test_load_library_refuses_a_broken_directory(broken: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_library(broken)
    assert any(p.field == "nodes.spin" and "loop with no exit" in p.message
               for p in caught.value.errors)


def test_shipped_configs_are_clean() -> None:
    assert collect(SHIPPED, environ={}).problems == []
    library = load_library(SHIPPED)
    assert set(library.scripts) == {"main_menu", "csat"}
    assert set(library.prompts.sets) == {"en", "es", "de"}


def test_min_above_max_digits() -> None:
    with pytest.raises(ValidationError, match="max_digits 4 is below min_digits 6"):
        CollectNode.model_validate({"type": "collect", "prompts": ["p"], "into": "a",
                                    "min_digits": 6, "max_digits": 4, "next": "x",
                                    "fallback": "y"})


@pytest.mark.parametrize(("condition", "message"), [
    ({"attr": "a"}, "exactly one operator"),
    ({"attr": "a", "equals": 1, "gt": 2}, "exactly one operator"),
    ({"equals": 1}, "exactly one of"),
    ({"attr": "a", "equals": 1, "all": []}, "exactly one of"),
    ({"all": [{"attr": "a", "exists": True}], "any": []}, "exactly one of"),
    ({"time": "10:00-09:00"}, "within one day"),
    ({"days": ["monday"]}, "'mon'"),
    ({"attr": "a", "matches": "(("}, "valid regular expression"),
])
def test_bad_conditions(condition: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Condition.model_validate(condition)


def test_a_script_may_not_hide_an_unreadable_queues_file(broken: Path) -> None:
    (broken / "queues.yaml").write_text("queues: [\n")
    found = collect(broken, environ={}).problems
    # Queue ids cannot be checked, but every other script problem is still reported.
    assert not [p for p in found if p.field == "nodes.q.queue"]
    assert [p for p in found if p.field == "start" and "helo" in p.message]


def test_a_survey_whose_score_is_never_collected(tmp_path: Path) -> None:
    shutil.copytree(CORPUS / "prompts", tmp_path / "prompts")
    (tmp_path / "ivr").mkdir()
    (tmp_path / "ivr" / "s.yaml").write_text(
        "name: s\nlanguages: [en]\nlanguage: en\nstart: end\n"
        "survey: {score: rating}\n"
        "nodes:\n  end: {type: hangup, prompts: [bye]}\n")
    from cc_core.ivr.library import script_documents
    from cc_core.ivr.validator import check_scripts

    docs, _ = script_documents(tmp_path)
    scripts, found = check_scripts(docs, None, tmp_path / "prompts")
    ours = [p for p in found if Path(p.file).name == "s.yaml"]
    assert [(p.line, p.col, p.field, p.severity) for p in ours] == [(5, 17, "survey.score", W)]
    assert "no collect node stores into 'rating'" in ours[0].message
    assert "s" in scripts  # a warning does not stop the script from loading
