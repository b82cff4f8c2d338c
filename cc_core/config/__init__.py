"""Admin configuration: ``configs/*.yaml`` loaded into pydantic models, every problem located.

``load_configs(directory)`` returns a ``CentreConfig`` or raises ``ConfigError`` listing every
problem; ``check_directory(directory, out)`` prints them and returns the exit status.
"""

from cc_core.config.acd_file import AcdFile, AmiSettings, EslSettings, PbxSettings
from cc_core.config.agents_file import (
    DEFAULT_PROFILE,
    Agent,
    AgentsFile,
    CapacityOverride,
    CapacityProfile,
    Language,
    Skill,
    Supervisor,
)
from cc_core.config.centre import CentreConfig
from cc_core.config.channels_file import ChannelsFile, ChatChannel, EmailChannel
from cc_core.config.check import EXIT_CLEAN, EXIT_ERRORS, check_directory
from cc_core.config.ivr_file import IvrScript
from cc_core.config.loader import (
    ENV_REDIS_URL,
    ENV_STORE_URL,
    load_acd_settings,
    load_configs,
    resolve_sqlite_path,
)
from cc_core.config.problems import ConfigError, Problem, Severity
from cc_core.config.queues_file import Number, Overflow, Queue, QueuesFile, Sla, Step, Sticky
from cc_core.config.value_types import CHANNELS, Channel

__all__ = [
    "CHANNELS",
    "DEFAULT_PROFILE",
    "ENV_REDIS_URL",
    "ENV_STORE_URL",
    "EXIT_CLEAN",
    "EXIT_ERRORS",
    "AcdFile",
    "Agent",
    "AgentsFile",
    "AmiSettings",
    "CapacityOverride",
    "CapacityProfile",
    "CentreConfig",
    "Channel",
    "ChannelsFile",
    "ChatChannel",
    "ConfigError",
    "EmailChannel",
    "EslSettings",
    "IvrScript",
    "Language",
    "Number",
    "Overflow",
    "PbxSettings",
    "Problem",
    "Queue",
    "QueuesFile",
    "Severity",
    "Skill",
    "Sla",
    "Step",
    "Sticky",
    "Supervisor",
    "check_directory",
    "load_acd_settings",
    "load_configs",
    "resolve_sqlite_path",
]
