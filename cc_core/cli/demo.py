"""The main job: the ACD beside the simulated PBX with live traffic, and a live terminal view.

Runs the two real programs (``cc-sim`` and ``cc-acd run``) as child processes on free loopback
ports, with a copy of the shipped configs pointed at each other, logs the agents in over the
REST API, and shows queues and agents until Ctrl-C (or ``--duration``) stops everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import click
import yaml
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from cc_core.cli.demo_audio import build_demo_audio
from cc_core.config import load_configs

ROOT = Path(__file__).resolve().parents[2]
DIALPLAN = ROOT / "dialplan" / "asterisk" / "extensions.conf"
# The AMI account an install adds to manager.conf: the simulated Asterisk applies its read
# classes and eventfilter lines, so the demo's ACD gets what it would get from a real one.
MANAGER_CONF = DIALPLAN.with_name("manager_cc.conf")

# How demo callers answer the shipped main_menu script: language, an 8-digit account number
# (Luhn-valid; the customer system is not running, so the lookup falls back to the menu), then
# a menu choice. Seconds are counted from the previous key; prompts take about 2 s each.
IVR_PATHS: dict[str, list[tuple[float, str]]] = {
    "english billing": [(3, "1"), (4, "12345674#"), (5, "1")],
    "english outage": [(3, "1"), (4, "12345674#"), (5, "2"), (3, "1")],
    "english sales": [(3, "1"), (4, "12345674#"), (5, "3")],
    "spanish billing": [(3, "2"), (4, "12345674#"), (5, "1")],
    "german support": [(3, "3"), (4, "12345674#"), (5, "2")],
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Ports:
    ami: int
    fastagi: int
    api: int
    esl_outbound: int
    media: int  # the AudioSocket server the dialplan's media fork streams calls to


def open_all_hours(ivr_dir: Path) -> None:
    """Make every business-hours calendar of the copied scripts open around the clock, so the
    demo shows queues at any time of day (``--real-hours`` keeps the admin's calendars)."""
    always = ["00:00-24:00"]
    for path in sorted(ivr_dir.glob("*.yaml")):
        script = yaml.safe_load(path.read_text(encoding="utf-8"))
        calendars = script.get("calendars") if isinstance(script, dict) else None
        if not calendars:
            continue
        for calendar in calendars.values():
            calendar["weekly"] = {
                day: always for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
            }
            calendar["holidays"] = []
        path.write_text(
            yaml.safe_dump(script, sort_keys=False, allow_unicode=True), encoding="utf-8"
        )


def shipped_ami_account(path: Path = MANAGER_CONF) -> tuple[str, str]:
    """The user and secret of the shipped AMI account (the file's one user section)."""
    from pbx.sim.ami.manager_conf import ManagerConfError, load_accounts

    try:
        accounts = list(load_accounts(path).values())
    except (OSError, ManagerConfError) as exc:
        raise click.ClickException(f"cannot read the AMI account: {exc}") from None
    if len(accounts) != 1:
        raise click.ClickException(f"{path}: expected one AMI user section, found {len(accounts)}")
    return accounts[0].username, accounts[0].secret


def build_sounds(configs: Path, work: Path) -> Path:
    """The prompts rendered into the demo's sound directory (``<work>/sounds/ccplane``); the
    manifest there keeps unchanged prompts from being rendered again."""
    from cc_core.ivr.build import build_prompts
    from cc_core.ivr.library import load_library

    sounds = work / "sounds"
    report = build_prompts(load_library(configs).prompts, sounds / "ccplane")
    click.echo(f"prompts: {len(report.built)} built, {len(report.skipped)} up to date in {sounds}")
    return sounds


def prepare(
    configs: Path, work: Path, ports: Ports, rate: float, seed: int, real_hours: bool = False
) -> tuple[Path, Path]:
    """A copy of the admin configs wired to the simulator, and the simulator's scenario."""
    centre = load_configs(configs)  # refuses broken configs with file:line before anything runs
    out = work / "configs"
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(configs, out, ignore=shutil.ignore_patterns("sim"))
    if not real_hours:
        open_all_hours(out / "ivr")

    ami_user, ami_secret = shipped_ami_account()
    acd = yaml.safe_load((configs / "acd.yaml").read_text(encoding="utf-8"))
    acd["api"] = {"host": "127.0.0.1", "port": ports.api}
    acd["fastagi"] = {"host": "127.0.0.1", "port": ports.fastagi}
    acd["esl_outbound"] = {"host": "127.0.0.1", "port": ports.esl_outbound}
    acd["media_fork"] = {"enabled": True, "host": "127.0.0.1", "port": ports.media}
    acd["store"] = {"url": f"sqlite+aiosqlite:///{work / 'ccplane.db'}"}
    acd["pbx"] = [
        {
            "name": "sim",
            "type": "asterisk",
            "ring_timeout": 15,
            "ami": {
                "host": "127.0.0.1",
                "port": ports.ami,
                "username": ami_user,
                "secret": ami_secret,
            },
        }
    ]
    (out / "acd.yaml").write_text(yaml.safe_dump(acd, sort_keys=False), encoding="utf-8")

    # Callers and agents speak (a scripted conversation; every third agent in a noisy room),
    # so the media fork's scores and alerts are about real audio.
    audio = build_demo_audio(work)
    phones = []
    for i, agent in enumerate(centre.agents.agents):
        endpoint = agent.endpoint.split("/", 1)[-1]
        phones.append(
            {
                "endpoint": endpoint,
                "answer_delay": 1.0 + (i % 3) * 0.5,
                "no_answer_probability": 0.03,
                "talk_time_mean": 40 + 10 * (i % 4),
                "talk_time_min": 8,
                "audio": str(audio.for_agent(i)),
            }
        )
    numbers = []
    for n in centre.queues.numbers:
        if n.ivr == "main_menu":
            # The IVR line carries most callers, split over the paths above.
            for keys in IVR_PATHS.values():
                numbers.append(
                    {
                        "number": n.did,
                        "calls_per_minute": 2 * rate / len(IVR_PATHS),
                        "patience_mean": 120,
                        "audio": str(audio.customer),
                        "keys": [{"after": after, "digits": d} for after, d in keys],
                    }
                )
        else:
            numbers.append(
                {
                    "number": n.did,
                    "calls_per_minute": rate / 2,
                    "patience_mean": 120,
                    "audio": str(audio.customer),
                }
            )
    scenario = {
        "dialplan": str(DIALPLAN),
        # The PBX plays the generated prompts: missing files fail as on Asterisk.
        "sounds": str(build_sounds(configs, work)),
        "globals": {
            "CC_FASTAGI": f"agi://127.0.0.1:{ports.fastagi}",
            "CC_AUDIOSOCKET": f"127.0.0.1:{ports.media}",
        },
        # The shipped account only: no unfiltered user beside it.
        "ami": {
            "host": "127.0.0.1",
            "port": ports.ami,
            "accounts": {},
            "manager_conf": str(MANAGER_CONF),
        },
        "agents": phones,
        "traffic": {"seed": seed, "context": "cc-inbound", "trunk": "cc-trunk", "numbers": numbers},
    }
    path = work / "scenario.yaml"
    path.write_text(yaml.safe_dump(scenario, sort_keys=False), encoding="utf-8")
    return out, path


async def start(name: str, args: list[str], log_path: Path) -> asyncio.subprocess.Process:
    log = log_path.open("ab")
    proc = await asyncio.create_subprocess_exec(
        *args,
        stdout=log,
        stderr=log,
        stdin=asyncio.subprocess.DEVNULL,
        start_new_session=True,  # Ctrl-C in the terminal reaches us; we stop the children
    )
    log.close()
    if proc.returncode is not None:
        raise click.ClickException(f"{name} exited at once; see {log_path}")
    return proc


async def wait_healthy(
    http: aiohttp.ClientSession, url: str, procs: list[Any], seconds: float = 60.0
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for p in procs:
            if p.returncode is not None:
                raise click.ClickException("a component exited during start-up; see var/demo/*.log")
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with http.get(url + "/health") as resp:
                if resp.status == 200:
                    return
        await asyncio.sleep(0.3)
    raise click.ClickException(f"the ACD API did not answer at {url} within {seconds:.0f} s")


def _age(since: float | None, now: float) -> str:
    return "-" if not since else f"{max(0.0, now - since):.0f}s"


def render(
    queues: list[dict[str, Any]], agents: list[dict[str, Any]], api: str, elapsed: float
) -> Group:
    now = time.time()
    q = Table(title=f"Queues  (API {api}, running {elapsed:.0f} s, Ctrl-C stops)", expand=True)
    for col in (
        "queue",
        "waiting",
        "longest wait",
        "ringing",
        "talking",
        "offered",
        "answered",
        "abandoned",
        "SLA so far",
    ):
        if col == "queue":
            q.add_column(col, no_wrap=True, min_width=12)
        else:
            q.add_column(col, justify="right")
    for item in queues:
        c = item.get("counters", {})
        answered = int(c.get("answered", 0))
        in_sla = c.get("answered_in_sla")
        abandoned = int(c.get("abandoned", 0))
        sla = "-"
        if in_sla is not None and answered + abandoned:
            sla = f"{100 * int(in_sla) / (answered + abandoned):.0f}%"
        q.add_row(
            item["id"],
            str(item["waiting"]),
            _age(item.get("longest_wait_since"), now),
            str(item["offered"]),
            str(item["connected"]),
            str(c.get("offered", 0)),
            str(answered),
            str(abandoned),
            sla,
        )
    by_state: dict[str, list[str]] = {}
    for a in agents:
        by_state.setdefault(a["state"], []).append(a["id"])
    s = Table(title="Agents by state", expand=True)
    s.add_column("state", no_wrap=True)
    s.add_column("n", justify="right")
    s.add_column("agents")
    for state in sorted(by_state):
        s.add_row(state, str(len(by_state[state])), ", ".join(sorted(by_state[state])))
    return Group(q, s)


async def run(
    work: Path,
    demo_configs: Path,
    scenario: Path,
    ports: Ports,
    duration: float | None,
    rate: float,
    view: bool,
) -> int:
    bin_dir = Path(sys.executable).parent
    api = f"http://127.0.0.1:{ports.api}"
    console = Console()
    console.print(f"[bold]ccplane demo[/] configs {demo_configs}, logs in {work}/*.log")
    procs: list[asyncio.subprocess.Process] = []
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
            # The PBX first: the ACD serves its API once it is logged in to AMI. A caller who
            # arrives before the ACD's FastAGI server listens is still held by the dialplan
            # and adopted when the ACD resyncs.
            procs.append(
                await start("cc-sim", [str(bin_dir / "cc-sim"), str(scenario)], work / "sim.log")
            )
            procs.append(
                await start(
                    "cc-acd",
                    [str(bin_dir / "cc-acd"), "run", "--configs", str(demo_configs)],
                    work / "acd.log",
                )
            )
            await wait_healthy(http, api, procs)
            async with http.get(api + "/api/agents") as resp:
                agents = (await resp.json())["agents"]
            for a in agents:
                async with http.post(
                    f"{api}/api/agents/{a['id']}/login", json={"state": "ready"}
                ) as resp:
                    await resp.read()
            console.print(
                f"ACD API on {api} (try {api}/api/queues); "
                f"{len(agents)} agents logged in; traffic {rate}/min per number"
            )
            started = time.monotonic()
            with Live(console=console, refresh_per_second=2, transient=False) as live:
                while not stop.is_set():
                    if duration is not None and time.monotonic() - started >= duration:
                        break
                    if any(p.returncode is not None for p in procs):
                        console.print("[red]a component stopped; see the logs[/]")
                        return 1
                    with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                        async with http.get(api + "/api/queues") as resp:
                            queues = (await resp.json())["queues"]
                        async with http.get(api + "/api/agents") as resp:
                            agents = (await resp.json())["agents"]
                        if view:
                            live.update(render(queues, agents, api, time.monotonic() - started))
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), 1.0)
            if not view:
                console.print(render(queues, agents, api, time.monotonic() - started))
        return 0
    finally:
        for p in procs:
            if p.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                await asyncio.wait_for(p.wait(), 10)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
        console.print("stopped cleanly")


