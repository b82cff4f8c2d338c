"""The admin configs as the routing engine and the ACD see them: domain queues and agents,
agent endpoints, dialled numbers, and the IVR scripts with their prompts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from cc_core import config as cfg
from cc_core.config import routing as config_routing
from cc_core.config.routing import DEFAULT_RING_TIMEOUT, domain_agent
from cc_core.domain import Agent, Queue
from cc_core.ivr import IvrLibrary, PromptCatalog, load_library
from cc_core.routing import Engine, EngineConfig

__all__ = [
    "DEFAULT_RING_TIMEOUT",
    "OFFER_GRACE",
    "Centre",
    "QueueInfo",
    "centre_from_config",
    "domain_agent",
    "domain_queue",
]

# The engine's own offer timer is a safety net behind the PBX's ring timeout: the PBX reports
# the no-answer first, and the engine only expires an offer whose outcome never came back.
OFFER_GRACE = 10.0


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
    """A configured queue as the ACD's engine runs it: the offer timer is the ring time plus
    ``OFFER_GRACE`` (the mapping itself is ``cc_core.config.routing``, shared with the
    simulation)."""
    return config_routing.domain_queue(queue, ring_timeout + OFFER_GRACE)


def centre_from_config(centre: cfg.CentreConfig) -> Centre:
    model = config_routing.routing_model(centre, offer_grace=OFFER_GRACE)
    infos: dict[str, QueueInfo] = {}
    for q in centre.queues.queues:
        infos[q.id] = QueueInfo(
            q.id,
            model.ring_timeouts[q.id],
            q.language,
            float(q.priority),
            tuple(q.channels),
            sla_seconds=float(q.sla.seconds) if q.sla else None,
            csat_survey=q.csat_survey,
        )
    return Centre(
        queues=model.queues,
        agents=model.agents,
        queue_info=infos,
        endpoints={a.id: a.endpoint for a in centre.agents.agents},
        numbers={n.did: n.queue for n in centre.queues.numbers if n.queue},
        ivr_numbers={n.did: n.ivr for n in centre.queues.numbers if n.ivr},
        no_answer_limit=model.no_answer_limit,
        agent_names={a.id: a.name for a in centre.agents.agents},
        # Already checked by load_configs; read again here as the interpreter's models.
        ivr=load_library(centre.directory),
    )
