"""Rings whose events fell into an event-socket outage: the mapper reads the dialplan's record
of the ring (cc_ring_result) on the caller's hang-up. Pure: ESL events in, port events out."""

from __future__ import annotations

from pbx.freeswitch.channels import ChannelTable
from pbx.freeswitch.events import EventMapper
from pbx.freeswitch.protocol import EslEvent
from pbx.port import CallHungUp, DialEnded, DialStatus

CALLER = "11111111-0000-4000-8000-000000000001"


def mapper() -> EventMapper:
    return EventMapper(ChannelTable(), inbound_contexts=("ccplane",), tracked_variables=())


def hangup(ring_result: str = "") -> EslEvent:
    headers = {
        "Event-Name": "CHANNEL_HANGUP_COMPLETE",
        "Unique-ID": CALLER,
        "Hangup-Cause": "NORMAL_CLEARING",
    }
    if ring_result:
        headers["variable_cc_ring_result"] = ring_result
    return EslEvent(headers)


def bridge_started(m: EventMapper) -> None:
    m.map(
        EslEvent(
            {
                "Event-Name": "CHANNEL_EXECUTE",
                "Unique-ID": CALLER,
                "Application": "bridge",
                "Application-Data": "user/1001",
            }
        )
    )


def test_a_ring_answered_and_over_inside_an_outage_ends_answered() -> None:
    m = mapper()
    m.connects[CALLER] = "user/1001"
    bridge_started(m)  # then the link dropped: no CHANNEL_BRIDGE was seen
    events = m.map(hangup("ANSWER"))
    assert events[0] == DialEnded(call_id=CALLER, endpoint="user/1001", status=DialStatus.ANSWER)
    assert isinstance(events[1], CallHungUp)


def test_a_ring_whose_start_fell_into_the_outage_too() -> None:
    m = mapper()
    m.connects[CALLER] = "user/1001"  # asked; its CHANNEL_EXECUTE bridge was lost
    assert m.pending_dial(CALLER) == "user/1001"
    events = m.map(hangup("ANSWER"))
    assert events[0] == DialEnded(call_id=CALLER, endpoint="user/1001", status=DialStatus.ANSWER)
    assert m.pending_dial(CALLER) is None


def test_a_caller_hanging_up_while_it_rings_cancels_the_ring() -> None:
    m = mapper()
    m.connects[CALLER] = "user/1001"
    bridge_started(m)
    events = m.map(hangup())
    assert events[0] == DialEnded(call_id=CALLER, endpoint="user/1001", status=DialStatus.CANCEL)
    # Without a ring under way nothing is invented.
    m2 = mapper()
    m2.connects[CALLER] = "user/1001"
    assert [type(e) for e in m2.map(hangup("NOANSWER"))] == [CallHungUp]
