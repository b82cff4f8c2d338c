"""Alembic environment for the ccplane store: async drivers, SQLite and PostgreSQL alike.

The URL comes, first match wins, from ``-x url=...``, the ``sqlalchemy.url`` option set by
`cc_core.store.migrate`, the CC_DB_URL environment variable, or ``store.url`` in
``<configs>/acd.yaml`` (``-x configs=DIR``, default ``configs``).
"""

from __future__ import annotations

import asyncio
from logging.config import fileConfig
from typing import Any

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import create_engine, pool
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import create_async_engine

import cc_core.store.models  # noqa: F401 - fills the metadata with every table
from cc_core.store.base import Base, UTCDateTime
from cc_core.store.migrate import resolve_url

config = context.config
# Configure logging only for the alembic command line; a service migrating itself keeps its own.
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def database_url() -> str:
    x_args = context.get_x_argument(as_dictionary=True)
    return (
        x_args.get("url")
        or config.get_main_option("sqlalchemy.url")
        or resolve_url(x_args.get("configs", "configs"))
    )


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | bool:
    # Migrations must not import the models: a later model change would rewrite history.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def configure(**kwargs: Any) -> None:
    context.configure(
        target_metadata=target_metadata,
        # Always batch: SQLite can only alter a table by rebuilding it, and the same migration
        # file must run on both backends. On PostgreSQL batch mode emits plain ALTERs.
        render_as_batch=True,
        render_item=render_item,
        compare_type=True,
        **kwargs,
    )


def do_run_migrations(connection: Connection) -> None:
    configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations(url: str) -> None:
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(do_run_migrations)
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:  # handed over by code that already holds a connection
        do_run_migrations(connection)
        return
    url = database_url()
    if make_url(url).get_dialect().is_async:
        asyncio.run(run_async_migrations(url))
        return
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            do_run_migrations(conn)
    finally:
        engine.dispose()


def run_migrations_offline() -> None:
    configure(url=database_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
