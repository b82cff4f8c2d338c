"""Event-socket commands and channel behaviour the captures do not cover."""

from __future__ import annotations

import asyncio
import json

from pbx.sim.esl import codec
from pbx.sim.esl.runtime import FsSimulator
from pbx.sim.esl.switch import UserEndpoint
from tests.sim.esl.esl_client import EslClient, is_


async def _parked_call(c: EslClient, uuid: str) -> None:
    reply = await c.api(f"originate {{origination_uuid={uuid}}}loopback/9999/default &park()")
    assert reply == f"+OK {uuid}\n"
    await c.event(is_("CHANNEL_PARK", {"Unique-ID": uuid}))


async def test_bgapi_job_and_json_events(fs: FsSimulator) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", fs.port)
    writer.write(
        b"auth ClueCon\n\nevent json BACKGROUND_JOB\n\n"
        b"bgapi originate loopback/4242/default &park()\nJob-UUID: j-1\n\n"
    )
    buf = b""
    while b"text/event-json" not in buf or not buf.endswith(b"}"):
        buf += await asyncio.wait_for(reader.read(65536), 5)
    frames, _ = codec.parse_frames(buf)
    replies = [dict(h).get("Reply-Text") for h, _ in frames if dict(h).get("Reply-Text")]
    assert replies == ["+OK accepted", "+OK event listener enabled json", "+OK Job-UUID: j-1"]
    event = json.loads(frames[-1][1])
    assert event["Event-Name"] == "BACKGROUND_JOB" and event["Job-UUID"] == "j-1"
    assert event["_body"] == "-ERR NO_ROUTE_DESTINATION\n"  # 4242 is in no extension
    writer.close()


async def test_filters_and_custom_subclasses(fs: FsSimulator) -> None:
    c = await EslClient.connect(fs.port)
    await c.command("event plain CUSTOM sofia::register")
    fs.register(UserEndpoint("1001", "127.0.0.1", "sofia/internal/sip:1001@127.0.0.1:5097"))
    reg = await c.event(is_("CUSTOM"))
    assert reg["Event-Subclass"] == "sofia::register" and reg["from-user"] == "1001"
    assert await c.api("sofia_contact 1001@127.0.0.1") == "sofia/internal/sip:1001@127.0.0.1:5097"
    fs.unregister("1001")  # not subscribed: must not arrive
    assert await c.api("sofia_contact 1001") == "error/user_not_registered"
    assert [e[0]["Event-Subclass"] for e in c.events] == ["sofia::register"]

    await c.command("event plain ALL")
    r, _ = await c.command("filter Unique-ID 11111111-2222-3333-4444-555555555555")
    assert r["Reply-Text"] == "+OK filter added. [Unique-ID]=[11111111-2222-3333-4444-555555555555]"
    mark = len(c.events)
    await _parked_call(c, "11111111-2222-3333-4444-555555555555")
    assert {e[0]["Unique-ID"] for e in c.events[mark:]} == {"11111111-2222-3333-4444-555555555555"}
    r, _ = await c.command("filter delete Unique-ID")
    assert r["Reply-Text"] == "+OK filter deleted. [Unique-ID][]"
    r, _ = await c.command("noevents")
    assert r["Reply-Text"] == "+OK no longer listening for events"
    await c.close()


