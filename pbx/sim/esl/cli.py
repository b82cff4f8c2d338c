"""`cc-sim --pbx freeswitch`: the scenario's agents and traffic on the FreeSWITCH flavour."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from pathlib import Path

import click

from pbx.sim.esl.runtime import FsSimConfig, FsSimulator
from pbx.sim.esl.switch import UserEndpoint
from pbx.sim.esl.traffic import FsTraffic, KeyPress, NumberTraffic
from pbx.sim.scenario import Scenario

log = logging.getLogger("pbx.sim")


def build(
    scenario: Scenario, base: Path, port: int | None, time_scale: float | None
) -> FsSimulator:
    fs = scenario.freeswitch
    return FsSimulator(
        FsSimConfig(
            dialplan_paths=[p if p.is_absolute() else base / p for p in map(Path, fs.dialplan)],
            host=fs.host,
            port=fs.port if port is None else port,
            password=fs.password,
            time_scale=scenario.time_scale if time_scale is None else time_scale,
            preprocess=dict(fs.preprocess),
        )
    )


async def run(
    scenario: Scenario,
    base: Path,
    port: int | None,
    time_scale: float | None,
    traffic: bool,
) -> None:
    sim = build(scenario, base, port, time_scale)
    await sim.start()
    click.echo(f"cc-sim: ESL on {scenario.freeswitch.host}:{sim.port}")
    for a in scenario.agents:
        user = UserEndpoint(
            a.endpoint,
            sim.config.domain,
            f"sofia/internal/sip:{a.endpoint}@{sim.config.domain}",
            registered=a.registered,
            answer_delay=a.ring_delay + a.answer_delay,
            talk_time=a.talk_time_mean,
        )
        if a.registered:
            sim.register(user)
        else:
            sim.switch.users[a.endpoint] = user
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    gen_task = None
    t = scenario.traffic
    if traffic and t.numbers:
        gen = FsTraffic(
            sim.switch,
            [
                NumberTraffic(
                    n.number,
                    n.calls_per_minute,
                    tuple(KeyPress(k.after, k.digits) for k in n.keys),
                    n.patience_mean,
                )
                for n in t.numbers
            ],
            context=scenario.freeswitch.context,
            seed=t.seed,
            max_calls=t.max_calls,
        )
        gen_task = asyncio.create_task(gen.run(t.duration))
    try:
        await stop.wait()
    finally:
        if gen_task is not None:
            gen_task.cancel()
        await sim.stop()
