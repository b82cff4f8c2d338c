"""Opt-in: a supervisor listening, whispering and barging on a real Asterisk.

Needs what ``test_asterisk_acd.py`` needs, plus ``CC_TEST_ASTERISK_SUPERVISOR=host:port``:
where Asterisk's ``PJSIP/sup1900`` rings (a static contact; sipp answers there). The ACD's
``spy`` (cc_core.acd.supervision) rings that phone into the dialplan's ``cc-spy``.

Every phone's audio is the test's own (tests/real/rtp.py): the caller sends a 600 Hz tone,
the agent 1000 Hz, the supervisor 1400 Hz, and each keeps what it receives, so who hears whom
is read from the frequencies in the received frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from cc_core.acd import supervision
from cc_core.config import Supervisor
from pbx.asterisk.commands import SPY_OPTIONS
from pbx.port import SpyMode
from tests.acd.conftest import SUPPORT_NUMBER, wait_for
from tests.real import sipp
from tests.real import test_asterisk_acd as acd_suite
from tests.real.ami_tap import AmiTap
from tests.real.rtp import RtpPeer
from tests.real.test_asterisk_acd import CALLER_IP, RealCentre, _ami, _host_port, _phones

pytestmark = pytest.mark.asterisk

SUPERVISOR_PHONE = os.environ.get("CC_TEST_ASTERISK_SUPERVISOR", "")
if not SUPERVISOR_PHONE:
    pytest.skip(
        "CC_TEST_ASTERISK_SUPERVISOR is not set: no supervisor phone (PJSIP/sup1900)",
        allow_module_level=True,
    )

CALLER_HZ, AGENT_HZ, SUPERVISOR_HZ = 600, 1000, 1400
HEARD = 25  # frames (0.5 s) of a tone that count as "heard"

centre = acd_suite.centre  # the ACD on the real Asterisk (fixture)


@dataclass
class Audio:
    """The three phones' media, kept aimed at the PBX's side of each one's latest call."""

    caller: RtpPeer
    agent: RtpPeer
    supervisor: RtpPeer
    phones: dict[str, sipp.Phone] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None

    def follow(self, peer: RtpPeer, phone: sipp.Phone) -> None:
        self.phones[peer.name] = phone
        if self.task is None:
            self.task = asyncio.create_task(self._aim())

    async def _aim(self) -> None:
        peers = {p.name: p for p in (self.caller, self.agent, self.supervisor)}
        while True:
            for name, phone in self.phones.items():
                where = phone.media_peer()
                if where is not None and where != peers[name].remote:
                    peers[name].aim(*where)
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        for peer in (self.caller, self.agent, self.supervisor):
            await peer.stop()


@pytest.fixture
async def audio() -> AsyncIterator[Audio]:
    agent_host, _ = _phones()["agent1001"]
    sup_host, _ = _host_port(SUPERVISOR_PHONE, "CC_TEST_ASTERISK_SUPERVISOR")
    media = Audio(
        await RtpPeer("caller", CALLER_HZ).start(CALLER_IP),
        await RtpPeer("agent", AGENT_HZ).start(agent_host),
        await RtpPeer("supervisor", SUPERVISOR_HZ).start(sup_host),
    )
    yield media
    await media.stop()


@pytest.fixture
async def tap() -> AsyncIterator[AmiTap]:
    session = await AmiTap.open(*_ami())
    yield session
    await session.close()


def supervisor(centre: RealCentre) -> Supervisor:
    return next(s for s in centre.node.config.agents.supervisors if s.id == "sup-maria")


async def supervisor_phone(centre: RealCentre, audio: Audio | None = None) -> sipp.Phone:
    phone = await centre.agent_phone(
        "sup1900",
        answer_after=0.3,
        talk=120.0,
        rtp=audio.supervisor.port if audio else None,
        where=_host_port(SUPERVISOR_PHONE, "CC_TEST_ASTERISK_SUPERVISOR"),
    )
    if audio is not None:
        audio.follow(audio.supervisor, phone)
    return phone


async def talking_call(centre: RealCentre, audio: Audio) -> tuple[str, str]:
    """(interaction id, the agent's channel) of a call ann answered, audio flowing both ways."""
    agent = await centre.agent_phone(
        "agent1001", answer_after=0.3, talk=120.0, rtp=audio.agent.port
    )
    audio.follow(audio.agent, agent)
    await centre.login("ann")
    caller, caller_id = await centre.call(give_up_after=120.0, rtp=audio.caller.port)
    audio.follow(audio.caller, caller)
    row = await wait_for(
        lambda: centre.open_for(caller_id, "connected"), seconds=20, what="caller connected"
    )
    await wait_for(
        lambda: (
            audio.agent.frames_with(CALLER_HZ) >= HEARD
            and audio.caller.frames_with(AGENT_HZ) >= HEARD
        ),
        seconds=15,
        what="caller and agent hearing each other",
    )
    leg = next(
        c
        for c in await centre.observer.list_live_calls()
        if c.channel.startswith("PJSIP/agent1001-")
    )
    return row.id, leg.channel


