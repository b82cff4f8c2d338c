"""``cc-admin``: checks and maintenance an administrator runs by hand."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.group()
def cli() -> None:
    """Administer the contact centre: check configs, migrate the database, supervise calls."""


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


@cli.group()
def ivr() -> None:
    """IVR scripts (configs/ivr/*.yaml)."""


@ivr.command("try")
@click.argument("script")
@click.option(
    "--digits",
    default="",
    help="Keys in order, comma separated: 0-9 * # A-D, "
    "T for silence (a timeout), H to hang up, L to listen to a prompt to its end. The "
    "caller hangs up after the last.",
)
@click.option(
    "--at",
    "at",
    default=None,
    help="Time of the call, ISO 8601 (e.g. "
    "2026-11-23T10:00; the script's time zone unless an offset is given). Default: now.",
)
@click.option("--caller", default="+4915112345678", show_default=True, help="Caller id.")
@click.option("--called", default=None, help="Dialled number.")
@click.option(
    "--set",
    "preset",
    multiple=True,
    metavar="NAME=VALUE",
    help="An attribute known before the script starts (e.g. language=es).",
)
@click.option("--configs", "config_dir", default="configs", type=click.Path(path_type=Path))
def ivr_try(
    script: str,
    digits: str,
    at: str | None,
    caller: str,
    called: str | None,
    preset: tuple[str, ...],
    config_dir: Path,
) -> None:
    """Walk SCRIPT offline with scripted keys and print the path taken (lookups fail)."""
    import asyncio

    from cc_core.ivr.dry_run import dry_run

    attributes = {}
    for item in preset:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{item!r}: expected NAME=VALUE", param_hint="--set")
        attributes[name] = value
    sys.exit(
        asyncio.run(
            dry_run(
                config_dir,
                script,
                digits,
                sys.stdout,
                at=at,
                caller=caller,
                called=called,
                attributes=attributes,
            )
        )
    )


@ivr.command("paths")
@click.argument("script")
@click.option("--configs", "config_dir", default="configs", type=click.Path(path_type=Path))
def ivr_paths(script: str, config_dir: Path) -> None:
    """List caller paths that together take every edge of SCRIPT (keys for `ivr try`)."""
    from cc_core.config.problems import ConfigError
    from cc_core.ivr.library import load_library
    from cc_core.ivr.paths import PathError, describe, generate

    try:
        library = load_library(config_dir)
        found = generate(library.script(script), library.prompts)
    except ConfigError as exc:
        click.echo(f"cc-admin: the IVR configuration has errors:\n{exc}", err=True)
        sys.exit(2)
    except (KeyError, PathError) as exc:
        click.echo(f"cc-admin: {exc.args[0] if exc.args else exc}", err=True)
        sys.exit(2)
    for path in found.paths:
        click.echo(describe(path))
    click.echo(
        f"{len(found.paths)} paths; {len(found.edges)} edges taken"
        + (f"; not taken: {', '.join(found.uncovered)}" if found.uncovered else "")
    )
    sys.exit(1 if found.uncovered else 0)


@cli.group()
def prompts() -> None:
    """IVR prompts (configs/prompts/<language>.yaml)."""


@prompts.command("build")
@click.option(
    "--out",
    default="var/sounds/ccplane",
    type=click.Path(path_type=Path),
    show_default=True,
    help="Folder to copy to the PBX sound directory as ccplane/.",
)
@click.option("--configs", "config_dir", default="configs", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Render every file again, even if up to date.")
def prompts_build(out: Path, config_dir: Path, force: bool) -> None:
    """Render text prompts with espeak-ng into 8 kHz mono 16-bit WAV files."""
    from cc_core.config.problems import ConfigError
    from cc_core.ivr.build import BuildError, build_prompts
    from cc_core.ivr.library import load_library

    try:
        report = build_prompts(load_library(config_dir).prompts, out, force=force)
    except (ConfigError, BuildError, OSError) as exc:
        click.echo(f"cc-admin: prompts build failed: {exc}", err=True)
        sys.exit(2)
    click.echo(f"{out}: {len(report.built)} built, {len(report.skipped)} up to date")


def _add_supervision() -> None:
    from cc_core.cli import supervision

    for command in (
        supervision.calls,
        supervision.spy,
        supervision.supervisor_token,
        supervision.agent_token,
    ):
        cli.add_command(command)


_add_supervision()


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
