"""A supervisor's ChanSpy through the shipped ``cc-spy``, as a real Asterisk 22.10.1 reported it.

The expected sequences come from the AMI recording in ``data/spy_real_22.10.1.txt`` (a
trimmed transcript of tests/real/test_asterisk_spy.py: the ACD's listen on an agent's call,
then an AMI Hangup of the supervisor; and a refused target). Only the events of the
supervisor's channel and the ChanSpy events, in order, and the headers the ACD reads are
pinned; values such as Uniqueid and timestamps are not compared. RTPAUDIOQOS* variables
(chan_pjsip's RTP statistics at hang-up) are left out: the simulator carries no RTP.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pbx.sim.endpoints import Behaviour, Endpoint
from tests.dialplan import conftest as dialplan_conftest
from tests.dialplan.conftest import Centre, event
from tests.sim.test_calls import Recorder, record

DATA = Path(__file__).parent / "data" / "spy_real_22.10.1.txt"

make_centre = dialplan_conftest.make_centre  # the simulator on the shipped files (fixture)


def recorded(flow: str) -> list[dict[str, str]]:
    """The events of one flow of the recording, as header dicts in order."""
    events: list[dict[str, str]] = []
    current: dict[str, str] = {}
    section = ""
    for line in DATA.read_text().splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
            continue
        if section != flow or line.startswith("#"):
            continue
        if not line.strip():
            if current:
                events.append(current)
                current = {}
            continue
        key, _, value = line.partition(":")
        current.setdefault(key, value.strip())
    if current:
        events.append(current)
    return events


def steps(events: list[dict[str, str]]) -> list[str]:
    """Event names, VarSet with its variable, RTP statistics left out."""
    out = []
    for e in events:
        name = e["Event"]
        if name == "VarSet":
            if e["Variable"].startswith("RTPAUDIOQOS"):
                continue
            name = f"VarSet({e['Variable']})"
        out.append(name)
    return out


def of_spyer(events: list[dict[str, str]], uniqueid: str) -> list[dict[str, str]]:
    return [e for e in events if uniqueid in (e.get("Uniqueid"), e.get("SpyerUniqueid"))]


def as_dicts(events: Recorder) -> list[dict[str, str]]:
    return [{"Event": e.name, **dict(e.headers)} for e in events]


@pytest.fixture
async def centre(make_centre: dialplan_conftest.MakeCentre) -> AsyncIterator[Centre]:
    c = await make_centre()
    for name, number, display in (
        ("1001", "1001", "Agent 1001"),
        ("1900", "1900", "Supervisor 1900"),
    ):
        c.sim.endpoints.add(
            Endpoint(
                name,
                context="cc-agents",
                behaviour=Behaviour(ring_delay=0.1, answer_delay=0.5, talk_time_mean=3600),
                callerid_num=number,
                callerid_name=display,
            )
        )
        c.sim.endpoints.register(name)
    yield c


async def agent_talking(centre: Centre) -> str:
    """The agent's channel of a call connected through cc-connect."""
    caller = centre.call_in("+4930901821", caller_num="2015550101")
    await centre.held(caller.name)
    mark = centre.ami.mark()
    await centre.connect(caller.name, "PJSIP/1001")
    begin = await centre.ami.wait_for(event("DialBegin", caller.name), since=mark)
    await centre.ami.wait_for(event("BridgeEnter", caller.name), since=mark)
    return str(begin["DestChannel"])


async def originate(centre: Centre, spy_id: str, target: str, options: str, mode: str) -> None:
    # In the order the adapter sends them (pbx.asterisk.adapter.spy).
    variables = [f"CC_SPY_TARGET={target}", f"CC_SPY_OPTIONS={options}"]
    if mode:
        variables.append(f"CC_SPY_MODE={mode}")
    answer = await centre.ami.action(
        {
            "Action": "Originate",
            "Channel": "PJSIP/1900",
            "ChannelId": spy_id,
            "Context": "cc-spy",
            "Exten": "s",
            "Priority": "1",
            "Async": "true",
            "ActionID": f"cc-originate-{spy_id}",
            "Variable": variables,
        }
    )
    replies = answer if isinstance(answer, list) else [answer]
    assert replies[0]["Response"] == "Success", [dict(r) for r in replies]


async def test_listen_then_the_supervisor_hung_up_over_ami(centre: Centre) -> None:
    real = recorded("listen, then AMI Hangup of the supervisor")
    events = record(centre.sim)
    agent = await agent_talking(centre)
    await originate(centre, "spy-1", agent, "qE", "listen")
    await centre.ami.wait_for(event("ChanSpyStart"))
    await centre.ami.action({"Action": "Hangup", "Channel": "spy-1"})
    await events.until("ChanSpyStop")
    await centre.ami.wait_for(lambda e: e.get("Event") == "Hangup" and e.get("Uniqueid") == "spy-1")
    sim = of_spyer(as_dicts(events), "spy-1")
    assert steps(sim) == steps(real)
    by_name = {e["Event"]: e for e in sim}
    real_by_name = {e["Event"]: e for e in real}
    for name in ("Newchannel", "ChanSpyStart", "ChanSpyStop", "OriginateResponse", "Hangup"):
        for key, value in real_by_name[name].items():
            # Ids differ by run; the caller's name was the ACD's choice in the real run.
            if key.endswith(("Uniqueid", "Linkedid", "Channel", "ConnectedLineName")):
                continue
            if key == "ActionID":
                continue
            assert by_name[name].get(key) == value, (name, key)


async def test_a_refused_target_plays_the_error_and_hangs_up(centre: Centre) -> None:
    real = recorded("refused target")
    events = record(centre.sim)
    await agent_talking(centre)
    await originate(centre, "spy-2", "PJSIP/1001", "qE", "")
    await centre.ami.wait_for(lambda e: e.get("Event") == "Hangup" and e.get("Uniqueid") == "spy-2")
    sim = of_spyer(as_dicts(events), "spy-2")
    assert steps(sim) == steps(real)
    hangup = next(e for e in sim if e["Event"] == "Hangup")
    assert (hangup["Cause"], hangup["ChannelStateDesc"]) == ("16", "Up")
