"""The shipped dialplan (dialplan/freeswitch) run by the simulator: inbound call to the IVR
over the outbound socket, holding, connect with ring timeout, no answer, supervision, survey."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from pbx.sim.esl.runtime import FsSimConfig, FsSimulator
from pbx.sim.esl.switch import UserEndpoint
from tests.paths import ROOT
from tests.sim.esl.esl_client import EslClient, is_

SHIPPED = ROOT / "dialplan" / "freeswitch"


class Ivr:
    """A minimal outbound-socket IVR: tags the call and moves it to hold, as the ACD does."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.server: asyncio.base_events.Server | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        c = EslClient(reader, writer)
        writer.write(b"connect\n\n")
        data, _ = await c.reply()
        uuid = data["Unique-ID"]
        self.calls.append(uuid)
        await c.command("myevents")
        await c.command(
            "sendmsg",
            ("call-command", "execute"),
            ("execute-app-name", "set"),
            ("execute-app-arg", "cc_interaction_id=I-1"),
            ("event-lock", "true"),
        )
        await c.event(is_("CHANNEL_EXECUTE_COMPLETE", {"Application": "set"}))
        await c.api(f"uuid_transfer {uuid} cc_hold XML ccplane")
        await c.close()

    async def start(self) -> int:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]


@pytest.fixture
async def shipped(tmp_path: object) -> AsyncIterator[tuple[FsSimulator, Ivr]]:
    ivr = Ivr()
    port = await ivr.start()
    vars_file = tmp_path / "vars_cc.xml"  # type: ignore[operator]
    vars_file.write_text(
        (SHIPPED / "vars_cc.xml").read_text().replace("127.0.0.1:8084", f"127.0.0.1:{port}")
    )
    sim = FsSimulator(
        FsSimConfig(
            dialplan_paths=[vars_file, SHIPPED / "dialplan" / "ccplane.xml"],
            port=0,
            time_scale=0.02,
        )
    )
    await sim.start()
    yield sim, ivr
    await sim.stop()
    assert ivr.server is not None
    ivr.server.close()


async def test_call_reaches_ivr_then_holds_then_agent(shipped: tuple[FsSimulator, Ivr]) -> None:
    fs, ivr = shipped
    fs.register(
        UserEndpoint(
            "1001", "127.0.0.1", "sofia/internal/sip:1001@127.0.0.1:5097", answer_delay=0.5
        )
    )
    esl = await EslClient.connect(fs.port)
    await esl.command("event plain ALL")
    caller = fs.switch.inbound_call("100", "5551234", context="ccplane")
    held = await esl.event(
        is_("CHANNEL_EXECUTE", {"Unique-ID": caller.uuid, "Application": "endless_playback"})
    )
    assert held["variable_cc_interaction_id"] == "I-1"
    assert held["variable_cc_entry_number"] == "100"
    assert ivr.calls == [caller.uuid]

    await esl.api(f"uuid_setvar {caller.uuid} cc_agent_endpoint user/1001")
    assert await esl.api(f"uuid_transfer {caller.uuid} cc_connect XML ccplane") == "+OK\n"
    bridged = await esl.event(is_("CHANNEL_BRIDGE", {"Unique-ID": caller.uuid}))
    assert bridged["Other-Leg-Destination-Number"] == "1001"
    calls = await esl.api("show calls as json")
    assert caller.uuid in calls

    # Supervision: the supervisor's phone is originated into cc_listen_<agent uuid>.
    fs.register(
        UserEndpoint(
            "1005", "127.0.0.1", "sofia/internal/sip:1005@127.0.0.1:5098", answer_delay=0.1
        )
    )
    agent_uuid = bridged["Bridge-B-Unique-ID"]
    reply = await esl.api(f"originate user/1005 cc_listen_{agent_uuid} XML ccplane")
    assert reply.startswith("+OK ")
    spy = await esl.event(is_("CHANNEL_EXECUTE", {"Application": "eavesdrop"}))
    assert spy["Application-Data"] == agent_uuid

    await esl.api(f"uuid_kill {agent_uuid}")
    done = await esl.event(is_("CHANNEL_HANGUP_COMPLETE", {"Unique-ID": caller.uuid}))
    assert done["variable_cc_interaction_id"] == "I-1"
    await esl.close()


async def test_no_answer_returns_to_hold(shipped: tuple[FsSimulator, Ivr]) -> None:
    fs, _ = shipped
    fs.register(
        UserEndpoint("1002", "127.0.0.1", "sofia/internal/sip:1002@127.0.0.1:5099", no_answer=True)
    )
    esl = await EslClient.connect(fs.port)
    await esl.command("event plain ALL")
    caller = fs.switch.inbound_call("100", "5550001", context="ccplane")
    await esl.event(
        is_("CHANNEL_EXECUTE", {"Unique-ID": caller.uuid, "Application": "endless_playback"})
    )
    mark = len(esl.events)
    await esl.api(f"uuid_setvar {caller.uuid} cc_agent_endpoint user/1002")
    await esl.api(f"uuid_setvar {caller.uuid} cc_ring_timeout 2")
    await esl.api(f"uuid_transfer {caller.uuid} cc_connect XML ccplane")
    failed = await esl.event(
        is_("CHANNEL_EXECUTE_COMPLETE", {"Unique-ID": caller.uuid, "Application": "bridge"}),
        start=mark,
    )
    assert failed["variable_originate_disposition"] == "NO_ANSWER"
    back = await esl.event(
        is_("CHANNEL_EXECUTE", {"Unique-ID": caller.uuid, "Application": "endless_playback"}),
        start=mark,
    )
    assert back["Caller-Destination-Number"] == "cc_hold"
    await esl.close()


