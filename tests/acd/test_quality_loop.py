"""Routing closes the loop: two agents' edge probes (the softphone's own code, fed real sox
noise as microphone audio in real time) report to the ACD over its API; the sales queue has a
quality minimum. When one agent's room gets loud, calls stop going to that agent, and come
back when it is quiet again; the event log holds each offer's score and threshold and each
agent_quality change."""

from __future__ import annotations

import contextlib
import itertools
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent_softphone.client import AcdClient
from agent_softphone.edge import ReportSender, run_probe
from agent_softphone.probe import CpuMeter, MicProbe, WavMic
from cc_core.acd.agent_quality import agent_token
from tests.acd.conftest import (
    Centre,
    running_centre,
    wait_for,
)

SECRET = "loop-test-secret-0123456789"
MIN_SCORE = 0.7
REPORT_EVERY = 0.5


def _sox(path: Path, volume: float) -> Path:
    subprocess.run(
        [
            "sox",
            "-n",
            "-r",
            "8000",
            "-c",
            "1",
            "-b",
            "16",
            str(path),
            "synth",
            "8",
            "pinknoise",
            "vol",
            str(volume),
        ],
        check=True,
    )
    return path


class SwitchableMic:
    """The agent's microphone: a WAV the test swaps for another mid-run."""

    def __init__(self, wav: WavMic) -> None:
        self.wav = wav

    def read(self, samples: int) -> bytes:
        return self.wav.read(samples)


@contextlib.asynccontextmanager
async def loop_centre(tmp_path: Path, store_url: str) -> AsyncIterator[Centre]:
    async with running_centre(
        tmp_path,
        store_url,
        sales_extra=f"    quality: {{min_score: {MIN_SCORE}, weight: 0.5}}",
        agent_secret=SECRET,
    ) as centre:
        for phone in centre.phones.values():
            phone.answers(after=0.1)
        yield centre


async def _serve_one(centre: Centre) -> str:
    """One sales call: returns the agent who got it, after hanging up and wrap-up."""
    chan = centre.call()
    await wait_for(lambda: chan.bridge is not None, what="caller bridged to an agent")
    assert centre.node.service is not None
    (record,) = [r for r in centre.node.service.calls if r.call_id == chan.uniqueid]
    agent = record.agent_id
    assert agent is not None
    centre.hang_up(chan)

    async def ready_again() -> bool:
        _, body = await centre.request(
            "GET", f"/api/agents/{agent}", token=centre.agent_token(agent)
        )
        return bool(body["state"] == "ready")

    await wait_for(ready_again, what=f"{agent} ready after wrap-up")
    return agent


async def _score(centre: Centre, agent: str) -> float | None:
    headers = {"Authorization": f"Bearer {agent_token(SECRET, agent)}"}
    async with centre.http.get(f"{centre.api}/api/agents/{agent}/quality", headers=headers) as resp:
        assert resp.status == 200
        return (await resp.json())["score"]


async def _wait_score(
    centre: Centre, agent: str, test: Callable[[float], bool], what: str
) -> float:
    async def check() -> bool:
        score = await _score(centre, agent)
        return score is not None and test(score)

    start = time.monotonic()
    await wait_for(check, seconds=20, what=what)
    return time.monotonic() - start


@pytest.mark.slow
async def test_calls_leave_the_noisy_agent_and_come_back(tmp_path: Path, store_url: str) -> None:
    quiet = WavMic(_sox(tmp_path / "quiet.wav", 0.001))
    loud = WavMic(_sox(tmp_path / "loud.wav", 0.3))
    since = datetime.now(UTC) - timedelta(seconds=5)
    async with loop_centre(tmp_path, store_url) as centre:
        mics = {"ann": SwitchableMic(quiet), "ben": SwitchableMic(WavMic(quiet.path))}
        stop = threading.Event()
        # This machine's CPU (shared by every test running) is not what is tested here.
        no_cpu = CpuMeter(tmp_path / "no-proc-stat")
        senders = {a: ReportSender(AcdClient(centre.api, a, agent_token(SECRET, a))) for a in mics}
        threads = [
            threading.Thread(
                target=run_probe,
                args=(mics[a].read, MicProbe(8000), senders[a], stop),
                kwargs={"report_every": REPORT_EVERY, "cpu": no_cpu},
            )
            for a in mics
        ]
        for t in threads:
            t.start()
        try:
            await centre.login("ann")
            await centre.login("ben")
            for agent in mics:
                await _wait_score(centre, agent, lambda s: s >= MIN_SCORE, f"{agent} clean")
            # Ann's room gets loud: she drops below the queue's minimum within seconds.
            mics["ann"].wav = loud
            took = await _wait_score(centre, "ann", lambda s: s < MIN_SCORE, "ann noisy")
            print(f"\nnoise start -> ann below {MIN_SCORE}: {took:.1f} s")
            assert took < 10.0
            served_noisy = [await _serve_one(centre) for _ in range(3)]
            assert served_noisy == ["ben", "ben", "ben"]
            # Quiet again: ann is back; longest idle means she is next.
            mics["ann"].wav = quiet
            took = await _wait_score(centre, "ann", lambda s: s >= MIN_SCORE, "ann clean")
            print(f"noise stop -> ann back at or above {MIN_SCORE}: {took:.1f} s")
            assert took < 10.0
            served_clean = [await _serve_one(centre) for _ in range(2)]
            assert "ann" in served_clean
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=5)
            for s in senders.values():
                s.close()
        assert all(s.sent > 0 for s in senders.values())
        await centre.settled()
        assert centre.node.store is not None
        async with centre.node.store.transaction(readonly=True) as repos:
            events = [e async for e in repos.events.between(since, datetime.now(UTC))]
    offers = [e for e in events if e.event == "offered"]
    assert len(offers) == 5
    for e in offers:  # every decision carries the score and the threshold it passed
        assert e.data["min_quality"] == MIN_SCORE
        assert e.data["quality"] >= MIN_SCORE
    ann = [e.data for e in events if e.event == "agent_quality" and e.agent_id == "ann"]
    eligible = [d["queues"]["sales"]["eligible"] for d in ann]
    assert all(d["queues"]["sales"]["min_score"] == MIN_SCORE for d in ann)
    # Logged at least at each crossing: clean, noisy, clean again.
    changes = [eligible[0]] + [b for a, b in itertools.pairwise(eligible) if a != b]
    assert changes[-3:] == [True, False, True], eligible
    noisy = next(d for d in ann if not d["queues"]["sales"]["eligible"])
    # webrtcvad first hears loud noise as "speech" (background talk), later as the floor.
    figures = noisy["figures"]
    assert figures["speech_ratio"] > 0.3 or figures["noise_floor_dbfs"] > -40, figures
    assert noisy["score"] < MIN_SCORE
