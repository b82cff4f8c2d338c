"""Where `cc-admin db upgrade` and the services find the store URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from cc_core.store.migrate import DEFAULT_URL, ConfigError, resolve_url


@pytest.fixture(autouse=True)
def _no_env_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CC_DB_URL", raising=False)


def test_acd_yaml_store_url_is_used_and_its_directory_created(tmp_path: Path) -> None:
    db = tmp_path / "state" / "acd.db"
    (tmp_path / "acd.yaml").write_text(f"node: a\nstore:\n  url: sqlite+aiosqlite:///{db}\n")
    assert resolve_url(tmp_path) == f"sqlite+aiosqlite:///{db}"
    assert db.parent.is_dir()


def test_environment_overrides_acd_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "acd.yaml").write_text("store:\n  url: sqlite+aiosqlite:///x.db\n")
    monkeypatch.setenv("CC_DB_URL", "postgresql+asyncpg://cc@db.example/cc")
    assert resolve_url(tmp_path) == "postgresql+asyncpg://cc@db.example/cc"


@pytest.mark.parametrize("content", [None, "", "store:\n", "other: 1\n"])
def test_default_when_nothing_names_a_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str | None
) -> None:
    monkeypatch.chdir(tmp_path)
    if content is not None:
        (tmp_path / "acd.yaml").write_text(content)
    assert resolve_url(tmp_path) == DEFAULT_URL
    assert (tmp_path / "var").is_dir()  # the default file lives in ./var


def test_broken_yaml_names_file_line_and_column(tmp_path: Path) -> None:
    acd = tmp_path / "acd.yaml"
    acd.write_text("store:\n  url: [unclosed\n")
    with pytest.raises(ConfigError, match=rf"^{acd}:3:1: not valid YAML: expected ',' or '\]'"):
        resolve_url(tmp_path)


@pytest.mark.parametrize(
    ("content", "where", "expected"),
    [
        ("- a\n", "acd.yaml: got 'list'", "a mapping at the top level"),
        ("store: sqlite\n", "acd.yaml: store: got 'sqlite'", "a mapping with a 'url' key"),
        ("store:\n  url: 5\n", "acd.yaml: store.url: got 5", "a SQLAlchemy URL string"),
        ("store:\n  url: not a url\n", "store.url: got 'not a url'", "a SQLAlchemy URL, e.g."),
    ],
)
def test_wrong_values_say_what_was_expected(
    tmp_path: Path, content: str, where: str, expected: str
) -> None:
    (tmp_path / "acd.yaml").write_text(content)
    with pytest.raises(ConfigError) as caught:
        resolve_url(tmp_path)
    assert where in str(caught.value)
    assert expected in str(caught.value)
