"""AMI actions find a channel by name or by Uniqueid, as Asterisk's ast_channel_get_by_name
does (a name first, then the Uniqueid), and refuse one that exists under neither."""

from __future__ import annotations

from pbx.sim.channel import State
from pbx.sim.runtime import Simulator
from tests.sim.captures import Client

LOGIN = b"Action: Login\r\nUsername: acd\r\nSecret: acdsecret\r\nEvents: off\r\n\r\n"


async def ask(client: Client, action_id: str, lines: str) -> dict[str, str]:
    await client.send(f"{lines}ActionID: {action_id}\r\n\r\n".replace("\n", "\r\n")
                      .replace("\r\r\n", "\r\n").encode())
    await client.wait_for(lambda got: any(dict(b).get("ActionID") == action_id for b in got))
    return next(dict(b) for b in client.blocks() if dict(b).get("ActionID") == action_id)


async def test_setvar_getvar_and_hangup_accept_the_uniqueid(sim: Simulator) -> None:
    chan = sim.pbx.new_channel("PJSIP", "caller", state=State.UP, context="default")
    assert chan.uniqueid != chan.name
    client = await Client.connect(sim.ami_port)
    await client.send(LOGIN)
    uid = chan.uniqueid
    set_answer = await ask(client, "s1", f"Action: Setvar\nChannel: {uid}\n"
                                         "Variable: CC_X\nValue: by-id\n")
    assert set_answer["Response"] == "Success"
    assert chan.variables["CC_X"] == "by-id"
    by_name = await ask(client, "g1", f"Action: Getvar\nChannel: {chan.name}\nVariable: CC_X\n")
    by_id = await ask(client, "g2", f"Action: Getvar\nChannel: {uid}\nVariable: CC_X\n")
    assert by_name["Value"] == by_id["Value"] == "by-id"
    gone = await ask(client, "g3", "Action: Getvar\nChannel: 0000.0\nVariable: CC_X\n")
    assert (gone["Response"], gone["Message"]) == ("Error", "No such channel")
    hung = await ask(client, "h1", f"Action: Hangup\nChannel: {uid}\n")
    assert (hung["Response"], hung["Message"]) == ("Success", "Channel Hungup")
    await client.close()


async def test_redirect_by_uniqueid_moves_the_channel(sim: Simulator) -> None:
    chan = sim.pbx.new_channel("PJSIP", "caller", state=State.UP, context="default")
    client = await Client.connect(sim.ami_port)
    await client.send(LOGIN)
    moved = await ask(client, "r1", f"Action: Redirect\nChannel: {chan.uniqueid}\n"
                                    "Context: elsewhere\nExten: 100\nPriority: 1\n")
    assert (moved["Response"], moved["Message"]) == ("Success", "Redirect successful")
    assert chan.pending_goto == ("elsewhere", "100", 1)  # taken at its next step
    missing = await ask(client, "r2", "Action: Redirect\nChannel: 0000.0\nContext: elsewhere\n"
                                      "Exten: 100\nPriority: 1\n")
    assert (missing["Response"], missing["Message"]) == (
        "Error", "Channel does not exist: 0000.0")
    await client.close()
