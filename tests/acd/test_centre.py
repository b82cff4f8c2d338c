"""Pure parts: the configs as the ACD sees them, and the interaction state machine."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from cc_core.acd.centre import OFFER_GRACE, centre_from_config
from cc_core.acd.lifecycle import (
    ALLOWED,
    HOLDING,
    WAITING,
    CallBook,
    CallRecord,
    IllegalTransition,
    Stage,
)
from cc_core.config import load_configs
from cc_core.domain import ExitKind

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_shipped_configs_become_queues_agents_and_numbers() -> None:
    centre = centre_from_config(load_configs(CONFIGS))
    assert [q.id for q in centre.queues] == [
        "billing",
        "billing_es",
        "tech_support",
        "tech_de",
        "sales",
        "vip",
    ]
    billing = centre.queues[0]
    assert [s.duration for s in billing.steps] == [30.0, 60.0, None]
    assert billing.offer_timeout == 20 + OFFER_GRACE
    assert billing.overflow is not None and billing.overflow.exit is ExitKind.CALLBACK
    assert centre.queues[3].overflow is not None
    assert centre.queues[3].overflow.queue == "tech_support"
    assert centre.queue_info["billing"].language == "en"
    assert centre.endpoints["alice"] == "PJSIP/1001"
    assert centre.agent_for_endpoint("pjsip/1003") == "carmen"
    assert centre.agent_for_endpoint("PJSIP/9999") is None
    # '+', '00' or neither: the same number.
    for dialled in ("+4930901821", "004930901821", "4930901821"):
        assert centre.queue_for_number(dialled) == "vip"
    assert centre.queue_for_number("+4930901820") is None
    assert centre.ivr_for_number("+4930901820") == "main_menu"
    assert centre.queue_for_number("") is None
    assert centre.no_answer_limit == 2  # the strictest configured limit
    assert centre.wrap_up("tech_support") == 60.0


def test_default_queue_of_a_dialled_number() -> None:
    """Where a call goes when no IVR script decides (a failed script, a re-adopted call)."""
    centre = centre_from_config(load_configs(CONFIGS))
    assert centre.default_queue("+4930901821") == "vip"  # a number that leads to a queue
    assert centre.default_queue("004930901821") == "vip"
    # A number that leads to an IVR script: the first queue that takes voice.
    assert centre.default_queue("+4930901820") == centre.first_voice_queue() == "billing"
    assert centre.default_queue("+4930909999") is None  # not a number of this centre
    assert centre.default_queue("") is None


def test_every_path_through_the_lifecycle_is_checked() -> None:
    record = CallRecord("i1", "c1", "sales", 0.0)
    for stage in (
        Stage.IVR,
        Stage.QUEUED,
        Stage.OFFERED,
        Stage.QUEUED,
        Stage.OFFERED,
        Stage.CONNECTED,
        Stage.WRAP_UP,
        Stage.CLOSED,
    ):
        record.move(stage)
    assert record.stage.is_final
    with pytest.raises(IllegalTransition, match="closed -> queued"):
        record.move(Stage.QUEUED)
    for final in (Stage.CLOSED, Stage.ABANDONED, Stage.EXITED):
        assert ALLOWED[final] == frozenset()
    assert Stage.ABANDONED not in ALLOWED[Stage.CONNECTED]  # answered calls end, never abandon


def test_call_book_finds_calls_both_ways_and_the_longest_wait() -> None:
    book = CallBook()
    a = CallRecord("i1", "c1", "sales", 10.0, stage=Stage.QUEUED)
    b = CallRecord("i2", "c2", "sales", 5.0, stage=Stage.OFFERED)
    c = CallRecord("i3", "c3", "sales", 7.0, stage=Stage.QUEUED)
    for r in (a, b, c):
        book.add(r)
    assert book.by_call("c2") is b and book.get("i3") is c
    assert book.waiting_since("sales") == 7.0  # offered calls are not waiting
    book.drop(c)
    assert book.waiting_since("sales") == 10.0 and len(book) == 2
    assert book.waiting_since("vip") is None


def test_call_book_live_view_in_one_pass() -> None:
    book = CallBook()
    records = [
        CallRecord("i1", "c1", "sales", 10.0, stage=Stage.QUEUED),
        CallRecord("i2", "c2", "sales", 5.0, stage=Stage.CONNECTED, agent_id="a1"),
        CallRecord("i3", "c3", "sales", 7.0, stage=Stage.OVERFLOWED),
        CallRecord("i4", "c4", "vip", 3.0, stage=Stage.WRAP_UP, agent_id="a1"),
        CallRecord("i5", "c5", "vip", 2.0, stage=Stage.CLOSED, agent_id="a2"),
    ]
    for r in records:
        book.add(r)
    held, longest = book.live_view({"a1", "a2", "a3"}, {"sales", "vip"})
    assert held == {"a1": ("i2", "i4"), "a2": (), "a3": ()}
    assert longest == {"sales": 7.0, "vip": None}
    for queue in ("sales", "vip"):
        assert longest[queue] == book.waiting_since(queue)


def test_call_book_indexes_follow_every_change() -> None:
    """Stage, agent, queue and arrival change in many modules by plain assignment; the
    book's answers stay those of a scan over every call."""
    rng = random.Random(5)
    book = CallBook()
    live: list[CallRecord] = []
    agents, queues = ["a1", "a2", "a3"], ["sales", "vip", "support"]

    def scanned() -> tuple[dict[str, tuple[str, ...]], dict[str, float | None]]:
        held = {
            a: tuple(r.interaction_id for r in book if r.agent_id == a and r.stage in HOLDING)
            for a in agents
        }
        waits = {
            q: [r.arrival for r in book if r.queue == q and r.stage in WAITING] for q in queues
        }
        return held, {q: min(w) if w else None for q, w in waits.items()}

    for step in range(3000):
        roll = rng.random()
        if roll < 0.2 or not live:
            record = CallRecord(f"i{step}", f"c{step}", rng.choice(queues), rng.uniform(0, 100))
            book.add(record)
            live.append(record)
        elif roll < 0.3:
            record = live.pop(rng.randrange(len(live)))
            book.drop(record)
            record.stage = Stage.QUEUED  # after the book let it go: no longer counted
        else:
            record = rng.choice(live)
            change = rng.choice(["stage", "agent_id", "queue", "arrival"])
            if change == "stage":
                record.stage = rng.choice(list(Stage))
            elif change == "agent_id":
                record.agent_id = rng.choice([None, *agents])
            elif change == "queue":
                record.queue = rng.choice(queues)
            else:
                record.arrival = rng.uniform(0, 100)
        if step % 50 == 0:
            assert book.live_view(agents, queues) == scanned()
    assert book.live_view(agents, queues) == scanned()
