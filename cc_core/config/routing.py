"""The admin configs as the routing engine sees them: domain queues and agents.

One mapping for every user of the engine: the ACD (``cc_core.acd.centre``) and the queueing
simulation (``cc_core.reporting.simulation.centre``) both build their queues and agents here,
so a config means the same routing in production and in a simulated run. The only thing they
choose differently is the grace added to the ring time for the engine's own offer timer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cc_core.config.agents_file import DEFAULT_PROFILE
from cc_core.config.agents_file import Agent as AgentConfig
from cc_core.config.agents_file import CapacityProfile as ProfileConfig
from cc_core.config.centre import CentreConfig
from cc_core.config.queues_file import Queue as QueueConfig
from cc_core.domain import (
    Agent,
    CapacityProfile,
    ChannelKind,
    ExitKind,
    Overflow,
    Queue,
    RoutingStep,
    SkillRequirement,
    Strategy,
)

DEFAULT_RING_TIMEOUT = 20.0  # seconds, when acd.yaml names no PBX

EXITS = {
    "voicemail": ExitKind.VOICEMAIL,
    "callback": ExitKind.CALLBACK,
    "hangup": ExitKind.DISCONNECT,
}


@dataclass(frozen=True)
class RoutingModel:
    """The configured centre's queues and agents as domain objects, in file order."""

    queues: tuple[Queue, ...]
    agents: tuple[Agent, ...]
    ring_timeouts: Mapping[str, float]  # queue id -> seconds an offer rings at the phone
    no_answer_limit: int  # the engine's default: the strictest configured one (0: never)


def pbx_ring_timeout(centre: CentreConfig) -> float:
    """The first PBX's ring timeout, the default for queues that set none."""
    return float(centre.acd.pbx[0].ring_timeout) if centre.acd.pbx else DEFAULT_RING_TIMEOUT


def ring_timeout(queue: QueueConfig, default: float) -> float:
    return float(queue.ring_timeout_seconds or default)


def domain_queue(queue: QueueConfig, offer_timeout: float) -> Queue:
    """One configured queue: steps timed from ``after`` offsets, points per minute turned into
    points per second, overflow and max wait together (the config checks require both)."""
    steps = queue.routing_steps()
    routing = []
    for i, step in enumerate(steps):
        duration = float(steps[i + 1].after - step.after) if i + 1 < len(steps) else None
        reqs = tuple(SkillRequirement(skill, level) for skill, level in step.require.items())
        routing.append(RoutingStep(reqs, duration=duration))
    overflow = None
    if queue.overflow is not None and queue.max_wait_seconds is not None:
        exit_kind = EXITS[queue.overflow.exit] if queue.overflow.exit else None
        overflow = Overflow(queue=queue.overflow.queue, exit=exit_kind)
    return Queue(
        queue.id,
        steps=tuple(routing),
        strategy=Strategy(queue.strategy),
        aging_rate=queue.aging_rate / 60.0,  # configured per minute, the engine counts seconds
        vip_boost=queue.vip_boost,
        sla_target=float(queue.sla.seconds) if queue.sla else None,
        sla_ordering=queue.sla_aware and queue.sla is not None,
        max_wait=float(queue.max_wait_seconds)
        if overflow is not None and queue.max_wait_seconds is not None
        else None,
        overflow=overflow,
        wrap_up=float(queue.wrap_up_seconds),
        offer_timeout=offer_timeout,
        min_quality=queue.quality.min_score,
        quality_weight=queue.quality.weight,
        sticky_seconds=float(queue.sticky.max_wait_seconds) if queue.sticky else 0.0,
        sticky_days=float(queue.sticky.days) if queue.sticky else 0.0,
        no_answer_limit=queue.no_answer_limit,  # each queue's own (0: never)
    )


def domain_agent(agent: AgentConfig, profiles: Mapping[str, ProfileConfig]) -> Agent:
    """One configured agent with its profile's capacity (and its own overrides)."""
    profile = profiles.get(agent.profile, DEFAULT_PROFILE)
    capacity = CapacityProfile(
        name=agent.profile,
        limits={ChannelKind(c): n for c, n in agent.limits(dict(profiles)).items()},
        exclusive=frozenset(ChannelKind(c) for c in profile.exclusive),
    )
    return Agent(
        agent.id,
        skills=dict(agent.skills),
        languages=frozenset(agent.languages),
        capacity=capacity,
        queues=dict(agent.queues),
    )


def routing_model(centre: CentreConfig, *, offer_grace: float = 0.0) -> RoutingModel:
    """Every configured queue and agent. An offer expires in the engine after the queue's
    ring timeout plus ``offer_grace`` (the ACD lets the PBX report the no-answer first; a
    simulation, where the engine's timer is the ring, passes 0)."""
    default_ring = pbx_ring_timeout(centre)
    rings: dict[str, float] = {}
    queues = []
    for q in centre.queues.queues:
        ring = rings[q.id] = ring_timeout(q, default_ring)
        queues.append(domain_queue(q, ring + offer_grace))
    profiles = centre.profiles()
    agents = tuple(domain_agent(a, profiles) for a in centre.agents.agents)
    limits = [q.no_answer_limit for q in centre.queues.queues]
    return RoutingModel(
        queues=tuple(queues),
        agents=agents,
        ring_timeouts=rings,
        # Each queue carries its own limit; the engine's default only covers queues built
        # elsewhere (the strictest configured one).
        no_answer_limit=min((n for n in limits if n), default=0),
    )