@click.command()
@click.option(
    "--configs",
    "config_dir",
    default="configs",
    show_default=True,
    type=click.Path(path_type=Path, file_okay=False),
)
@click.option(
    "--work",
    default="var/demo",
    show_default=True,
    type=click.Path(path_type=Path),
    help="Where the generated configs, the store and the logs go.",
)
@click.option("--duration", type=float, default=None, help="Stop after this many seconds.")
@click.option(
    "--rate",
    type=float,
    default=4.0,
    show_default=True,
    help="Calls per minute to each direct number; the IVR line gets twice that.",
)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--no-view", is_flag=True, help="Print one summary at the end instead.")
@click.option(
    "--real-hours",
    is_flag=True,
    help="Keep the IVR's business hours (default: open around the clock).",
)
def main(
    config_dir: Path,
    work: Path,
    duration: float | None,
    rate: float,
    seed: int,
    no_view: bool,
    real_hours: bool,
) -> None:
    """Run the ACD with the simulated PBX and live traffic."""
    from cc_core.config import ConfigError
    from cc_core.ivr.build import BuildError

    work = work.resolve()
    try:
        work.mkdir(parents=True, exist_ok=True)
        ports = Ports(free_port(), free_port(), free_port(), free_port(), free_port())
        demo_configs, scenario = prepare(config_dir, work, ports, rate, seed, real_hours)
        code = asyncio.run(run(work, demo_configs, scenario, ports, duration, rate, not no_view))
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        code = 2
    except BuildError as exc:
        click.echo(f"demo: prompts build failed: {exc}", err=True)
        code = 2
    sys.exit(code)


if __name__ == "__main__":
    main()
