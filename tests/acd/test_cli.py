"""`cc-acd run` as a process: starts from a configs directory, serves, stops on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
from pathlib import Path

import aiohttp

from tests.acd.conftest import INBOUND, make_sim, wait_for, write_configs

CC_ACD = [sys.executable, "-c", "from cc_core.cli.acd import main; main()"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def use_ports(configs: Path, api: int, fastagi: int) -> None:
    text = (configs / "acd.yaml").read_text()
    text = text.replace("port: 8080", f"port: {api}").replace("port: 4573", f"port: {fastagi}")
    (configs / "acd.yaml").write_text(text)


async def test_run_serves_calls_and_stops_on_sigterm(tmp_path: Path, sqlite_url: str) -> None:
    fastagi = free_port()
    sim = make_sim(fastagi)
    await sim.start()
    configs = write_configs(tmp_path / "configs", ami_port=sim.ami_port, store_url=sqlite_url)
    api = free_port()
    use_ports(configs, api, fastagi)
    proc = await asyncio.create_subprocess_exec(
        *CC_ACD, "run", "--configs", str(configs),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        assert re.match(rf"cc-acd: API on 127\.0\.0\.1:{api}, FastAGI on 127\.0\.0\.1:{fastagi}",
                        line), line
        async with aiohttp.ClientSession() as http:
            base = f"http://127.0.0.1:{api}"

            async def healthy() -> bool:
                async with http.get(base + "/health") as resp:
                    return resp.status == 200  # 503 until the AMI login is through

            await wait_for(healthy, what="healthy with the PBX connected")
            sim.endpoints.register("agent1001")  # logs ann in through SIP registration

            async def ann_ready() -> bool:
                async with http.get(base + "/api/agents/ann") as resp:
                    return (await resp.json())["state"] == "ready"

            await wait_for(ann_ready, what="ann logged in by registration")
            from pbx.sim.inbound import inbound_call

            chan = inbound_call(sim.pbx, "5550100", context=INBOUND, caller_num="2015550199")
            await wait_for(lambda: chan.bridge is not None, seconds=15, what="call served")
            sim.pbx.queue_hangup(chan, 16)
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await sim.stop()


async def test_bad_configs_exit_2_naming_the_file(tmp_path: Path, sqlite_url: str) -> None:
    configs = write_configs(tmp_path / "configs", ami_port=1, store_url=sqlite_url)
    (configs / "queues.yaml").write_text("queues:\n  - id: sales\n    channels: [fax]\n")
    proc = await asyncio.create_subprocess_exec(
        *CC_ACD, "run", "--configs", str(configs),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2
    assert "queues.yaml:3" in err.decode()


async def start_acd(configs: Path) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        *CC_ACD, "run", "--configs", str(configs),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
    assert line.startswith("cc-acd: API on"), line
    return proc


async def test_sigkill_and_restart_keeps_every_waiting_call(
    tmp_path: Path, sqlite_url: str
) -> None:
    from pbx.sim.inbound import inbound_call

    fastagi, api = free_port(), free_port()
    sim = make_sim(fastagi)
    await sim.start()
    sim.endpoints.register("agent1001")  # before the ACD connects: ann logs in by REST
    configs = write_configs(tmp_path / "configs", ami_port=sim.ami_port, store_url=sqlite_url)
    use_ports(configs, api, fastagi)
    base = f"http://127.0.0.1:{api}"
    procs = [await start_acd(configs)]
    try:
        async with aiohttp.ClientSession() as http:

            async def waiting() -> int:
                try:
                    async with http.get(base + "/api/calls") as resp:
                        calls = (await resp.json())["calls"]
                except aiohttp.ClientError:
                    return 0
                return sum(1 for c in calls if c["stage"] == "queued")

            chans = [
                inbound_call(sim.pbx, "5550100", context=INBOUND, caller_num=f"20155501{i}")
                for i in range(3)
            ]
            async def three_waiting() -> bool:
                return await waiting() == 3

            await wait_for(three_waiting, seconds=15, what="three calls queued")
            procs[0].kill()  # SIGKILL: no clean-up of any kind
            await procs[0].wait()
            procs.append(await start_acd(configs))

            await wait_for(three_waiting, seconds=20, what="the three calls re-adopted")
            async with http.post(base + "/api/agents/ann/login", json={}) as resp:
                assert resp.status == 200
            for chan in chans:  # served in arrival order, one after the other
                await wait_for(lambda c=chan: c.bridge is not None, seconds=15,
                               what="next caller served")
                assert all(other.bridge is None for other in chans if other is not chan)
                sim.pbx.queue_hangup(chan, 16)
                await wait_for(lambda c=chan: c.hung_up, what="caller gone")
        procs[-1].send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(procs[-1].wait(), 20) == 0
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        await sim.stop()
