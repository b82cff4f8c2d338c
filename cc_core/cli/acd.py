"""``cc-acd run``: the ACD service with the PBX, FastAGI, store and API named in acd.yaml."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cc_core.logs import log_event, setup_logging
from cc_core.runtime import settle_heap

if TYPE_CHECKING:
    from cc_core.acd.wiring import Node

EXIT_CONFIG = 2
EXIT_START = 1


@click.group()
def cli() -> None:
    """The automatic call distributor."""


@cli.command()
@click.option(
    "--configs",
    "config_dir",
    default="configs",
    show_default=True,
    type=click.Path(path_type=Path),
    help="Directory with acd.yaml, agents.yaml, queues.yaml.",
)
@click.option("--no-migrate", is_flag=True, help="Do not run the store migrations at start.")
def run(config_dir: Path, no_migrate: bool) -> None:
    """Run the ACD until SIGINT or SIGTERM."""
    from cc_core.config import ConfigError, load_configs

    try:
        config = load_configs(config_dir)
    except ConfigError as exc:
        click.echo(f"cc-acd: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    log = config.acd.logging
    setup_logging(log.level, json=log.json_lines, mask_pii=log.mask_pii)
    warn_if_open(config.acd.api.host, config.acd.api.agent_secret)
    sys.exit(asyncio.run(_serve(config, migrate=not no_migrate)))


def warn_if_open(host: str, secret: str | None) -> None:
    """Without a secret the agent-state and snapshot routes are open (docs/acd.md): fine on
    loopback, worth one warning anywhere else."""
    from cc_core.api.access import exposed_without_secret

    if exposed_without_secret(host, secret):
        log_event(
            logging.getLogger("cc_core.cli.acd"),
            "acd.api_open",
            logging.WARNING,
            host=host,
            msg=f"the API listens on {host} without api.agent_secret: anyone who reaches it "
            "can log agents in and out and read calls; set api.agent_secret in acd.yaml",
        )


async def _serve(config: object, *, migrate: bool) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from cc_core.acd.wiring import Node, WiringError
    from cc_core.config import CentreConfig
    from cc_core.store.errors import StoreError
    from cc_core.store.live import LiveStateError

    assert isinstance(config, CentreConfig)
    node = Node(config, migrate=migrate)
    node.on_role = lambda role: _announce(node, role)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await node.start()
    except (WiringError, StoreError, SQLAlchemyError, LiveStateError, OSError, ValueError) as exc:
        click.echo(f"cc-acd: cannot start: {exc}", err=True)
        await node.stop()
        return EXIT_START
    settle_heap()
    api = f"{config.acd.api.host}:{node.api_bound}"
    if node.ha is None:
        click.echo(f"cc-acd: API on {api}, {ivr_listener(node)}")
    else:
        ha = config.acd.ha
        click.echo(
            f"cc-acd: API on {api}, standby as {config.acd.node_id} for lease "
            f"{ha.cluster}:{ha.lease} (the IVR listener starts once active)"
        )
    sys.stdout.flush()
    await stop.wait()
    await node.stop()
    return 0


def _announce(node: Node, role: str) -> None:
    """Role changes of an ha node on stdout, as the start line is (logs have them too)."""
    if role == "active":
        token = node.ha.token if node.ha is not None else None
        click.echo(f"cc-acd: active (lease token {token}), {ivr_listener(node)}")
    elif role == "standby":
        click.echo("cc-acd: standby (the IVR listener is closed)")
    sys.stdout.flush()


def ivr_listener(node: Node) -> str:
    """Where the PBX reaches the IVR, as it really listens: FastAGI for Asterisk, the outbound
    event socket server for FreeSWITCH."""
    if node.ivr_socket is not None:
        return f"ESL outbound socket on {node.ivr_socket.host}:{node.ivr_socket.port}"
    if node.fastagi is not None:
        return f"FastAGI on {node.fastagi.host}:{node.fastagi.port}"
    return "no IVR listener"


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