async def test_survey_after_agent_hangs_up(shipped: tuple[FsSimulator, Ivr]) -> None:
    fs, _ = shipped
    fs.register(
        UserEndpoint(
            "1003",
            "127.0.0.1",
            "sofia/internal/sip:1003@127.0.0.1:5100",
            answer_delay=0.2,
            talk_time=2.0,
        )
    )
    esl = await EslClient.connect(fs.port)
    await esl.command("event plain ALL")
    caller = fs.switch.inbound_call("100", "5550002", context="ccplane")
    await esl.event(
        is_("CHANNEL_EXECUTE", {"Unique-ID": caller.uuid, "Application": "endless_playback"})
    )
    await esl.api(f"uuid_setvar {caller.uuid} cc_agent_endpoint user/1003")
    await esl.api(f"uuid_setvar {caller.uuid} cc_survey 1")
    await esl.api(f"uuid_transfer {caller.uuid} cc_connect XML ccplane")
    # The agent hangs up: the caller carries on to the survey, the ACD's script over the
    # outbound socket with the interaction id as its argument.
    sock = await esl.event(
        is_(
            "CHANNEL_EXECUTE",
            {"Unique-ID": caller.uuid, "Application": "socket", "variable_cc_state": "survey"},
        ),
        seconds=10,
    )
    assert sock["variable_cc_ivr_script"] == "csat"
    assert sock["variable_cc_ivr_arg"] == "I-1"
    assert sock["variable_cc_ring_result"] == "ANSWER"
    assert await esl.api("global_getvar cc_served_user/1003") == caller.uuid
    await esl.close()


async def test_served_mark_is_set_at_the_answer_when_the_caller_hangs_up_first(
    shipped: tuple[FsSimulator, Ivr],
) -> None:
    fs, _ = shipped
    fs.register(
        UserEndpoint(
            "1004", "127.0.0.1", "sofia/internal/sip:1004@127.0.0.1:5101", answer_delay=0.2
        )
    )
    esl = await EslClient.connect(fs.port)
    await esl.command("event plain ALL")
    caller = fs.switch.inbound_call("100", "5550004", context="ccplane")
    await esl.event(
        is_("CHANNEL_EXECUTE", {"Unique-ID": caller.uuid, "Application": "endless_playback"})
    )
    mark = len(esl.events)
    await esl.api(f"uuid_setvar {caller.uuid} cc_agent_endpoint user/1004")
    await esl.api(f"uuid_transfer {caller.uuid} cc_connect XML ccplane")
    bridged = await esl.event(is_("CHANNEL_BRIDGE", {"Unique-ID": caller.uuid}), start=mark)
    agent = bridged["Bridge-B-Unique-ID"]
    # The agent's leg set the mark as it answered, before the bridge.
    seen = [h for h, _ in esl.events[mark:]]
    answered = next(i for i, h in enumerate(seen) if is_("CHANNEL_ANSWER", {"Unique-ID": agent})(h))
    marked = next(
        i
        for i, h in enumerate(seen)
        if is_("CHANNEL_EXECUTE_COMPLETE", {"Unique-ID": agent, "Application": "set_global"})(h)
    )
    bridge = next(i for i, h in enumerate(seen) if is_("CHANNEL_BRIDGE")(h))
    assert answered < marked < bridge
    assert await esl.api("global_getvar cc_served_user/1004") == caller.uuid
    # The caller hangs up first: its dialplan ends inside bridge, the mark stays.
    await esl.api(f"uuid_kill {caller.uuid}")
    await esl.event(is_("CHANNEL_HANGUP_COMPLETE", {"Unique-ID": agent}), start=mark)
    await esl.event(is_("CHANNEL_HANGUP_COMPLETE", {"Unique-ID": caller.uuid}), start=mark)
    assert await esl.api("global_getvar cc_served_user/1004") == caller.uuid
    await esl.close()


async def test_ivr_unreachable_still_holds(tmp_path: object) -> None:
    # Nothing listens on the IVR port: socket fails, the call is marked and held.
    blocker = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = blocker.sockets[0].getsockname()[1]
    blocker.close()
    await blocker.wait_closed()
    vars_file = tmp_path / "vars_cc.xml"  # type: ignore[operator]
    vars_file.write_text(
        (SHIPPED / "vars_cc.xml").read_text().replace("127.0.0.1:8084", f"127.0.0.1:{port}")
    )
    fs = FsSimulator(
        FsSimConfig(
            dialplan_paths=[vars_file, SHIPPED / "dialplan" / "ccplane.xml"],
            port=0,
            time_scale=0.02,
        )
    )
    await fs.start()
    try:
        esl = await EslClient.connect(fs.port)
        await esl.command("event plain ALL")
        caller = fs.switch.inbound_call("100", "5550003", context="ccplane")
        held = await esl.event(
            is_("CHANNEL_EXECUTE", {"Unique-ID": caller.uuid, "Application": "endless_playback"})
        )
        assert held["variable_cc_ivr_failed"] == "true"
        await esl.close()
    finally:
        await fs.stop()
