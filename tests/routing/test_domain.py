"""Domain types: the capacity rule and clear errors for bad values."""

from __future__ import annotations

import pytest

from cc_core.domain import (
    Agent,
    CapacityProfile,
    ChannelKind,
    DomainError,
    ExitKind,
    Interaction,
    Overflow,
    Queue,
    RoutingStep,
    SkillRequirement,
)

V, VID, C, E = ChannelKind.VOICE, ChannelKind.VIDEO, ChannelKind.CHAT, ChannelKind.EMAIL


def test_default_capacity_voice_blocks_everything_else() -> None:
    cap = CapacityProfile()
    assert cap.can_take({}, V)
    assert not cap.can_take({V: 1}, C)
    assert not cap.can_take({V: 1}, E)
    assert not cap.can_take({V: 1}, VID)
    assert not cap.can_take({C: 1}, V), "voice only when nothing else is held"
    assert not cap.can_take({E: 1}, VID)


def test_default_capacity_three_chats_five_emails_together() -> None:
    cap = CapacityProfile()
    assert cap.can_take({C: 2, E: 5}, C)
    assert not cap.can_take({C: 3}, C)
    assert cap.can_take({C: 3, E: 4}, E)
    assert not cap.can_take({C: 3, E: 5}, E)


def test_profile_without_a_channel_never_takes_it() -> None:
    cap = CapacityProfile("chat-only", {C: 2})
    assert not cap.can_take({}, V)
    assert cap.channels() == frozenset({C})


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: Agent("a", skills={"billing": 6}), "skills.billing"),
        (lambda: Agent("a", skills={"billing": 0}), "skills.billing"),
        (lambda: Agent("a", queues={"q": 0}), "queues.q"),
        (lambda: Agent("a", quality=1.5), "quality"),
        (lambda: Agent(""), "id"),
        (lambda: SkillRequirement("billing", 9), "min_level"),
        (lambda: CapacityProfile("p", {C: -1}), "limits.chat"),
        (lambda: Queue("q", steps=()), "steps"),
        (lambda: Queue("q", steps=(RoutingStep(duration=5.0),)), "steps[0].duration"),
        (lambda: Queue("q", steps=(RoutingStep(), RoutingStep())), "steps[0].duration"),
        (lambda: Queue("q", max_wait=10.0), "overflow"),
        (lambda: Queue("q", max_wait=10.0, overflow=Overflow(queue="q")), "overflow.queue"),
        (lambda: Queue("q", sla_ordering=True), "sla_target"),
        (lambda: Queue("q", min_quality=2.0), "min_quality"),
        (lambda: Queue("q", offer_timeout=0.0), "offer_timeout"),
        (lambda: Queue("q", aging_rate=float("nan")), "aging_rate"),
        (lambda: Interaction("i", "q", "voice", 0.0), "channel"),  # type: ignore[arg-type]
        (lambda: Interaction("i", "q", V, float("inf")), "arrival"),
        (lambda: Interaction("i", "q", V, 0.0, language=""), "language"),
    ],
)
def test_bad_values_name_the_field(build, field: str) -> None:
    with pytest.raises(DomainError) as info:
        build()
    assert info.value.field == field
    assert repr(field) in str(info.value) and "expected" in str(info.value)


def test_overflow_needs_exactly_one_target() -> None:
    with pytest.raises(DomainError, match="exactly one"):
        Overflow()
    with pytest.raises(DomainError, match="exactly one"):
        Overflow(queue="a", exit=ExitKind.VOICEMAIL)


def test_step_starts_accumulate_durations() -> None:
    q = Queue(
        "q",
        steps=(
            RoutingStep((SkillRequirement("billing", 4),), 30.0),
            RoutingStep((SkillRequirement("billing", 2),), 60.0),
            RoutingStep(include_interaction_skills=False),
        ),
    )
    assert q.step_starts() == (0.0, 30.0, 90.0)
