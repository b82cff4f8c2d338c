"""``cc-admin ivr try``: a dry run prints the path taken and the outcome."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from cc_core.cli.admin import cli

from .conftest import GOLD, SHIPPED


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["ivr", "try", *args, "--configs", str(SHIPPED)])
    return result.exit_code, result.output


def test_open_hours_walk_to_a_queue() -> None:
    code, out = run("main_menu", "--digits", f"2,{GOLD},2,1", "--at", "2026-11-23T10:00")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0] == ("main_menu: dry run at 2026-11-23 10:00 CET, caller +4915112345678, "
                        f"keys 2,{','.join(GOLD)},2,1")
    assert '  welcome            play' in lines
    assert any("open (mon 08:00-18:00) -> account" in line for line in lines)
    assert any(f"caller keys {GOLD} -> account" in line for line in lines)
    assert any("failed: offline: GET http://127.0.0.1:8099/customers?account=" in line
               for line in lines)
    assert lines[-2] == "outcome: queue tech_support (priority 40, language es, skills " \
                        "tech_support>=2)"
    assert lines[-1] == ("path: welcome -> language -> lang_es -> opening_hours -> account -> "
                         "find_by_account -> main_options -> tech_route -> tech_menu -> "
                         "outage -> tech_queue")


def test_closed_at_night_with_an_offset() -> None:
    code, out = run("main_menu", "--digits", "1,2", "--at", "2026-11-23T22:00+00:00",
                    "--caller", "+34911000111")
    assert code == 0
    assert "closed (mon 23:00 outside 08:00-18:00) -> closed_menu" in out
    assert "outcome: voicemail for support@cc-default" in out


def test_survey_with_a_preset_language() -> None:
    code, out = run("csat", "--digits", "4", "--set", "language=de")
    assert code == 0
    assert 'says "Wie zufrieden waren Sie' in out
    assert "outcome: hangup; CSAT score 4" in out


def test_running_out_of_keys_is_a_hang_up_and_spare_keys_are_noted() -> None:
    code, out = run("csat", "--digits", "")
    assert (code, out.splitlines()[-2]) == (0, "outcome: caller hung up")
    code, out = run("csat", "--digits", "5,1,1")
    assert code == 0
    assert "note: 2 key(s) not used" in out


def test_usage_errors_exit_2() -> None:
    code, out = run("nope", "--digits", "1")
    assert (code, out.strip()) == (2, "cc-admin: no IVR script 'nope' (known: csat, main_menu)")
    code, out = run("csat", "--digits", "1,x")
    assert code == 2 and "key 'X'" in out
    code, out = run("csat", "--at", "yesterday")
    assert code == 2 and "Invalid isoformat string" in out
    result = CliRunner().invoke(cli, ["ivr", "try", "csat", "--set", "language"])
    assert result.exit_code == 2 and "expected NAME=VALUE" in result.output


def test_a_broken_configuration_is_listed_not_run() -> None:
    corpus = str(Path(__file__).parent / "corpus")
    result = CliRunner().invoke(cli, ["ivr", "try", "loops", "--configs", corpus])
    assert result.exit_code == 2
    assert "cc-admin: the IVR configuration has errors:" in result.output
    assert "loops.yaml:6:3: nodes.a: loop with no input" in result.output
