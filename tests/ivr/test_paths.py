"""The path generator: every edge of the shipped scripts, each path agreeing with `cc-admin ivr
try`, and new script content picked up without anyone listing it."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import yaml
from click.testing import CliRunner

from cc_core.cli.admin import cli
from cc_core.ivr import IvrLibrary, OutcomeKind, load_library
from cc_core.ivr.dry_run import dry_run, summary
from cc_core.ivr.paths import CallerPath, generate
from cc_core.ivr.scripted import parse_keys

from .conftest import SHIPPED


def covers(paths: tuple[CallerPath, ...], text: str) -> list[CallerPath]:
    return [p for p in paths if text in p.covers]


def test_every_edge_of_the_shipped_scripts_is_taken(library: IvrLibrary) -> None:
    main = generate(library.script("main_menu"), library.prompts)
    assert main.uncovered == ()
    names = {p.name for p in main.paths}
    assert len(names) == len(main.paths) > 40
    everything = {c for p in main.paths for c in p.covers}
    # Every option of every menu, the retries to the fallback, every collect outcome.
    for menu, keys, tries in (
        ("language", "123", 2),
        ("main_options", "12349", 3),
        ("tech_menu", "129", 3),
        ("closed_menu", "12", 3),
    ):
        for key in keys:
            assert f"{menu}: key {key}" in everything
        for attempt in range(1, tries + 1):
            assert f"{menu}: wrong key (try {attempt})" in everything
            assert f"{menu}: silence (try {attempt})" in everything
        assert f"{menu}: hang up" in everything
    for kind in ("valid", "too short", "rejected (try 3)", "silence (try 3)", "hang up"):
        assert f"account: {kind}" in everything
    for node in (
        "welcome",
        "say_balance",
        "holiday_notice",
        "vip_queue",
        "goodbye",
        "callback_request",
        "leave_message",
    ):
        assert f"{node}: hang up" in everything
    kinds = {p.outcome.kind for p in main.paths}
    assert kinds == {
        OutcomeKind.QUEUE,
        OutcomeKind.CALLBACK,
        OutcomeKind.VOICEMAIL,
        OutcomeKind.HANGUP,
        OutcomeKind.CALLER_HUNG_UP,
    }
    queues = {p.outcome.queue for p in main.paths if p.outcome.kind is OutcomeKind.QUEUE}
    assert queues == {"billing", "billing_es", "tech_support", "tech_de", "sales", "vip"}
    # The three retries of the main menu end in its fallback.
    (fallback,) = covers(main.paths, "main_options: silence (try 3)")
    assert fallback.outcome.path[-2:] == ("billing_route", "billing_queue")
    survey = generate(library.script("csat"), library.prompts)
    assert survey.uncovered == ()
    scores = {p.outcome.csat_score for p in survey.paths}
    assert scores == {None, 1}


def test_hours_states_come_from_the_clock(library: IvrLibrary) -> None:
    main = generate(library.script("main_menu"), library.prompts)
    states = {e for e in main.edges if e[0] == "opening_hours"}
    assert states == {
        ("opening_hours", "open"),
        ("opening_hours", "closed"),
        ("opening_hours", "holiday"),
    }
    (holiday,) = covers(main.paths, "holiday_notice: listens")
    assert holiday.setting.at.date().isoformat() in {
        "2026-12-24",
        "2026-12-25",
        "2026-12-26",
        "2027-01-01",
    }


def test_lookup_answers_drive_the_branches(library: IvrLibrary) -> None:
    main = generate(library.script("main_menu"), library.prompts)
    (vip,) = [
        p
        for p in main.paths
        if p.outcome.queue == "vip" and any(a.node == "find_by_account" for a in p.lookups)
    ]
    assert [a.answer for a in vip.lookups] == [{"customer": {"tier": "gold"}}]
    accounts = [a.url for p in main.paths for a in p.lookups]
    callers = [p.setting.caller for p in main.paths]
    # Distinct calls ask distinct questions, so one server can answer every path its way.
    assert len(set(callers)) == len(callers)
    assert len(set(accounts)) == len(accounts)


async def test_each_path_walks_the_same_with_ivr_try(library: IvrLibrary) -> None:
    main = generate(library.script("main_menu"), library.prompts)
    survey = generate(library.script("csat"), library.prompts)
    walked = 0
    for path in main.paths + survey.paths:
        if any(a.answer is not None for a in path.lookups):
            continue  # ivr try sends no lookups: they all fail
        out = io.StringIO()
        code = await dry_run(
            SHIPPED,
            path.script,
            ",".join(path.keys),
            out,
            at=path.setting.at.isoformat(),
            caller=path.setting.caller,
        )
        assert code == 0
        text = out.getvalue()
        assert f"outcome: {summary(path.outcome)}\n" in text, (path.name, text)
        assert f"path: {' -> '.join(path.outcome.path)}\n" in text
        assert "not used" not in text
        walked += 1
    assert walked > 50


def test_keys_are_valid_ivr_try_input(library: IvrLibrary) -> None:
    for path in generate(library.script("main_menu"), library.prompts).paths:
        assert parse_keys(",".join(path.keys)) == list(path.keys)
        assert path.actions, path.name
        for action in path.actions:
            assert action.cue.startswith("ccplane/") and action.occurrence >= 1


def test_a_new_menu_option_is_covered_without_being_listed(tmp_path: Path) -> None:
    configs = tmp_path / "configs"
    shutil.copytree(SHIPPED, configs)
    script_file = configs / "ivr" / "main_menu.yaml"
    script = yaml.safe_load(script_file.read_text())
    script["nodes"]["tech_menu"]["options"]["3"] = "fibre_desk"
    script["nodes"]["fibre_desk"] = {
        "type": "transfer",
        "extension": "2000",
        "prompts": ["transfer_wait"],
    }
    script_file.write_text(yaml.safe_dump(script, allow_unicode=True, sort_keys=False))
    library = load_library(configs)
    found = generate(library.script("main_menu"), library.prompts)
    assert found.uncovered == ()
    (new,) = covers(found.paths, "tech_menu: key 3")
    assert (new.outcome.kind, new.outcome.extension) == (OutcomeKind.TRANSFER, "2000")
    assert new.outcome.path[-3:] == ("tech_route", "tech_menu", "fibre_desk")
    assert covers(found.paths, "fibre_desk: hang up")
    # The wrong key is no longer 3.
    (wrong,) = covers(found.paths, "tech_menu: wrong key (try 1)")
    assert next(a.keys for a in wrong.actions if a.node == "tech_menu") == "0"


def test_cli_lists_the_paths() -> None:
    result = CliRunner().invoke(cli, ["ivr", "paths", "csat", "--configs", str(SHIPPED)])
    assert result.exit_code == 0, result.output
    assert "csat#001" in result.output
    assert result.output.rstrip().endswith("8 paths; 2 edges taken")
    result = CliRunner().invoke(cli, ["ivr", "paths", "nope", "--configs", str(SHIPPED)])
    assert result.exit_code == 2 and "no IVR script 'nope'" in result.output
