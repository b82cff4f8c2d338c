"""YAML corner cases: each becomes one located problem (or none), never an exception."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cc_core.config import Severity, load_configs
from cc_core.config.loader import collect
from tests.config.conftest import MINIMAL


def configs_with(tmp_path: Path, name: str, content: str | bytes) -> Path:
    configs = tmp_path / "configs"
    shutil.copytree(MINIMAL, configs)
    target = configs / name
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        target.write_bytes(content)
    else:
        target.write_text(content)
    return configs


def only_problem(configs: Path) -> tuple[str, int | None, int | None, str, str]:
    problems = collect(configs, environ={}).problems
    assert len(problems) == 1, [str(p) for p in problems]
    [p] = problems
    return Path(p.file).name, p.line, p.col, p.field, p.message


AGENTS_TAIL = "  - id: bob\n    name: Bob\n    endpoint: PJSIP/1002\n"


@pytest.mark.parametrize(
    ("content", "line", "col", "fragment"),
    [
        (b"node_id: a\ntimezone: \x01\n", 2, 11, "character #x0001 is not allowed"),
        ("node_id: a\n---\ntimezone: UTC\n", 2, 1, "but found another document"),
        ("node_id: a\ntimezone:\n\t- UTC\n", 3, 1, "found character '\\t'"),
        ("? [a, b]\n: 1\n", 1, 3, "found unhashable key"),
        ("node_id: !!python/object:os.system x\n", 1, 10, "could not determine a constructor"),
    ],
)
def test_parser_and_reader_errors_are_located(
    tmp_path: Path, content: str | bytes, line: int, col: int, fragment: str
) -> None:
    name, got_line, got_col, field, message = only_problem(
        configs_with(tmp_path, "acd.yaml", content))
    assert (name, got_line, got_col, field) == ("acd.yaml", line, col, "")
    assert message.startswith("YAML syntax: ") and fragment in message


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    text = (MINIMAL / "acd.yaml").read_text()
    configs = configs_with(tmp_path, "acd.yaml", "\ufeff" + text)
    assert load_configs(configs, environ={}, base_dir=tmp_path).acd.node_id == "test-node"


def test_yaml_booleans_where_a_string_is_expected_get_a_hint(tmp_path: Path) -> None:
    text = (MINIMAL / "agents.yaml").read_text().replace("  - {id: es}\n",
                                                         "  - {id: es}\n  - {id: no}\n")
    name, line, col, field, message = only_problem(configs_with(tmp_path, "agents.yaml", text))
    assert (name, line, col, field) == ("agents.yaml", 7, 10, "languages[2].id")
    assert message == ("got false (expected a string; quote it: YAML reads yes/no/on/off as "
                       "true/false)")


def test_a_date_is_not_a_string(tmp_path: Path) -> None:
    text = (MINIMAL / "acd.yaml").read_text().replace("node_id: test-node", "node_id: 2024-01-01")
    assert only_problem(configs_with(tmp_path, "acd.yaml", text)) == (
        "acd.yaml", 1, 10, "node_id", "got 2024-01-01 (expected a string)")


def test_recursive_alias_is_reported_not_followed_forever(tmp_path: Path) -> None:
    text = (MINIMAL / "acd.yaml").read_text() + "logging: &loop {level: *loop}\n"
    # An alias has no node of its own: the position is that of the anchored mapping.
    assert only_problem(configs_with(tmp_path, "acd.yaml", text)) == (
        "acd.yaml", 10, 10, "logging.level",
        "got a mapping (expected 'DEBUG', 'INFO', 'WARNING', 'ERROR' or 'CRITICAL')")


def test_queues_taking_calls_need_a_pbx(tmp_path: Path) -> None:
    text = (MINIMAL / "acd.yaml").read_text().split("pbx:")[0] + "pbx: []\n"
    assert only_problem(configs_with(tmp_path, "acd.yaml", text)) == (
        "acd.yaml", 6, 6, "pbx",
        "no PBX configured, but queues billing, tech take calls (expected at least one PBX)")


def test_unknown_yml_file_is_a_warning_only(tmp_path: Path) -> None:
    configs = configs_with(tmp_path, "queues.yml", "queues: []\n")
    problems = collect(configs, environ={}).problems
    assert [(Path(p.file).name, p.severity) for p in problems] == [
        ("queues.yml", Severity.WARNING)]
    assert "did you mean 'queues.yaml'?" in problems[0].message


def test_ivr_scripts_are_checked_by_the_ivr_language(tmp_path: Path) -> None:
    # The config loader hands ivr/*.yaml to cc_core.ivr: a well-formed script loads, and a
    # key the language does not have is an error located in the script, with a suggestion.
    script = (
        "name: welcome\nlanguages: [en]\nlanguage: en\nstart: bye\n"
        "nodes:\n  bye: {type: hangup}\n"
    )
    configs = configs_with(tmp_path, "ivr/welcome.yaml", script)
    (configs / "prompts").mkdir(exist_ok=True)
    (configs / "prompts" / "en.yaml").write_text("language: en\nvoice: en-us\nprompts: {}\n")
    centre = load_configs(configs, environ={}, base_dir=tmp_path)
    assert centre.ivr["welcome"].start == "bye"

    (configs / "ivr" / "welcome.yaml").write_text(script + "stpes: 5\n")
    file, line, _col, field, message = only_problem(configs)
    assert (file, line, field) == ("welcome.yaml", 7, "stpes")
    assert "unknown field 'stpes'" in message
