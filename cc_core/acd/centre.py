"""The admin configs as the routing engine and the ACD see them: domain queues and agents,
agent endpoints, dialled numbers, and the IVR scripts with their prompts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from cc_core import config as cfg
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
from cc_core.ivr import IvrLibrary, PromptCatalog, load_library
from cc_core.routing import Engine, EngineConfig

DEFAULT_RING_TIMEOUT = 20.0
# The engine's own offer timer is a safety net behind the PBX's ring timeout: the PBX reports
# the no-answer first, and the engine only expires an offer whose outcome never came back.
OFFER_GRACE = 10.0

_EXITS = {
    "voicemail": ExitKind.VOICEMAIL,
    "callback": ExitKind.CALLBACK,
    "hangup": ExitKind.DISCONNECT,
}


@dataclass(frozen=True, slots=True)
class QueueInfo:
    """What the ACD needs about a queue beyond routing: ring time, language, priority, the
    SLA answer time (for the wallboard's answered-in-SLA count) and the post-call survey."""

    id: str
    ring_timeout: float
    language: str | None
    priority: float
    channels: tuple[str, ...]
    sla_seconds: float | None = None
    csat_survey: bool = False


@dataclass(frozen=True)
class Centre:
    queues: tuple[Queue, ...]
    agents: tuple[Agent, ...]
    queue_info: Mapping[str, QueueInfo]
    endpoints: Mapping[str, str]  # agent id -> endpoint (PJSIP/1001)
    numbers: Mapping[str, str]  # dialled number -> queue id
    ivr_numbers: Mapping[str, str]  # dialled number -> IVR script name
    no_answer_limit: int = 2
    agent_names: Mapping[str, str] = field(default_factory=dict)
    ivr: IvrLibrary = field(default_factory=lambda: IvrLibrary({}, PromptCatalog({})))

    def agent_for_endpoint(self, endpoint: str) -> str | None:
        for agent_id, ep in self.endpoints.items():
            if ep.lower() == endpoint.lower():
                return agent_id
        return None

    def queue_for_number(self, dialled: str) -> str | None:
        """The queue a dialled number leads to; '+' and a leading '00' are optional."""
        wanted = _digits(dialled)
        if not wanted:
            return None
        for did, queue in self.numbers.items():
            if _digits(did) == wanted:
                return queue
        return None

    def ivr_for_number(self, dialled: str) -> str | None:
        wanted = _digits(dialled)
        for did, script in self.ivr_numbers.items():
            if wanted and _digits(did) == wanted:
                return script
        return None

    def default_queue(self, dialled: str) -> str | None:
        """Where a call to ``dialled`` goes when no IVR script decides: the number's queue, or
        for a number that leads to an IVR script the first voice queue."""
        queue = self.queue_for_number(dialled)
        if queue is not None or self.ivr_for_number(dialled) is None:
            return queue
        return self.first_voice_queue()

    def first_voice_queue(self) -> str | None:
        for info in self.queue_info.values():
            if "voice" in info.channels:
                return info.id
        return None

    def wrap_up(self, queue_id: str) -> float:
        for queue in self.queues:
            if queue.id == queue_id:
                return queue.wrap_up
        return 0.0

    def new_engine(self) -> Engine:
        return Engine(self.queues, EngineConfig(no_answer_limit=self.no_answer_limit))


def _digits(number: str) -> str:
    text = number.strip().replace(" ", "").replace("-", "")
    if text.startswith("+"):
        return text[1:]
    if text.startswith("00"):
        return text[2:]
    return text


def domain_queue(queue: cfg.Queue, ring_timeout: float) -> Queue:
    steps = queue.routing_steps()
    routing = []
    for i, step in enumerate(steps):
        duration = float(steps[i + 1].after - step.after) if i + 1 < len(steps) else None
        reqs = tuple(SkillRequirement(skill, level) for skill, level in step.require.items())
        routing.append(RoutingStep(reqs, duration=duration))
    overflow = None
    if queue.overflow is not None and queue.max_wait_seconds is not None:
        exit_kind = _EXITS[queue.overflow.exit] if queue.overflow.exit else None
        overflow = Overflow(queue=queue.overflow.queue, exit=exit_kind)
    return Queue(
        queue.id,
        steps=tuple(routing),
        strategy=Strategy(queue.strategy),
        aging_rate=queue.aging_rate / 60.0,  # configured per minute, the engine counts seconds
        vip_boost=queue.vip_boost,
        sla_target=float(queue.sla.seconds) if queue.sla else None,
        sla_ordering=queue.sla_aware and queue.sla is not None,
        max_wait=float(queue.max_wait_seconds) if overflow is not None else None,
        overflow=overflow,
        wrap_up=float(queue.wrap_up_seconds),
        offer_timeout=ring_timeout + OFFER_GRACE,
        min_quality=queue.quality.min_score,
        quality_weight=queue.quality.weight,
        sticky_seconds=float(queue.sticky.max_wait_seconds) if queue.sticky else 0.0,
        sticky_days=float(queue.sticky.days) if queue.sticky else 0.0,
    )


def domain_agent(agent: cfg.Agent, profiles: dict[str, cfg.CapacityProfile]) -> Agent:
    profile = profiles.get(agent.profile, cfg.DEFAULT_PROFILE)
    capacity = CapacityProfile(
        name=agent.profile,
        limits={ChannelKind(c): n for c, n in agent.limits(profiles).items()},
        exclusive=frozenset(ChannelKind(c) for c in profile.exclusive),
    )
    return Agent(
        agent.id,
        skills=dict(agent.skills),
        languages=frozenset(agent.languages),
        capacity=capacity,
        queues=dict(agent.queues),
    )


def centre_from_config(centre: cfg.CentreConfig) -> Centre:
    pbx_ring = float(centre.acd.pbx[0].ring_timeout) if centre.acd.pbx else DEFAULT_RING_TIMEOUT
    infos: dict[str, QueueInfo] = {}
    queues = []
    for q in centre.queues.queues:
        ring = float(q.ring_timeout_seconds or pbx_ring)
        infos[q.id] = QueueInfo(
            q.id, ring, q.language, float(q.priority), tuple(q.channels),
            sla_seconds=float(q.sla.seconds) if q.sla else None, csat_survey=q.csat_survey,
        )
        queues.append(domain_queue(q, ring))
    profiles = centre.profiles()
    agents = tuple(domain_agent(a, profiles) for a in centre.agents.agents)
    limits = [q.no_answer_limit for q in centre.queues.queues]
    return Centre(
        queues=tuple(queues),
        agents=agents,
        queue_info=infos,
        endpoints={a.id: a.endpoint for a in centre.agents.agents},
        numbers={n.did: n.queue for n in centre.queues.numbers if n.queue},
        ivr_numbers={n.did: n.ivr for n in centre.queues.numbers if n.ivr},
        # The engine has one limit for all queues: the strictest configured one.
        no_answer_limit=min((n for n in limits if n), default=0),
        agent_names={a.id: a.name for a in centre.agents.agents},
        # Already checked by load_configs; read again here as the interpreter's models.
        ivr=load_library(centre.directory),
    )
