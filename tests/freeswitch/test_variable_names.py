"""Variable names: the port's spelling (CC_INTERACTION_ID, CC_DNIS) against the dialplan's
(cc_interaction_id, cc_entry_number), and FreeSWITCH's case-blind variables in the simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from pbx.freeswitch import FreeSwitchPort
from pbx.freeswitch.variables import VariableNames
from pbx.port import InvalidArgument
from pbx.sim.esl.channel import ChannelVariables
from pbx.sim.esl.runtime import FsSimConfig, FsSimulator
from tests.paths import ROOT

from .conftest import eventually, settings_for

SHIPPED = ROOT / "dialplan" / "freeswitch"


def test_port_names_map_to_the_dialplans_and_back() -> None:
    names = VariableNames()
    assert names.to_freeswitch("CC_INTERACTION_ID") == "cc_interaction_id"
    assert names.to_freeswitch("CC_DNIS") == "cc_entry_number"
    assert names.to_freeswitch("hangup_after_bridge") == "hangup_after_bridge"
    assert names.to_freeswitch("Foo") == "Foo"
    assert names.to_port("cc_entry_number") == "CC_DNIS"
    assert names.to_port("CC_ENTRY_NUMBER") == "CC_DNIS"
    assert names.to_port("cc_queue") == "CC_QUEUE"
    assert names.to_port("pagd_digits") == "pagd_digits"


def test_an_event_variable_is_found_under_either_spelling() -> None:
    names = VariableNames()
    assert names.lookup({"variable_cc_entry_number": "100"}, "CC_DNIS") == "100"
    assert names.lookup({"variable_CC_INTERACTION_ID": "i-1"}, "CC_INTERACTION_ID") == "i-1"
    assert names.lookup({"variable_cc_interaction_id": "i-2"}, "CC_INTERACTION_ID") == "i-2"
    assert names.lookup({"variable_CC_DNIS": "200"}, "CC_DNIS") == "200"
    assert names.lookup({"variable_other": "x"}, "CC_DNIS") is None


def test_other_aliases_follow_another_dialplan() -> None:
    names = VariableNames((("CC_DNIS", "did"),))
    assert names.to_freeswitch("CC_DNIS") == "did"
    assert names.to_port("DID") == "CC_DNIS"


def test_channel_variables_are_case_blind_and_keep_the_last_spelling() -> None:
    variables = ChannelVariables({"cc_a": "1", "b": "2"})
    variables["CC_A"] = "3"
    assert list(variables.items()) == [("b", "2"), ("CC_A", "3")]
    assert variables["cc_a"] == variables.get("Cc_A") == "3" and "cc_A" in variables
    assert variables.pop("cc_a") == "3" and "CC_A" not in variables
    assert variables.pop("missing", None) is None
    with pytest.raises(KeyError):
        variables.pop("missing")
    del variables["B"]
    assert dict(variables) == {}


@pytest.fixture
async def sim() -> AsyncIterator[FsSimulator]:
    dialplan = [SHIPPED / "vars_cc.xml", SHIPPED / "dialplan" / "ccplane.xml"]
    simulator = FsSimulator(FsSimConfig(dialplan_paths=dialplan, port=0, heartbeat=5.0))
    await simulator.start()
    yield simulator
    await simulator.stop()


async def test_set_and_read_under_the_port_name_reach_the_dialplan_spelling(
    sim: FsSimulator,
) -> None:
    port = FreeSwitchPort(settings_for(sim.port))
    await port.start()
    try:
        # A caller waiting in the shipped dialplan's holding extension.
        channel = sim.switch.inbound_call("cc_hold", "5551234", context="ccplane")
        uid = channel.uuid
        await eventually(lambda: channel.get_var("cc_state") == "holding")
        await port.set_variable(uid, "CC_INTERACTION_ID", "i-9")
        # Stored (and shown in events) under the dialplan's spelling.
        assert ("cc_interaction_id", "i-9") in channel.variables.items()
        # Set by hand under another spelling, FreeSWITCH finds it all the same.
        assert (await port.api(f"uuid_setvar {uid} Cc_Entry_Number 5550100")).strip() == "+OK"
        assert await port.get_variable(uid, "CC_DNIS") == "5550100"
        assert (await port.api(f"uuid_getvar {uid} CC_ENTRY_NUMBER")).strip() == "5550100"
        with pytest.raises(InvalidArgument):
            await port.set_variable(uid, "CC X", "1")
        await port.hangup(uid)
    finally:
        await port.close()
