"""Every generated path of the shipped scripts, walked by callers over the simulated Asterisk
into a real ACD node (FastAGI), all at once in one simulator: the caller presses its keys, stays
silent or hangs up when it hears a given prompt (``pbx.sim.callers``), a real local customer
system answers each lookup as the path says, and each call's event log must show the path's
steps and outcome as the offline walk of ``cc-admin ivr try`` has them.

The configs are the shipped ones; only the lookups go to the test's server. Business hours
need the time of each call: the ACD's IVR runs with the path's clock (looked up by the caller's
number), everything else in the ACD keeps the real clock."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import shutil
import urllib.parse
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

import cc_core.acd.ivr as acd_ivr
from cc_core.acd.wiring import Node
from cc_core.ivr import IvrLibrary, OutcomeKind, load_library
from cc_core.ivr.paths import CallerPath, generate
from pbx.sim.callers import AsteriskCues, Cue, CueCaller
from pbx.sim.channel import Channel, State
from pbx.sim.inbound import inbound_call
from pbx.sim.runtime import SimConfig, Simulator
from tests.acd.conftest import ACD_YAML, DIALPLAN, INBOUND, point_at, start_node, wait_for

from .conftest import SCRIPT_CRM, SHIPPED

MAIN_NUMBER = "+4930901820"  # numbers: -> ivr main_menu
TIME_SCALE = 0.1  # a 2 s prompt plays in 0.2 s; a 6 s collect timeout is 0.6 s
STEP_KINDS = {
    "node",
    "input",
    "invalid",
    "timeout",
    "fallback",
    "branch",
    "hours",
    "lookup",
    "set",
    "language",
    "outcome",
}


def configs_for(directory: Path, *, ami_port: int, store_url: str, crm: str) -> Path:
    shutil.copytree(SHIPPED, directory, ignore=shutil.ignore_patterns("sim"))
    acd = ACD_YAML
    for key, value in {
        "node": "ivr-paths",
        "store": store_url,
        "backend": "memory",
        "redis": "redis://127.0.0.1:6379/0",
        "ami": ami_port,
        "ring": 2,
    }.items():
        acd = acd.replace("{" + key + "}", str(value))
    (directory / "acd.yaml").write_text(acd)
    script = directory / "ivr" / "main_menu.yaml"
    script.write_text(script.read_text().replace(SCRIPT_CRM, crm))
    return directory


def answers_of(paths: list[CallerPath]) -> dict[str, Mapping[str, Any] | None]:
    """``/customers?account=...`` -> the answer its path expects (None: fail with 404)."""
    found: dict[str, Mapping[str, Any] | None] = {}
    for path in paths:
        for lookup in path.lookups:
            parts = urllib.parse.urlsplit(lookup.url)
            key = f"{parts.path}?{parts.query}"
            assert found.get(key, lookup.answer) == lookup.answer, key  # one answer per question
            found[key] = lookup.answer
    return found


@contextlib.asynccontextmanager
async def customer_system(
    answers: dict[str, Mapping[str, Any] | None],
) -> AsyncIterator[tuple[str, list[str]]]:
    asked: list[str] = []

    async def customers(request: web.Request) -> web.StreamResponse:
        key = f"{request.path}?{request.rel_url.raw_query_string}"
        asked.append(key)
        answer = answers.get(key)
        if answer is None:
            return web.json_response({"error": "not found"}, status=404)
        return web.json_response(answer)

    app = web.Application()
    app.router.add_get("/customers", customers)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}", asked
    finally:
        await runner.cleanup()


def clock_by_caller(monkeypatch: pytest.MonkeyPatch, paths: list[CallerPath]) -> None:
    """The IVR of each call runs at its path's time (hours nodes); the caller says which."""
    at = {p.setting.caller: p.setting.at for p in paths}
    run_script = acd_ivr.run_script

    async def timed(script: Any, session: Any, context: Any) -> Any:
        when = at.get(session.caller_num)
        if when is not None:
            context = dataclasses.replace(context, clock=lambda: when)
        return await run_script(script, session, context)

    monkeypatch.setattr(acd_ivr, "run_script", timed)


