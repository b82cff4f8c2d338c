"""``CentreConfig``: every config file of a centre, validated and cross-checked."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cc_core.config.acd_file import AcdFile
from cc_core.config.agents_file import Agent, AgentsFile, CapacityProfile
from cc_core.config.channels_file import ChannelsFile
from cc_core.config.ivr_file import IvrScript
from cc_core.config.problems import Problem
from cc_core.config.queues_file import Queue, QueuesFile


@dataclass(frozen=True)
class CentreConfig:
    """What ``load_configs`` returns. ``acd.store.url`` and ``acd.live_state.redis_url`` already
    include the environment overrides, and a relative SQLite path is made absolute."""

    directory: Path
    acd: AcdFile
    agents: AgentsFile
    queues: QueuesFile
    channels: ChannelsFile
    ivr: dict[str, IvrScript] = field(default_factory=dict)  # by script name
    warnings: tuple[Problem, ...] = ()

    def agent(self, agent_id: str) -> Agent:
        """The agent with this id; KeyError if there is none."""
        for agent in self.agents.agents:
            if agent.id == agent_id:
                return agent
        raise KeyError(agent_id)

    def queue(self, queue_id: str) -> Queue:
        """The queue with this id; KeyError if there is none."""
        for queue in self.queues.queues:
            if queue.id == queue_id:
                return queue
        raise KeyError(queue_id)

    def profiles(self) -> dict[str, CapacityProfile]:
        return self.agents.profiles()
