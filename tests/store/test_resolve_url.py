"""Where `cc-admin db upgrade` and the services find the store URL: the same reader of
acd.yaml as the config check, so both always agree."""

from __future__ import annotations

from pathlib import Path

import pytest

from cc_core.store.migrate import DEFAULT_URL, ConfigError, resolve_url

ACD = "node_id: acd-test\ntimezone: Europe/Berlin\n"


@pytest.fixture(autouse=True)
def _no_env_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CC_DB_URL", raising=False)
    monkeypatch.delenv("CC_REDIS_URL", raising=False)


def test_acd_yaml_store_url_is_used_and_its_directory_created(tmp_path: Path) -> None:
    db = tmp_path / "state" / "acd.db"
    (tmp_path / "acd.yaml").write_text(f"{ACD}store:\n  url: sqlite+aiosqlite:///{db}\n")
    assert resolve_url(tmp_path) == f"sqlite+aiosqlite:///{db}"
    assert db.parent.is_dir()


def test_relative_sqlite_path_is_resolved_against_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "acd.yaml").write_text(f"{ACD}store:\n  url: sqlite+aiosqlite:///data/cc.db\n")
    assert resolve_url(tmp_path) == f"sqlite+aiosqlite:///{tmp_path / 'data' / 'cc.db'}"
    assert (tmp_path / "data").is_dir()


def test_environment_overrides_acd_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "acd.yaml").write_text(f"{ACD}store:\n  url: sqlite+aiosqlite:///x.db\n")
    monkeypatch.setenv("CC_DB_URL", "postgresql+asyncpg://cc@db.example/cc")
    assert resolve_url(tmp_path) == "postgresql+asyncpg://cc@db.example/cc"


def test_default_without_acd_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert resolve_url(tmp_path) == DEFAULT_URL
    assert (tmp_path / "var").is_dir()  # the default file lives in ./var


def test_default_when_acd_yaml_names_no_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "acd.yaml").write_text(ACD)
    assert resolve_url(tmp_path) == f"sqlite+aiosqlite:///{tmp_path / 'var' / 'ccplane.db'}"


def test_broken_yaml_names_file_line_and_column(tmp_path: Path) -> None:
    (tmp_path / "acd.yaml").write_text(f"{ACD}store:\n  url: [unclosed\n")
    with pytest.raises(ConfigError, match=r"acd\.yaml:5:1: YAML syntax: expected ',' or '\]'"):
        resolve_url(tmp_path)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "acd.yaml:1:1: file is empty (expected a YAML mapping)"),
        ("- a\n", "acd.yaml:1:1:"),
        (f"{ACD}store: sqlite\n", "acd.yaml:3:8: store: got 'sqlite' (expected a mapping)"),
        (f"{ACD}store:\n  url: 5\n", "acd.yaml:4:8: store.url: got 5 (expected a string"),
        (f"{ACD}store:\n  url: not a url\n", "acd.yaml:4:8: store.url: got 'not a url'"),
        ("store: {}\n", "acd.yaml:1:1: node_id: required field is missing"),
    ],
)
def test_wrong_values_name_line_field_and_expectation(
    tmp_path: Path, content: str, expected: str
) -> None:
    (tmp_path / "acd.yaml").write_text(content)
    with pytest.raises(ConfigError) as caught:
        resolve_url(tmp_path)
    assert expected in str(caught.value)