@pytest.mark.parametrize("mode", list(SpyMode))
async def test_a_supervisor_joins_an_agents_call_in_each_mode(
    centre: RealCentre, audio: Audio, tap: AmiTap, mode: SpyMode
) -> None:
    interaction_id, agent_channel = await talking_call(centre, audio)
    await supervisor_phone(centre, audio)
    sup = supervisor(centre)

    spy_call = await supervision.spy(centre.node.service, sup, interaction_id, mode)

    start = await tap.wait(
        lambda m: m.get("Event") == "ChanSpyStart" and m.get("SpyerUniqueid") == spy_call,
        "ChanSpyStart of the supervisor",
    )
    assert start["SpyerChannel"].startswith("PJSIP/sup1900-")
    assert start["SpyeeChannel"] == agent_channel
    assert start["SpyerChannelStateDesc"] == "Up"  # the supervisor's leg was answered
    variables = {m["Variable"]: m["Value"] for m in tap.of("VarSet", Uniqueid=spy_call)}
    assert variables["CC_SPY_TARGET"] == agent_channel
    assert variables["CC_SPY_OPTIONS"] == SPY_OPTIONS[mode]
    assert variables["CC_SPY_MODE"] == mode.value
    listed = await centre.observer.send_action({"Action": "CoreShowChannels"}, as_list=True)
    (spyer,) = [m for m in listed if m.get("Uniqueid") == spy_call]
    assert (spyer.get("Application"), spyer.get("ApplicationData")) == (
        "ChanSpy",
        f"{agent_channel},{SPY_OPTIONS[mode]}",
    )

    # The supervisor hears both sides in every mode.
    await wait_for(
        lambda: (
            audio.supervisor.frames_with(CALLER_HZ) >= HEARD
            and audio.supervisor.frames_with(AGENT_HZ) >= HEARD
        ),
        seconds=15,
        what="the supervisor hearing the caller and the agent",
    )
    # Who hears the supervisor: the agent (whisper, barge), the caller (barge only).
    agent_from, caller_from = audio.agent.mark(), audio.caller.mark()
    agent_hears = mode is not SpyMode.LISTEN
    caller_hears = mode is SpyMode.BARGE
    await wait_for(
        lambda: (
            audio.agent.frames_with(SUPERVISOR_HZ, agent_from) >= HEARD
            if agent_hears
            else audio.agent.frames_with(CALLER_HZ, agent_from) >= 4 * HEARD
        ),
        seconds=15,
        what="the agent's audio with the supervisor's part",
    )
    await wait_for(
        lambda: (
            audio.caller.frames_with(SUPERVISOR_HZ, caller_from) >= HEARD
            if caller_hears
            else audio.caller.frames_with(AGENT_HZ, caller_from) >= 4 * HEARD
        ),
        seconds=15,
        what="the caller's audio with the supervisor's part",
    )
    if not agent_hears:
        assert audio.agent.frames_with(SUPERVISOR_HZ, agent_from) == 0
    if not caller_hears:
        assert audio.caller.frames_with(SUPERVISOR_HZ, caller_from) == 0

    # The ACD answers for it: one audit entry per action.
    assert centre.node.store is not None
    async with centre.node.store.transaction(readonly=True) as repos:
        entries = list(await repos.audit.entries(actor="sup-maria"))
    assert [(e.action, e.target) for e in entries] == [(mode.value, "agent:ann")]
    assert entries[0].details == {
        "interaction": interaction_id,
        "call": start["SpyeeUniqueid"],
        "spy_call": spy_call,
    }

    # The supervisor hangs up; the call itself goes on.
    await centre.observer.hangup(spy_call)
    stop = await tap.wait(
        lambda m: m.get("Event") == "ChanSpyStop" and m.get("SpyerUniqueid") == spy_call,
        "ChanSpyStop",
    )
    assert stop["SpyeeChannel"] == agent_channel
    open_rows = {row.id: row.state for row in await centre.interactions()}
    assert open_rows[interaction_id] == "connected"


async def test_the_acd_refuses_a_call_no_agent_talks_on(
    centre: RealCentre, audio: Audio, tap: AmiTap
) -> None:
    await supervisor_phone(centre)
    caller, caller_id = await centre.call(SUPPORT_NUMBER, give_up_after=30.0)
    row = await wait_for(
        lambda: centre.open_for(caller_id, "queued"), seconds=15, what="caller queued"
    )
    with pytest.raises(supervision.SpyRefused, match="queued, not connected"):
        await supervision.spy(centre.node.service, supervisor(centre), row.id, SpyMode.BARGE)
    with pytest.raises(supervision.SpyRefused, match="not a call in progress"):
        await supervision.spy(centre.node.service, supervisor(centre), "nope", SpyMode.LISTEN)
    assert centre.node.store is not None
    async with centre.node.store.transaction(readonly=True) as repos:
        assert list(await repos.audit.entries()) == []
    assert not [m for m in tap.of("Newchannel") if "sup1900" in m.get("Channel", "")]
    await caller.stop()


@pytest.mark.parametrize(
    ("target", "options"),
    [
        ("PJSIP/agent1001", "qE"),  # a prefix: ChanSpy would take whichever call of the phone
        (None, "qX"),  # an option the ACD does not grant
    ],
)
async def test_the_dialplan_refuses_a_vague_target_or_a_foreign_option(
    centre: RealCentre, audio: Audio, tap: AmiTap, target: str | None, options: str
) -> None:
    _, agent_channel = await talking_call(centre, audio)
    await supervisor_phone(centre, audio)
    spy_call = "cc-refused-" + os.urandom(4).hex()
    answer = await centre.observer.send_action(
        {
            "Action": "Originate",
            "Channel": "PJSIP/sup1900",
            "ChannelId": spy_call,
            "Context": "cc-spy",
            "Exten": "s",
            "Priority": "1",
            "Async": "true",
            "Variable": f"CC_SPY_TARGET={target or agent_channel},CC_SPY_OPTIONS={options}",
        }
    )
    assert answer.get("Response") == "Success", answer
    hangup = await tap.wait(
        lambda m: m.get("Event") == "Hangup" and m.get("Uniqueid") == spy_call,
        "the refused supervisor call hung up",
    )
    assert hangup["ChannelStateDesc"] == "Up"  # answered (Playback of the error beep)
    assert not tap.of("ChanSpyStart", SpyerUniqueid=spy_call)
    assert audio.supervisor.frames_with(CALLER_HZ) == 0
