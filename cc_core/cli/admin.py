"""``cc-admin``: checks and maintenance an administrator runs by hand."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.group()
def cli() -> None:
    """Administer the contact centre: check configs, migrate the database."""


@cli.command()
@click.argument("config_dir", default="configs", type=click.Path(path_type=Path))
def check(config_dir: Path) -> None:
    """Validate every config file in CONFIG_DIR; exit 2 listing all problems."""
    from cc_core.config import check_directory

    sys.exit(check_directory(config_dir, out=sys.stdout))


@cli.group()
def db() -> None:
    """Database schema migrations (Alembic)."""


@db.command("upgrade")
@click.option("--url", envvar="CC_DB_URL", default=None, help="SQLAlchemy URL (default: acd.yaml)")
@click.option("--configs", "config_dir", default="configs", type=click.Path(path_type=Path))
@click.argument("revision", default="head")
def db_upgrade(url: str | None, config_dir: Path, revision: str) -> None:
    """Migrate the store to REVISION (default: head)."""
    from sqlalchemy.exc import SQLAlchemyError

    from cc_core.store.errors import StoreError
    from cc_core.store.migrate import resolve_url, upgrade

    try:
        upgrade(url or resolve_url(config_dir), revision)
    except (StoreError, SQLAlchemyError, OSError) as exc:
        # An admin needs the reason (bad acd.yaml, unreachable server), not a traceback.
        click.echo(f"cc-admin: db upgrade failed: {exc}", err=True)
        sys.exit(2)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
