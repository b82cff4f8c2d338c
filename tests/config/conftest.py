"""Shared paths for the config tests."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
BROKEN = FIXTURES / "configs_broken"
MINIMAL = FIXTURES / "configs_min"
SHIPPED = ROOT / "configs"


@pytest.fixture(autouse=True)
def _no_env_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    # The checks read CC_DB_URL / CC_REDIS_URL; a developer's shell must not change results.
    monkeypatch.delenv("CC_DB_URL", raising=False)
    monkeypatch.delenv("CC_REDIS_URL", raising=False)
