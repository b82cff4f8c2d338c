"""acd.yaml ``announcements:``: defaults, and clear errors for values that make no sense."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cc_core.config import ConfigError, load_acd_settings
from tests.config.conftest import MINIMAL


def acd_dir(tmp_path: Path, extra: str) -> Path:
    target = tmp_path / "configs"
    shutil.copytree(MINIMAL, target)
    with (target / "acd.yaml").open("a") as f:
        f.write(extra)
    return target


def test_defaults_announce_every_ten_seconds(tmp_path: Path) -> None:
    settings = load_acd_settings(acd_dir(tmp_path, ""), environ={}).announcements
    assert (settings.enabled, settings.refresh_seconds, settings.default_handle_seconds) == (
        True,
        10.0,
        180.0,
    )


def test_values_are_read(tmp_path: Path) -> None:
    extra = "announcements: {enabled: false, refresh_seconds: 5, default_handle_seconds: 240}\n"
    settings = load_acd_settings(acd_dir(tmp_path, extra), environ={}).announcements
    assert (settings.enabled, settings.refresh_seconds, settings.default_handle_seconds) == (
        False,
        5.0,
        240.0,
    )


@pytest.mark.parametrize(
    ("extra", "field", "expected"),
    [
        ("announcements: {refresh_seconds: 0}\n", "announcements.refresh_seconds", "from 1 to"),
        (
            "announcements: {default_handle_seconds: -3}\n",
            "announcements.default_handle_seconds",
            "from 1 to",
        ),
        ("announcements: {refresh_seconds: soon}\n", "announcements.refresh_seconds", ""),
        ("announcements: {every: 5}\n", "announcements.every", ""),
    ],
)
def test_bad_values_name_the_field_and_line(
    tmp_path: Path, extra: str, field: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_acd_settings(acd_dir(tmp_path, extra), environ={})
    [problem] = caught.value.errors
    assert (Path(problem.file).name, problem.field) == ("acd.yaml", field)
    assert problem.line == 10
    assert expected in problem.message