async def test_variables_dump_record_and_transfer(fs: FsSimulator) -> None:
    c = await EslClient.connect(fs.port)
    await c.command("event plain ALL")
    uuid = "aaaaaaaa-0000-0000-0000-000000000001"
    await _parked_call(c, uuid)
    assert await c.api(f"uuid_exists {uuid}") == "true"
    assert await c.api(f"uuid_getvar {uuid} nothing_here") == "_undef_"
    assert await c.api(f"uuid_getvar {uuid} destination_number") == "9999"
    assert await c.api(f"uuid_setvar {uuid} cc_interaction_id I-9") == "+OK\n"
    dump = json.loads(await c.api(f"uuid_dump {uuid} json"))
    assert dump["Event-Name"] == "CHANNEL_DATA" and dump["variable_cc_interaction_id"] == "I-9"
    assert await c.api(f"uuid_record {uuid} start /tmp/x.wav") == "+OK Success\n"
    rows = json.loads(await c.api("show channels as json"))
    assert uuid in [r["uuid"] for r in rows["rows"]]
    mark = len(c.events)
    assert await c.api(f"uuid_transfer {uuid} 7000 XML default") == "+OK\n"
    played = await c.event(
        is_("CHANNEL_EXECUTE", {"Unique-ID": uuid, "Application": "playback"}), start=mark
    )
    assert played["Caller-Destination-Number"] == "7000" and played["Caller-RDNIS"] == "9999"
    assert await c.api(f"uuid_kill {uuid} USER_BUSY") == "+OK\n"
    done = await c.event(is_("CHANNEL_HANGUP_COMPLETE", {"Unique-ID": uuid}))
    assert done["Hangup-Cause"] == "USER_BUSY" and done["variable_hangup_cause_q850"] == "17"
    assert await c.api(f"uuid_exists {uuid}") == "false"
    await c.close()


async def test_dtmf_both_ways(fs: FsSimulator) -> None:
    c = await EslClient.connect(fs.port)
    await c.command("event plain DTMF CHANNEL_PARK")
    uuid = "aaaaaaaa-0000-0000-0000-000000000002"
    await _parked_call(c, uuid)
    await c.api(f"uuid_recv_dtmf {uuid} 1#")
    await c.api(f"uuid_send_dtmf {uuid} 9@400")
    for _ in range(50):
        if sum(1 for e in c.events if e[0]["Event-Name"] == "DTMF") == 3:
            break
        await asyncio.sleep(0.02)
    dtmf = [
        (e[0]["Unique-ID"] == uuid, e[0]["DTMF-Digit"], e[0]["DTMF-Source"], e[0]["DTMF-Duration"])
        for e in c.events
        if e[0]["Event-Name"] == "DTMF"
    ]
    assert sorted(dtmf) == sorted(
        [(True, "1", "APP", "2000"), (True, "#", "APP", "2000"), (False, "9", "UNKNOWN", "3200")]
    )
    await c.close()


async def test_bridge_to_a_user_that_does_not_answer_times_out(fs: FsSimulator) -> None:
    fs.register(UserEndpoint("1002", "127.0.0.1", "sofia/internal/sip:1002@x", no_answer=True))
    c = await EslClient.connect(fs.port)
    await c.command("event plain ALL")
    reply = await c.api("originate {originate_timeout=2}user/1002 &park()")
    assert reply == "-ERR NO_ANSWER\n"
    gone = await c.event(is_("CHANNEL_HANGUP_COMPLETE"))
    assert gone["Hangup-Cause"] == "NO_ANSWER" and gone["Channel-Name"].startswith(
        "sofia/internal/1002"
    )
    await c.close()


async def test_linger_and_heartbeat(fs: FsSimulator) -> None:
    c = await EslClient.connect(fs.port)
    assert (await c.command("linger"))[0]["Reply-Text"] == "+OK will linger"
    assert (await c.command("nolinger"))[0]["Reply-Text"] == "+OK will not linger"
    await c.command("event plain HEARTBEAT")
    beat = await c.event(is_("HEARTBEAT"), seconds=3)
    assert beat["FreeSWITCH-Version"] == "1.10.12-release~64bit"
    await c.close()


async def test_an_api_command_that_prints_nothing_answers_no_reply(fs: FsSimulator) -> None:
    # As FreeSWITCH 1.10.12 answered (mod_event_socket): `api` turns empty output into
    # "-ERR no reply", while the `bgapi` job of the same command has an empty body.
    c = await EslClient.connect(fs.port)
    await c.command("event plain BACKGROUND_JOB")
    assert await c.api("global_getvar cc_served_nobody") == "-ERR no reply\n"
    await c.api("global_setvar cc_served_somebody=u-1")
    assert await c.api("global_getvar cc_served_somebody") == "u-1"
    await c.command("bgapi global_getvar cc_served_nobody\nJob-UUID: j-empty")
    job = await c.event(is_("BACKGROUND_JOB", {"Job-UUID": "j-empty"}))
    assert "Content-Length" not in job
