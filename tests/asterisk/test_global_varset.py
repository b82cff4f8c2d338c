"""A global variable's VarSet: Asterisk 22.10.1 sends one for Set(GLOBAL(...)) (the served
mark), an AMI Setvar without a channel and every [globals] line of a dialplan reload, with
``Channel: none`` and ``Uniqueid: none`` (recorded against the real Asterisk,
docs/real-pbx.md). The shipped account's filter passes those named CC_*."""

from __future__ import annotations

from pbx.asterisk.ami import event_message
from pbx.asterisk.channels import ChannelTable
from pbx.asterisk.events import EventMapper


def varset(uniqueid: str, channel: str, value: str) -> str:
    return "\r\n".join(
        [
            "Event: VarSet",
            "Privilege: dialplan,all",
            f"Channel: {channel}",
            f"Uniqueid: {uniqueid}",
            "Variable: CC_INTERACTION_ID",
            f"Value: {value}",
        ]
    )


def mapper(table: ChannelTable) -> EventMapper:
    return EventMapper(
        table, inbound_contexts=("cc-inbound",), tracked_variables=("CC_INTERACTION_ID",)
    )


def test_a_global_with_a_tracked_name_creates_no_channel() -> None:
    table = ChannelTable()
    assert mapper(table).map(event_message(varset("none", "none", "global"))) == []
    assert len(table) == 0


def test_a_channel_variable_with_that_name_is_still_tracked() -> None:
    table = ChannelTable()
    mapper(table).map(event_message(varset("1795321719.133", "PJSIP/trunk-00000027", "i-1")))
    channel = table.get("1795321719.133")
    assert channel is not None and channel.variables["CC_INTERACTION_ID"] == "i-1"