def cues(path: CallerPath) -> list[Cue]:
    return [Cue(a.cue, a.occurrence, a.keys, a.hang_up) for a in path.actions]


async def events_of(node: Node, interaction_id: str) -> list[Any]:
    acd = node.service
    assert acd is not None
    await acd.journal.drain()
    async with acd.store.transaction(readonly=True) as repos:
        return list(await repos.events.for_interaction(interaction_id))


def settled(path: CallerPath, events: list[Any]) -> bool:
    """The call's log is complete for its expected outcome, or already shows another one."""
    kinds = [e.event for e in events]
    logged = [e.data["outcome"] for e in events if e.event == "ivr_outcome"]
    if not logged:
        return False
    kind = path.outcome.kind
    if logged[0] != kind.value:
        return True  # wrong: let the assertions say how
    if kind is OutcomeKind.QUEUE:
        return "queued" in kinds
    if kind is OutcomeKind.CALLER_HUNG_UP:
        return "abandoned" in kinds
    return any(e.data.get("stage") == "exited" for e in events)


def check_steps(path: CallerPath, events: list[Any], script: str) -> None:
    steps = [
        (e.event.removeprefix("ivr_"), e.data["node"])
        for e in events
        if e.event.startswith("ivr_")
        and e.data.get("script") == script
        and e.event.removeprefix("ivr_") in STEP_KINDS
    ]
    expected = [s for s in path.steps if s[0] in STEP_KINDS]
    assert steps == expected, f"{path.name} ({'; '.join(path.covers)}): steps differ"


def check_outcome(path: CallerPath, events: list[Any], caller_num: str) -> None:
    outcome = path.outcome
    kinds = [e.event for e in events]
    (logged,) = [e for e in events if e.event == "ivr_outcome"]
    assert (logged.data["outcome"], logged.data["node"]) == (outcome.kind.value, outcome.node), (
        path.name
    )
    match outcome.kind:
        case OutcomeKind.QUEUE:
            (queued,) = [e for e in events if e.event == "queued"]
            assert queued.queue == outcome.queue, path.name
            assert queued.data["skills"] == dict(outcome.skills), path.name
            assert queued.data["language"] == outcome.language, path.name
        case OutcomeKind.CALLER_HUNG_UP:
            assert "abandoned" in kinds and "queued" not in kinds, path.name
        case OutcomeKind.CALLBACK | OutcomeKind.VOICEMAIL | OutcomeKind.HANGUP:
            (exited,) = [e for e in events if e.data.get("stage") == "exited"]
            assert exited.data["exit"] == outcome.kind.value, path.name
            if outcome.kind is OutcomeKind.CALLBACK:
                assert exited.data["callback_number"] == caller_num
                assert exited.data["callback_queue"] == outcome.queue
            if outcome.kind is OutcomeKind.VOICEMAIL:
                assert exited.data["mailbox"] == outcome.mailbox
        case _:
            pytest.fail(f"{path.name}: unexpected outcome {outcome.kind}")


@pytest.fixture
def library() -> IvrLibrary:
    return load_library(SHIPPED)


async def test_every_path_of_the_shipped_scripts_over_the_simulated_asterisk(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch, library: IvrLibrary
) -> None:
    main = list(generate(library.script("main_menu"), library.prompts).paths)
    survey = list(generate(library.script("csat"), library.prompts).paths)
    assert len(survey) <= len(main)  # each survey scores one main-menu call
    clock_by_caller(monkeypatch, main)
    sim = Simulator(
        SimConfig(
            dialplan_path=DIALPLAN,
            time_scale=TIME_SCALE,
            globals_override={"CC_FASTAGI": "agi://127.0.0.1:1"},
            auth_fail_delay=0.05,
        )
    )
    await sim.start()
    async with customer_system(answers_of(main)) as (crm, asked):
        configs = configs_for(
            tmp_path / "configs", ami_port=sim.ami_port, store_url=sqlite_url, crm=crm
        )
        # The ACD runs these configs; the paths come from the same script.
        assert (
            load_library(configs).script("main_menu").nodes.keys()
            == library.script("main_menu").nodes.keys()
        )
        node = await start_node(configs)
        point_at(sim, node)
        listener = AsteriskCues(sim.pbx)
        try:
            walked = await walk_main_menu(sim, node, listener, main, asked)
            await walk_survey(sim, node, listener, survey, main, walked)
        finally:
            listener.close()
            await node.stop()
            await sim.stop()


