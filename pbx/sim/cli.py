"""`cc-sim`: run the simulated PBX (AMI server, agent phones, call traffic) from a scenario."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
import sys
from pathlib import Path

import click

from pbx.sim.ami.manager_conf import ManagerConfError
from pbx.sim.dialplan.errors import DialplanError
from pbx.sim.endpoints import Behaviour, Endpoint
from pbx.sim.esl.dialplan import XmlDialplanError
from pbx.sim.media import AudioFileError, audio_of
from pbx.sim.runtime import SimConfig, Simulator, tune_gc
from pbx.sim.scenario import Scenario, ScenarioError, load
from pbx.sim.traffic import KeyPress, NumberTraffic, TrafficGenerator

log = logging.getLogger("pbx.sim")

DEFAULT_SCENARIO = Path(__file__).resolve().parents[2] / "configs" / "sim" / "scenario.yaml"


def build(scenario: Scenario, base: Path, port: int | None, time_scale: float | None) -> Simulator:
    config = SimConfig(
        dialplan_path=scenario.dialplan_path(base),
        host=scenario.ami.host,
        ami_port=scenario.ami.port if port is None else port,
        accounts=dict(scenario.ami.accounts),
        manager_conf=scenario.manager_conf_path(base),
        globals_override=dict(scenario.globals),
        time_scale=scenario.time_scale if time_scale is None else time_scale,
        sound_dir=scenario.sound_dir(base),
    )
    sim = Simulator(config)
    seed = scenario.traffic.seed
    for i, a in enumerate(scenario.agents):
        sim.endpoints.add(
            Endpoint(
                a.endpoint,
                context=a.context,
                port=5100 + i,
                rng=random.Random(f"{seed}:{a.endpoint}"),
                behaviour=Behaviour(
                    ring_delay=a.ring_delay,
                    answer_delay=a.answer_delay,
                    no_answer_probability=a.no_answer_probability,
                    talk_time_mean=a.talk_time_mean,
                    talk_time_min=a.talk_time_min,
                ),
            )
        )
    attach_audio(sim, scenario, base)
    return sim


def attach_audio(sim: Simulator, scenario: Scenario, base: Path) -> None:
    """The scenario's WAV files, for the media fork; a bad file is a scenario error."""
    audio = audio_of(sim.pbx)
    try:
        for a in scenario.agents:
            if a.audio:
                audio.attach_endpoint(a.endpoint, base / a.audio)
        for n in scenario.traffic.numbers:
            if n.audio:
                audio.attach_number(n.number, base / n.audio)
    except AudioFileError as exc:
        raise ScenarioError(str(exc)) from None


def traffic_for(sim: Simulator, scenario: Scenario) -> TrafficGenerator:
    t = scenario.traffic
    numbers = [
        NumberTraffic(
            n.number,
            n.calls_per_minute,
            tuple(KeyPress(k.after, k.digits) for k in n.keys),
            n.patience_mean,
        )
        for n in t.numbers
    ]
    return TrafficGenerator(
        sim.pbx, numbers, context=t.context, trunk=t.trunk, seed=t.seed, max_calls=t.max_calls
    )


async def run(
    scenario: Scenario, base: Path, port: int | None, time_scale: float | None, traffic: bool
) -> None:
    sim = build(scenario, base, port, time_scale)
    tune_gc()
    await sim.start()
    click.echo(f"cc-sim: AMI on {scenario.ami.host}:{sim.ami_port}", err=False)
    for a in scenario.agents:
        if a.registered:
            sim.endpoints.register(a.endpoint)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    gen_task = None
    if traffic and scenario.traffic.numbers:
        gen = traffic_for(sim, scenario)
        gen_task = asyncio.create_task(gen.run(scenario.traffic.duration))
    try:
        await stop.wait()
    finally:
        if gen_task is not None:
            gen_task.cancel()
        await sim.stop()


@click.command()
@click.argument(
    "scenario", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_SCENARIO
)
@click.option(
    "--pbx",
    type=click.Choice(["asterisk", "freeswitch"]),
    default="asterisk",
    show_default=True,
    help="Which PBX to be: Asterisk (AMI, extensions.conf) or FreeSWITCH (event socket, XML).",
)
@click.option("--ami-port", type=int, default=None, help="AMI port (0: pick a free one).")
@click.option("--esl-port", type=int, default=None, help="Event socket port (0: pick a free one).")
@click.option("--time-scale", type=float, default=None, help="Real seconds per simulated second.")
@click.option("--no-traffic", is_flag=True, help="Do not generate calls.")
@click.option("--log-level", default="INFO", show_default=True)
def main(
    scenario: Path,
    pbx: str,
    ami_port: int | None,
    esl_port: int | None,
    time_scale: float | None,
    no_traffic: bool,
    log_level: str,
) -> None:
    """Run the simulated PBX described by SCENARIO (a YAML file)."""
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        sc = load(scenario)
    except (ScenarioError, OSError) as exc:
        click.echo(f"cc-sim: {exc}", err=True)
        sys.exit(2)
    try:
        if pbx == "freeswitch":
            from pbx.sim.esl import cli as esl_cli

            asyncio.run(esl_cli.run(sc, scenario.parent, esl_port, time_scale, not no_traffic))
        else:
            asyncio.run(run(sc, scenario.parent, ami_port, time_scale, not no_traffic))
    except (DialplanError, XmlDialplanError, ScenarioError, ManagerConfError) as exc:
        click.echo(f"cc-sim: {exc}", err=True)
        sys.exit(2)
    except OSError as exc:
        click.echo(f"cc-sim: {exc}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
