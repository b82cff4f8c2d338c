"""The adapter's own event parser and framing against panoramisk's, over every recorded
Asterisk 22 capture."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from panoramisk.message import Message

from pbx.asterisk import ami
from pbx.asterisk.ami import _Manager, _Protocol, event_message
from tests.paths import ASTERISK_CAPTURES

RAW = sorted(ASTERISK_CAPTURES.glob("*.raw"))


def blocks(path: Any) -> list[str]:
    text = path.read_bytes().decode("utf-8", "replace")
    return [b.strip() for b in text.split("\r\n\r\n") if b.strip()]


def test_there_are_captures() -> None:
    assert len(RAW) >= 4


@pytest.mark.parametrize("path", RAW, ids=lambda p: p.name)
def test_events_parse_as_panoramisk_parses_them(path: Any) -> None:
    events = [b for b in blocks(path) if b.startswith("Event: ")]
    assert events
    for block in events:
        ours, theirs = event_message(block), Message.from_line(block)
        assert theirs is not None
        assert list(ours.items()) == list(theirs.items()), block
        assert ours.id == theirs.id and ours.success == theirs.success
        assert ours.event == theirs.event


@pytest.mark.parametrize("path", RAW, ids=lambda p: p.name)
def test_plain_responses_parse_as_panoramisk_parses_them(path: Any) -> None:
    """Answers without a body take the event parser too; what reaches the action is the same."""
    answers = [b for b in blocks(path) if b.startswith(ami._PLAIN_RESPONSES)]
    for block in answers:
        ours, theirs = event_message(block), Message.from_line(block)
        assert theirs is not None
        assert list(ours.items()) == list(theirs.items()), block
        assert (ours.id, ours.action_id, ours.success) == (
            theirs.id,
            theirs.action_id,
            theirs.success,
        )
        assert ours.content == theirs.content


def test_the_captures_hold_plain_answers() -> None:
    texts = "".join(p.read_bytes().decode("utf-8", "replace") for p in RAW)
    assert "Response: Success\r\n" in texts  # (no capture has an Error answer: see below)


def test_answers_with_a_body_keep_panoramisk_parser() -> None:
    """A "Follows" answer (a CLI command's output) keeps its body as ``content``."""
    manager = _Manager(lambda m, why: None, loop=None)
    protocol = _Protocol()
    protocol.connection_made(_Transport())
    protocol.factory = manager
    got: list[Message] = []
    protocol.handle_message = got.append  # type: ignore[method-assign]
    protocol.data_received(b"Response: Follows\r\nActionID: c-1\r\nline one\r\n\r\n")
    protocol.data_received(b"Response: Success\r\nActionID: c-2\r\nMessage: ok\r\n\r\n")
    protocol.data_received(b"Response: Error\r\nActionID: c-3\r\nMessage: Denied\r\n\r\n")
    assert [m.action_id for m in got] == ["c-1", "c-2", "c-3"]
    assert got[0].content == "line one" and got[1].content == ""
    assert got[1].success and not got[2].success
    assert got[2]["message"] == "Denied"


class _RecordingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return False


async def test_corked_actions_leave_in_one_write_in_order() -> None:
    protocol = _Protocol()
    transport = _RecordingTransport()
    protocol.connection_made(transport)
    with protocol.corked():
        futures = [
            protocol.send({"Action": "Setvar", "Variable": f"V{i}", "Value": str(i)})
            for i in range(3)
        ]
        assert transport.writes == []
    assert protocol.transport is transport
    (data,) = transport.writes
    assert [line for line in data.decode().split("\r\n") if line.startswith("Variable")] == [
        "Variable: V0",
        "Variable: V1",
        "Variable: V2",
    ]
    assert len(futures) == 3 and all(not f.done() for f in futures)
    protocol.send({"Action": "Ping"})  # uncorked again: a write of its own
    assert len(transport.writes) == 2


def test_repeated_header_becomes_a_list() -> None:
    block = "Event: CoreShowChannel\r\nChanVariable: A=1\r\nChanVariable: B=2\r\nChannel: x"
    message = event_message(block)
    assert message["chanvariable"] == ["A=1", "B=2"]
    assert message.get("Channel") == "x"
    assert message.content == ""


class _Transport(asyncio.Transport):
    def write(self, data: Any) -> None:
        pass


async def test_framing_split_anywhere_and_unwanted_events_skipped() -> None:
    got: list[Message] = []
    manager = _Manager(lambda m, why: None, loop=asyncio.get_running_loop())
    manager.direct = lambda m, message: got.append(message)
    manager.wanted = frozenset({"hangup", "shutdown"})
    protocol = _Protocol()
    protocol.connection_made(_Transport())
    protocol.factory = manager
    stream = (
        "Asterisk Call Manager/11.0.0\r\n"
        "Event: Newexten\r\nChannel: a\r\n\r\n"  # not wanted: never parsed
        "Event: Hangup\r\nChannel: PJSIP/caf\u00e9-1\r\nUniqueid: 1.1\r\n\r\n"
        # not wanted but it answers an action (an ActionID): parsed and dispatched
        "Event: OriginateResponse\r\nActionID: x-1\r\nResponse: Failure\r\n\r\n"
        "Event: Hangup\r\nUniqueid: 1.2\r\n\r\n"
    ).encode()
    for i in range(len(stream)):  # one byte at a time: UTF-8 characters split too
        protocol.data_received(stream[i : i + 1])
    assert protocol.version == "11.0.0"
    assert [m.event for m in got] == ["Hangup", "OriginateResponse", "Hangup"]
    assert got[0]["channel"] == "PJSIP/caf\u00e9-1"
    assert got[2]["uniqueid"] == "1.2"


class _PausableTransport(_Transport):
    def __init__(self) -> None:
        super().__init__()
        self.reading = True
        self.pauses = 0

    def pause_reading(self) -> None:
        self.reading = False
        self.pauses += 1

    def resume_reading(self) -> None:
        self.reading = True

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass


async def test_a_burst_is_handled_a_slice_at_a_time_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A burst must not hold the event loop: after each slice the rest waits for the loop's
    next turn (other callbacks run first) with reading paused, so order holds."""
    monkeypatch.setattr(ami, "SLICE_SECONDS", 0.0)  # one block per turn
    got: list[str] = []
    manager = _Manager(lambda m, why: None, loop=asyncio.get_running_loop())
    manager.direct = lambda m, message: got.append(message["uniqueid"])
    protocol = _Protocol()
    transport = _PausableTransport()
    protocol.connection_made(transport)
    protocol.factory = manager
    others: list[int] = []
    burst = "".join(f"Event: Hangup\r\nUniqueid: {i}\r\n\r\n" for i in range(5)).encode()
    protocol.data_received(burst)
    asyncio.get_running_loop().call_soon(lambda: others.append(len(got)))
    assert got == ["0"]
    assert not transport.reading
    for _ in range(10):
        await asyncio.sleep(0)
    assert got == ["0", "1", "2", "3", "4"]
    assert others and others[0] < 5  # another callback ran in the middle of the burst
    assert transport.reading and transport.pauses >= 1


async def test_what_arrived_before_a_loss_is_handled_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ami, "SLICE_SECONDS", 0.0)
    order: list[str] = []
    manager = _Manager(lambda m, why: order.append("lost"), loop=asyncio.get_running_loop())
    manager.direct = lambda m, message: order.append(message["uniqueid"])
    protocol = _Protocol()
    protocol.connection_made(_PausableTransport())
    protocol.factory = manager
    protocol.data_received(
        b"Event: Hangup\r\nUniqueid: 1\r\n\r\nEvent: Hangup\r\nUniqueid: 2\r\n\r\n"
    )
    protocol.connection_lost(None)
    assert order == ["1", "2", "lost"]


def test_header_reads_either_parser_the_same_way() -> None:
    block = "Event: Newchannel\r\nChannel: PJSIP/a-1\r\nChanVariable: A=1\r\nChanVariable: B=2"
    for message in (event_message(block), Message.from_line(block)):
        assert message is not None
        assert ami.header(message, "channel") == "PJSIP/a-1"
        assert ami.header(message, "CHANNEL") == "PJSIP/a-1"
        assert ami.header(message, "ChanVariable") == "B=2"  # repeated: the last one
        assert ami.header(message, "Uniqueid") == ""
    assert ami.header(Message({"Response": "Success", "Message": "ok"}), "message") == "ok"