async def walk_main_menu(
    sim: Simulator, node: Node, listener: AsteriskCues, paths: list[CallerPath], asked: list[str]
) -> dict[str, str]:
    calls: list[tuple[CallerPath, Channel, CueCaller]] = []
    for path in paths:
        chan = inbound_call(sim.pbx, MAIN_NUMBER, context=INBOUND, caller_num=path.setting.caller)
        calls.append((path, chan, listener.attach(chan, cues(path))))

    async def tagged(chan: Channel) -> str:
        async def check() -> str | None:
            return sim.pbx.get_var(chan, "CC_INTERACTION_ID") or None

        return str(await wait_for(check, seconds=60, what="call tagged"))

    ids = await asyncio.gather(*(tagged(chan) for _, chan, _ in calls))
    interactions = dict(zip((p.name for p, _, _ in calls), ids, strict=True))

    async def finished(path: CallerPath, interaction_id: str) -> list[Any]:
        async def check() -> list[Any]:
            events = await events_of(node, interaction_id)
            return events if settled(path, events) else []

        return list(await wait_for(check, seconds=90, what=f"{path.name} walked"))

    logs = await asyncio.gather(*(finished(p, interactions[p.name]) for p, _, _ in calls))
    for (path, chan, caller), events in zip(calls, logs, strict=True):
        assert caller.pending == (), f"{path.name}: cues never heard: {caller.pending}"
        check_steps(path, events, "main_menu")
        check_outcome(path, events, chan.caller_num)
    # Every lookup of every path reached the customer system, and nothing else did.
    expected = sorted(
        f"{urllib.parse.urlsplit(a.url).path}?{urllib.parse.urlsplit(a.url).query}"
        for p in paths
        for a in p.lookups
    )
    assert sorted(asked) == expected
    for _, chan, _ in calls:
        if not chan.hung_up:
            sim.pbx.queue_hangup(chan, 16)
    return interactions


async def walk_survey(
    sim: Simulator,
    node: Node,
    listener: AsteriskCues,
    paths: list[CallerPath],
    main: list[CallerPath],
    interactions: dict[str, str],
) -> None:
    """Each survey path after one of the main menu's calls (what cc-connect does once the
    agent hangs up on a queue with csat_survey)."""
    calls = []
    for path, scored in zip(paths, main, strict=False):
        chan = sim.pbx.new_channel(
            "PJSIP",
            "trunk",
            state=State.UP,
            context="cc-survey",
            exten="s",
            caller=(scored.setting.caller, "Customer"),
        )
        sim.pbx.set_var(chan, "CC_INTERACTION_ID", interactions[scored.name])
        caller = listener.attach(chan, cues(path))
        sim.pbx.start(chan)
        calls.append((path, interactions[scored.name], chan, caller))

    async def finished(interaction_id: str) -> list[Any]:
        async def check() -> list[Any]:
            events = await events_of(node, interaction_id)
            done = [
                e for e in events if e.event == "ivr_outcome" and e.data.get("script") == "csat"
            ]
            return events if done else []

        return list(await wait_for(check, seconds=60, what="survey walked"))

    logs = await asyncio.gather(*(finished(i) for _, i, _, _ in calls))
    for (path, _, _, caller), events in zip(calls, logs, strict=True):
        assert caller.pending == (), f"{path.name}: cues never heard: {caller.pending}"
        check_steps(path, events, "csat")
        (outcome,) = [
            e for e in events if e.event == "ivr_outcome" and e.data.get("script") == "csat"
        ]
        assert (outcome.data["outcome"], outcome.data["node"]) == (
            path.outcome.kind.value,
            path.outcome.node,
        ), path.name
        scores = [e.data["score"] for e in events if e.event == "csat"]
        expected = [] if path.outcome.csat_score is None else [path.outcome.csat_score]
        assert scores == expected, path.name


