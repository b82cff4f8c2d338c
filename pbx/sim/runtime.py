"""Assemble a running simulator: dialplan, engine, AMI server, endpoints, FastAGI client."""

from __future__ import annotations

import gc
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pbx.sim.ami.manager_conf import load_accounts
from pbx.sim.ami.server import Account, AmiServer, ServerConfig
from pbx.sim.dialplan_port import Dialplan
from pbx.sim.endpoints import Endpoints
from pbx.sim.pbx import Pbx
from pbx.sim.sounds import Sounds

log = logging.getLogger(__name__)


@dataclass(slots=True)
class SimConfig:
    dialplan_path: Path
    host: str = "127.0.0.1"
    ami_port: int = 0
    accounts: dict[str, str] = field(default_factory=lambda: {"acd": "acdsecret"})
    # Users of a manager.conf-style file, with their read classes and event filters.
    manager_conf: Path | None = None
    globals_override: dict[str, str] = field(default_factory=dict)
    time_scale: float = 1.0
    auth_fail_delay: float = 1.0
    max_output_bytes: int = 8 * 1024 * 1024
    # The PBX's sound directory (prompts must exist there and play for their length); None:
    # every prompt plays for a fixed time.
    sound_dir: Path | None = None


def tune_gc() -> None:
    """Thousands of live calls keep many long-lived objects: full collections of them stall
    the event loop for hundreds of ms. Freeze what exists at start and collect less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def load_dialplan(path: Path, overrides: Mapping[str, str] | None = None) -> Dialplan:
    from pbx.sim.dialplan.model import Dialplan as ConfDialplan

    return ConfDialplan.load(str(path), overrides)


def unknown_applications(pbx: Pbx) -> list[str]:
    """Warn, once per application, about dialplan steps the simulator cannot run."""
    missing: dict[str, tuple[str, str, int]] = {}
    for context, exten, priority, app in pbx.dialplan.applications():
        if app.lower() not in pbx.apps and app.lower() not in missing:
            missing[app.lower()] = (context, exten, priority)
            log.warning(
                "dialplan application %s (first at %s,%s,%d) is not simulated; "
                "calls reaching it will be hung up",
                app,
                context,
                exten,
                priority,
            )
    return sorted(missing)


class Simulator:
    def __init__(self, config: SimConfig, dialplan: Dialplan | None = None) -> None:
        from pbx.sim.agi_client import run_agi
        from pbx.sim.dialplan.substitution import expand

        self.config = config
        self.dialplan = dialplan or load_dialplan(config.dialplan_path, config.globals_override)
        self.endpoints = Endpoints()
        self.pbx = Pbx(
            self.dialplan,
            expand,
            globals_override=config.globals_override,
            time_scale=config.time_scale,
            endpoints=self.endpoints,
            agi=run_agi,
        )
        self.endpoints.attach(self.pbx)
        self.pbx.sounds = Sounds(config.sound_dir)
        self.missing_applications = unknown_applications(self.pbx)
        accounts = {u: Account(u, s) for u, s in config.accounts.items()}
        if config.manager_conf is not None:
            accounts.update(load_accounts(config.manager_conf))
        self.ami = AmiServer(
            self.pbx,
            ServerConfig(
                host=config.host,
                port=config.ami_port,
                accounts=accounts,
                auth_fail_delay=config.auth_fail_delay,
                max_output_bytes=config.max_output_bytes,
            ),
        )

    async def start(self) -> None:
        await self.ami.start()
        log.info("AMI listening on %s:%d", self.config.host, self.ami.port)

    async def stop(self) -> None:
        await self.ami.stop()
        for chan in list(self.pbx.channels.values()):
            if chan.task is not None:
                chan.task.cancel()

    @property
    def ami_port(self) -> int:
        return self.ami.port
