"""``load_configs``: the shipped centre, environment overrides, YAML features, ConfigError."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from cc_core.config import (
    DEFAULT_PROFILE,
    CentreConfig,
    ConfigError,
    Severity,
    load_acd_settings,
    load_configs,
    resolve_sqlite_path,
)
from cc_core.config import check as check_module
from tests.config.conftest import BROKEN, MINIMAL, SHIPPED


@pytest.fixture
def centre() -> CentreConfig:
    return load_configs(SHIPPED, environ={}, base_dir=SHIPPED.parent)


def copy_of(source: Path, tmp_path: Path) -> Path:
    target = tmp_path / "configs"
    shutil.copytree(source, target)
    return target


def test_shipped_centre_is_clean_and_realistic(centre: CentreConfig) -> None:
    assert centre.warnings == ()
    agents, queues = centre.agents, centre.queues
    assert len(agents.agents) >= 8
    assert len(agents.skills) >= 6
    assert len(queues.queues) >= 3
    assert {lang.id for lang in agents.languages} >= {"en", "es", "de"}
    listeners = [centre.acd.api, centre.acd.fastagi, centre.acd.esl_outbound]
    assert centre.channels.email is not None and centre.channels.email.listen is not None
    listeners.append(centre.channels.email.listen)
    assert {listener.host for listener in listeners} == {"127.0.0.1"}
    assert {pbx.ami.host for pbx in centre.acd.pbx if pbx.ami} == {"127.0.0.1"}
    assert "main_menu" in centre.ivr


def test_models_keep_what_the_files_say(centre: CentreConfig) -> None:
    billing = centre.queue("billing")
    assert [(s.after, s.require) for s in billing.routing_steps()] == [
        (0, {"billing": 4}), (30, {"billing": 2}), (90, {})]
    assert billing.sla is not None and (billing.sla.percent, billing.sla.seconds) == (80, 20)
    assert billing.overflow is not None and billing.overflow.exit == "callback"
    tech_de = centre.queue("tech_de")
    # A queue with only `require` routes with a single step from time 0.
    assert [(s.after, s.require) for s in tech_de.routing_steps()] == [(0, {"tech_support": 2})]
    assert centre.acd.logging.json_lines is False and centre.acd.logging.mask_pii is True


def test_capacity_profiles_and_per_agent_overrides(centre: CentreConfig) -> None:
    profiles = centre.profiles()
    assert profiles["default"] == DEFAULT_PROFILE
    assert set(DEFAULT_PROFILE.exclusive) == {"voice", "video"}
    # diego: default profile, chat capped at 2 for him, not video capable
    assert centre.agent("diego").limits(profiles) == {
        "voice": 1, "video": 0, "chat": 2, "email": 5}
    assert centre.agent("alice").limits(profiles)["video"] == 1
    assert centre.agent("julia").limits(profiles) == {
        "voice": 0, "video": 0, "chat": 4, "email": 8}


def test_relative_sqlite_path_is_resolved_against_base_dir(tmp_path: Path) -> None:
    centre = load_configs(MINIMAL, environ={}, base_dir=tmp_path)
    assert centre.acd.store.url == f"sqlite+aiosqlite:///{tmp_path}/var/ccplane.db"


def test_resolve_sqlite_path_leaves_other_urls_alone(tmp_path: Path) -> None:
    for url in ("postgresql+asyncpg://cc@127.0.0.1:5432/cc", "sqlite+aiosqlite:///:memory:",
                "sqlite+aiosqlite:////abs/file.db", "sqlite+aiosqlite://"):
        assert resolve_sqlite_path(url, tmp_path) == url
    assert resolve_sqlite_path("sqlite:///a/b.db", tmp_path) == f"sqlite:///{tmp_path}/a/b.db"


def test_environment_overrides_store_and_redis_urls(tmp_path: Path) -> None:
    env = {"CC_DB_URL": "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres",
           "CC_REDIS_URL": "redis://127.0.0.1:6379/3"}
    centre = load_configs(MINIMAL, environ=env, base_dir=tmp_path)
    assert centre.acd.store.url == env["CC_DB_URL"]
    assert centre.acd.live_state.redis_url == env["CC_REDIS_URL"]
    assert centre.acd.live_state.backend == "memory"  # the URL alone does not switch backends
    assert load_acd_settings(MINIMAL, environ=env).store.url == env["CC_DB_URL"]


def test_os_environ_is_the_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CC_REDIS_URL", "redis://127.0.0.1:6379/5")
    assert load_configs(MINIMAL, base_dir=tmp_path).acd.live_state.redis_url.endswith("/5")


def test_a_bad_environment_url_is_a_problem_too() -> None:
    with pytest.raises(ConfigError) as caught:
        load_configs(MINIMAL, environ={"CC_REDIS_URL": "localhost:6379"})
    [problem] = caught.value.errors
    assert (problem.file, problem.line, problem.field) == ("environment", None, "CC_REDIS_URL")
    assert "expected a URL starting with redis://" in problem.message


def test_config_error_carries_every_problem_of_every_file() -> None:
    with pytest.raises(ConfigError) as caught:
        load_configs(BROKEN / "wrong_types", environ={})
    files = {Path(p.file).name for p in caught.value.problems}
    assert files == {"acd.yaml", "agents.yaml", "queues.yaml"}
    assert len(caught.value.errors) == 10
    assert "queues.yaml:11:15: queues[1].strategy:" in str(caught.value)


def test_warnings_do_not_stop_loading() -> None:
    centre = load_configs(BROKEN / "warnings_only", environ={})
    assert len(centre.warnings) == 3
    assert all(w.severity is Severity.WARNING for w in centre.warnings)


def test_load_acd_settings_ignores_other_files_but_reports_its_own() -> None:
    assert load_acd_settings(BROKEN / "empty_file", environ={}).node_id
    with pytest.raises(ConfigError) as caught:
        load_acd_settings(BROKEN / "ports_pbx", environ={})
    assert {p.field for p in caught.value.errors} >= {"timezone", "store.url", "pbx[0].ami"}


def test_anchors_and_merge_keys_are_followed_without_false_duplicates(tmp_path: Path) -> None:
    configs = copy_of(MINIMAL, tmp_path)
    (configs / "queues.yaml").write_text(
        "queues:\n"
        "  - id: billing\n"
        "    name: Billing\n"
        "    <<: &common {channels: [voice], strategy: round_robin}\n"
        "    strategy: best_skill\n"
        "    require: {billing: 3}\n"
        "  - <<: *common\n"
        "    id: tech\n"
        "    name: Tech\n"
        "    require: {tech: 2}\n"
    )
    centre = load_configs(configs, environ={}, base_dir=tmp_path)
    assert centre.queue("billing").strategy == "best_skill"  # own key beats the merged one
    assert centre.queue("tech").strategy == "round_robin"
    assert centre.queue("tech").channels == ["voice"]


def test_merge_keys_give_values_and_marks(tmp_path: Path) -> None:
    configs = copy_of(MINIMAL, tmp_path)
    text = (configs / "agents.yaml").read_text()
    (configs / "agents.yaml").write_text(text.replace(
        "  - id: bob\n", "  - id: bob\n    <<: {video: true, team: tech}\n"))
    centre = load_configs(configs, environ={}, base_dir=tmp_path)
    assert centre.agent("bob").video is True and centre.agent("bob").team == "tech"


def test_missing_directory_is_one_problem(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_configs(tmp_path / "nowhere", environ={})
    [problem] = caught.value.problems
    assert problem.message == "directory not found"


def test_check_directory_reports_an_internal_failure_as_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def explode(*_: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(check_module, "collect", explode)
    out = io.StringIO()
    assert check_module.check_directory(MINIMAL, out) == 2
    assert out.getvalue() == f"{MINIMAL}: internal error while checking: RuntimeError: boom\n"


def test_lookups_by_id_raise_key_error_for_unknown_ids(centre: CentreConfig) -> None:
    with pytest.raises(KeyError):
        centre.agent("nobody")
    with pytest.raises(KeyError):
        centre.queue("nowhere")