# A subset over the simulated FreeSWITCH: the ACD's outbound socket runs the same script.
FS_SUBSET = (
    "language: key 2",
    "language: wrong key (try 1)",
    "account: rejected (try 1)",
    "account: hang up",
    "find_by_account: answers 2",
    "main_options: silence (try 1)",
    "main_options: key 4",
    "closed_menu: key 2",
    "closed_menu: wrong key (try 3)",
    "welcome: hang up",
    "billing_route: cases.0.next",
)


async def test_a_subset_of_paths_over_the_simulated_freeswitch(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch, library: IvrLibrary
) -> None:
    from cc_core.config import load_configs
    from pbx.sim.callers import FreeswitchCues
    from pbx.sim.esl.runtime import FsSimConfig, FsSimulator
    from tests.acd.test_freeswitch_calls import ACD_YAML as FS_ACD_YAML
    from tests.acd.test_freeswitch_calls import CONTEXT, shipped_dialplan
    from tests.acd.test_freeswitch_calls import DIALPLAN as FS_DIALPLAN

    everything = list(generate(library.script("main_menu"), library.prompts).paths)
    paths = [p for p in everything if set(p.covers) & set(FS_SUBSET)]
    assert len(paths) == len(FS_SUBSET)
    kinds = {p.outcome.kind for p in paths}
    assert len(kinds) == 5  # queue, callback, voicemail, hangup, caller hung up
    clock_by_caller(monkeypatch, paths)
    sim = FsSimulator(
        FsSimConfig(dialplan_paths=FS_DIALPLAN, port=0, heartbeat=5.0, time_scale=TIME_SCALE)
    )
    await sim.start()
    async with customer_system(answers_of(paths)) as (crm, asked):
        configs = configs_for(tmp_path / "configs", ami_port=1, store_url=sqlite_url, crm=crm)
        (configs / "acd.yaml").write_text(
            FS_ACD_YAML.replace("{store}", sqlite_url).replace("{esl}", str(sim.port))
        )
        agents = configs / "agents.yaml"
        agents.write_text(agents.read_text().replace("PJSIP/", "user/"))
        node = Node(load_configs(configs), api_port=0, ivr_socket_port=0)
        await node.start(wait_for_pbx=True)
        assert node.ivr_socket is not None
        sim.switch.dialplan = shipped_dialplan(node.ivr_socket.port)
        listener = FreeswitchCues(sim.switch)
        try:
            calls = []
            for path in paths:
                ch = sim.switch.inbound_call(MAIN_NUMBER, path.setting.caller, context=CONTEXT)
                calls.append((path, ch, listener.attach(ch, cues(path))))

            async def finished(path: CallerPath, ch: Any) -> list[Any]:
                seen: list[str] = []

                async def check() -> list[Any]:
                    # Kept once seen: an exit clears the tag, and the journal may commit the
                    # call's last events after that.
                    if not seen and (tag := ch.get_var("cc_interaction_id")):
                        seen.append(tag)
                    if not seen:
                        return []
                    events = await events_of(node, seen[0])
                    return events if settled(path, events) else []

                return list(await wait_for(check, seconds=90, what=f"{path.name} walked"))

            logs = await asyncio.gather(*(finished(p, ch) for p, ch, _ in calls))
            for (path, _, caller), events in zip(calls, logs, strict=True):
                assert caller.pending == (), f"{path.name}: cues never heard: {caller.pending}"
                check_steps(path, events, "main_menu")
                check_outcome(path, events, path.setting.caller)
            expected = sorted(
                f"{urllib.parse.urlsplit(a.url).path}?{urllib.parse.urlsplit(a.url).query}"
                for p in paths
                for a in p.lookups
            )
            assert sorted(asked) == expected
        finally:
            listener.close()
            await node.stop()
            await sim.stop()
