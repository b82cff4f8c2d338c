"""``acd.yaml``: the service itself: listeners, store, live state, PBX connections, logging."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from cc_core.config.value_types import (
    ConfigModel,
    Host,
    Identifier,
    NonEmpty,
    Port,
    Score,
    TimeZoneName,
    in_range,
    pattern,
)

DEFAULT_STORE_URL = "sqlite+aiosqlite:///var/ccplane.db"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


# The shape SQLAlchemy's make_url accepts: dialect[+driver]://[user[:password]@][host]/[db].
# Checked by pattern so that a config check does not import SQLAlchemy (over a second).
_SQLALCHEMY_URL = re.compile(r"[A-Za-z0-9_]+(\+[A-Za-z0-9_]+)?://\S*")


def _check_store_url(value: str) -> str:
    if not _SQLALCHEMY_URL.fullmatch(value):
        raise PydanticCustomError(
            "invalid",
            "got {value} (expected an SQLAlchemy URL such as '{example}')",
            {"value": repr(value), "example": DEFAULT_STORE_URL},
        )
    return value


def _check_redis_url(value: str) -> str:
    if not value.startswith(("redis://", "rediss://", "unix://")):
        raise PydanticCustomError(
            "invalid",
            "got {value} (expected a URL starting with redis://, rediss:// or unix://)",
            {"value": repr(value)},
        )
    return value


StoreUrl = Annotated[str, AfterValidator(_check_store_url)]
RedisUrl = Annotated[str, AfterValidator(_check_redis_url)]
RingTimeout = Annotated[int, AfterValidator(in_range(1, 600, "a whole number of seconds"))]
# Agents' softphones prove who they are with HMAC(secret, agent id): long enough to not guess.
AgentSecret = Annotated[
    str, AfterValidator(pattern(r"\S{16,}", "a secret of 16 or more non-blank characters"))
]


class ApiListener(ConfigModel):
    """REST, WebSocket (agent desktop, chat, wallboard) and ``/metrics``."""

    host: Host = "127.0.0.1"
    port: Port = 8080
    # Signs the agents' and supervisors' API tokens (docs/acd.md "Authentication"). Unset:
    # edge reports, screen-pops and supervision refused; presence and snapshots open.
    agent_secret: AgentSecret | None = None


class FastAgiListener(ConfigModel):
    """Asterisk runs IVR scripts through ``AGI(agi://host:port/ivr/<script>)``."""

    host: Host = "127.0.0.1"
    port: Port = 4573


class EslOutboundListener(ConfigModel):
    """FreeSWITCH's ``socket`` dialplan application connects here for IVR scripts."""

    host: Host = "127.0.0.1"
    port: Port = 8084


class MediaForkListener(ConfigModel):
    """Live voice scoring: Asterisk's ``AudioSocket`` forks of each answered call connect here
    (the dialplan's ``CC_AUDIOSOCKET``); FreeSWITCH's stereo recordings are read from
    ``directory`` (the dialplan's ``cc_media_dir``). ``enabled: false`` starts neither."""

    enabled: bool = True
    host: Host = "127.0.0.1"
    port: Port = 9093
    # FreeSWITCH: the folder record_session writes to, as this host sees it (None: not read).
    directory: str | None = None
    poll_seconds: Annotated[float, AfterValidator(in_range(0.02, 5, "a number of seconds"))] = 0.1
    # A recording that has not grown for this long is taken as over.
    idle_seconds: Annotated[float, AfterValidator(in_range(1, 3600, "a number of seconds"))] = 10.0
    keep_files: bool = False  # false: each recording is deleted once read


Positive = Annotated[float, AfterValidator(in_range(0.1, 3600, "a number of seconds"))]


class QualityAlerts(ConfigModel):
    """When live call scores are logged and when a supervisor is alerted."""

    # A `quality` event at most this often per call (more often only on a real change).
    event_every_seconds: Positive = 5.0
    min_change: Annotated[float, AfterValidator(in_range(0.01, 1, "a score change"))] = 0.1
    # Alert when a score (the call's, or one side's) stays below this for that long.
    low_score: Score = 0.5
    low_score_seconds: Positive = 10.0
    # Alert when nobody has spoken for this long.
    dead_air_seconds: Positive = 15.0


class StoreSettings(ConfigModel):
    # A relative SQLite path is resolved against the working directory by the loader.
    url: StoreUrl = DEFAULT_STORE_URL


class LiveStateSettings(ConfigModel):
    backend: Literal["memory", "redis"] = "memory"
    redis_url: RedisUrl = DEFAULT_REDIS_URL


class AmiSettings(ConfigModel):
    host: Host
    port: Port = 5038
    username: NonEmpty
    secret: NonEmpty


class EslSettings(ConfigModel):
    host: Host
    port: Port = 8021
    password: NonEmpty


class PbxSettings(ConfigModel):
    """One PBX: ``ami`` is required for ``asterisk``, ``esl`` for ``freeswitch``."""

    name: Identifier
    type: Literal["asterisk", "freeswitch"]
    ami: AmiSettings | None = None
    esl: EslSettings | None = None
    ring_timeout: RingTimeout = 20


def _check_dial_template(value: str) -> str:
    if "{number}" not in value or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*/\S+", value):
        raise PydanticCustomError(
            "invalid",
            "got {value} (expected TECH/resource with {placeholder}, e.g. {example})",
            {"value": repr(value), "placeholder": "{number}", "example": "'PJSIP/{number}@trunk'"},
        )
    return value


DialTemplate = Annotated[str, AfterValidator(_check_dial_template)]


class CallbackSettings(ConfigModel):
    """Callback requests: how the customer is dialled once an agent has answered, and how
    often an attempt the customer does not answer is tried again."""

    dial: DialTemplate = "PJSIP/{number}@trunk"
    ring_timeout: RingTimeout = 30
    max_attempts: Annotated[int, AfterValidator(in_range(1, 10, "a whole number"))] = 3
    retry_after: Annotated[int, AfterValidator(in_range(1, 86400, "a number of seconds"))] = 600


RegionCode = Annotated[
    str, AfterValidator(pattern(r"[A-Z]{2}", "a two-letter ISO 3166 code such as US or DE"))
]


class CustomerSettings(ConfigModel):
    """How callers are recognised as customers (`cc_core.acd.customers`)."""

    # Caller numbers in national form (no leading +) are read as numbers of this country
    # (ISO 3166 code, e.g. US, DE); unset: only international numbers find a customer.
    phone_region: RegionCode | None = None


class AnnouncementSettings(ConfigModel):
    """Queue position and expected wait for the hold announcements (`cc_core.acd.announce`):
    set on each waiting call as CC_POSITION / CC_EWT whenever what is spoken changes."""

    enabled: bool = True
    # How often positions are worked out; keep it below the dialplan's CC_ANNOUNCE_INTERVAL.
    refresh_seconds: Annotated[float, AfterValidator(in_range(1, 3600, "a number of seconds"))] = (
        10.0
    )
    # The average handle time (talk + wrap-up) assumed for a queue until calls were handled.
    default_handle_seconds: Annotated[
        float, AfterValidator(in_range(1, 86400, "a number of seconds"))
    ] = 180.0


LeaseSeconds = Annotated[float, AfterValidator(in_range(0.5, 300, "a number of seconds"))]
Margin = Annotated[float, AfterValidator(in_range(0, 300, "a number of seconds"))]


class HaSettings(ConfigModel):
    """Active and standby nodes (docs/acd.md): every node of a pair runs with the same
    ``cluster`` and ``lease`` and its own ``node_id``; the one holding the lease in Redis is
    active, the others wait as standby."""

    enabled: bool = False
    # Names the pair's shared live state in Redis (agents, queues, the lease); with ha off
    # the live state is named by node_id instead.
    cluster: Identifier = "cc"
    lease: Identifier = "acd-active"
    # A dead active node is replaced within about this long (the lease expires).
    ttl_seconds: LeaseSeconds = 6.0
    # The active node stops acting this long before its lease can expire elsewhere (clock
    # rate differences); None: a tenth of the ttl.
    margin_seconds: Margin | None = None

    @field_validator("margin_seconds")
    @classmethod
    def _margin_below_ttl(cls, value: float | None, info: ValidationInfo) -> float | None:
        ttl = info.data.get("ttl_seconds")
        if value is not None and ttl is not None and value >= ttl:
            raise PydanticCustomError(
                "invalid",
                "got {value} (expected less than ttl_seconds, {ttl})",
                {"value": value, "ttl": ttl},
            )
        return value

    @property
    def margin(self) -> float:
        return self.ttl_seconds / 10 if self.margin_seconds is None else self.margin_seconds


class LoggingSettings(ConfigModel):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    # "json" would shadow a BaseModel method, so the attribute has another name.
    json_lines: bool = Field(default=False, alias="json")
    mask_pii: bool = True


class AcdFile(ConfigModel):
    node_id: Identifier
    timezone: TimeZoneName
    api: ApiListener = ApiListener()
    fastagi: FastAgiListener = FastAgiListener()
    esl_outbound: EslOutboundListener = EslOutboundListener()
    media_fork: MediaForkListener = MediaForkListener()
    quality: QualityAlerts = QualityAlerts()
    store: StoreSettings = StoreSettings()
    live_state: LiveStateSettings = LiveStateSettings()
    pbx: list[PbxSettings] = []
    callback: CallbackSettings = CallbackSettings()
    customers: CustomerSettings = CustomerSettings()
    announcements: AnnouncementSettings = AnnouncementSettings()
    logging: LoggingSettings = LoggingSettings()
    # After live_state: its check reads the backend.
    ha: HaSettings = HaSettings()

    @field_validator("ha")
    @classmethod
    def _ha_needs_redis(cls, value: HaSettings, info: ValidationInfo) -> HaSettings:
        live = info.data.get("live_state")
        if value.enabled and live is not None and live.backend != "redis":
            raise PydanticCustomError(
                "invalid",
                "enabled: true needs live_state.backend: redis (got '{backend}'; "
                "the nodes of a pair share agents, queues and the lease through Redis)",
                {"backend": live.backend},
            )
        return value
