"""Shared fixtures: real PostgreSQL, SQLite and Redis for the tests that need them.

Servers are never mocked, and a server that cannot be reached fails the test (it is not
skipped): CI must not turn green by testing less.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
import redis
from sqlalchemy.engine import URL, make_url

DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"

T = TypeVar("T")


class _FieldsFormatter(logging.Formatter):
    """pytest's captured-log format plus the fields of `log_event` records, so a failing test
    shows e.g. the error text of a `journal.write_failed`, not just the event name."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        text = self.inner.format(record)
        fields = getattr(record, "cc_fields", None)
        if fields:
            text += " " + " ".join(f"{key}={value!r}" for key, value in fields.items())
        return text


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    plugin = config.pluginmanager.get_plugin("logging-plugin")
    if plugin is not None:
        plugin.report_handler.setFormatter(_FieldsFormatter(plugin.formatter))


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, even while an event loop is running."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _admin_url() -> URL:
    return make_url(os.environ.get("CC_TEST_PG_URL", DEFAULT_PG_URL))


async def _admin(url: URL, sql: str) -> None:
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[Callable[[], str]]:
    """A factory of fresh, uniquely named PostgreSQL databases, all dropped at session end."""
    admin = _admin_url()
    created: list[str] = []

    def make() -> str:
        name = f"cc_test_{os.getpid()}_{secrets.token_hex(4)}"
        try:
            run_sync(_admin(admin, f'CREATE DATABASE "{name}"'))
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            shown = admin.render_as_string(hide_password=True)
            pytest.fail(
                f"PostgreSQL at {shown} (CC_TEST_PG_URL) is not usable: {exc!r}", pytrace=False
            )
        created.append(name)
        return admin.set(database=name).render_as_string(hide_password=False)

    yield make
    for name in created:
        run_sync(_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def pg_url(pg_database: Callable[[], str]) -> str:
    """URL of a fresh PostgreSQL database for this test session (async driver)."""
    return pg_database()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """URL of a SQLite file in this test's temporary directory (async driver)."""
    return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"


@pytest.fixture(scope="session")
def redis_url() -> str:
    """CC_TEST_REDIS_URL, checked to answer PING."""
    url = os.environ.get("CC_TEST_REDIS_URL", DEFAULT_REDIS_URL)
    client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis at {url} (CC_TEST_REDIS_URL) is not reachable: {exc!r}", pytrace=False)
    finally:
        client.close()
    return url
