"""Settings of the FreeSWITCH adapter: where the event socket is, and the dialplan names it uses."""

from __future__ import annotations

from dataclasses import dataclass

from pbx.freeswitch.variables import DEFAULT_ALIASES
from pbx.port import InvalidArgument, check_dialplan_target, check_timeout

# Events the adapter subscribes to; everything the mapping reads and nothing more (an ALL
# subscription costs FreeSWITCH a formatting pass per event and us a parse).
SUBSCRIBED_EVENTS: tuple[str, ...] = (
    "CHANNEL_CREATE",
    "CHANNEL_ANSWER",
    "CHANNEL_PARK",
    "CHANNEL_EXECUTE",
    "CHANNEL_EXECUTE_COMPLETE",
    "CHANNEL_ORIGINATE",
    "CHANNEL_BRIDGE",
    "CHANNEL_UNBRIDGE",
    "CHANNEL_HANGUP_COMPLETE",
    "DTMF",
    "BACKGROUND_JOB",
    "HEARTBEAT",
    "CUSTOM",
    "sofia::register",
    "sofia::unregister",
    "sofia::expire",
)


@dataclass(frozen=True, slots=True)
class FreeSwitchSettings:
    """Everything the adapter needs to know about one FreeSWITCH (docs/freeswitch.md)."""

    host: str = "127.0.0.1"
    port: int = 8021
    password: str = "ClueCon"
    # Defaults follow the shipped dialplan (dialplan/freeswitch/dialplan/ccplane.xml).
    inbound_contexts: tuple[str, ...] = ("ccplane",)
    dialplan: str = "XML"
    hold_context: str = "ccplane"
    hold_exten: str = "cc_hold"
    connect_context: str = "ccplane"
    connect_exten: str = "cc_connect"
    spy_context: str = "ccplane"
    # {mode} is listen, whisper or barge; {target} the agent call's UUID.
    spy_exten: str = "cc_{mode}_{target}"
    # Port names (CC_*); the dialplan spells them in lower case, with these exceptions.
    tracked_variables: tuple[str, ...] = ("CC_INTERACTION_ID", "CC_DNIS")
    variable_aliases: tuple[tuple[str, str], ...] = DEFAULT_ALIASES
    events: tuple[str, ...] = SUBSCRIBED_EVENTS
    command_timeout: float = 5.0
    connect_timeout: float = 5.0
    idle_timeout: float = 60.0
    reconnect_initial: float = 0.5
    reconnect_max: float = 30.0

    def __post_init__(self) -> None:
        if not isinstance(self.port, int) or isinstance(self.port, bool):
            raise InvalidArgument("port", self.port, "an integer TCP port 1-65535")
        if not 0 < self.port < 65536:
            raise InvalidArgument("port", self.port, "an integer TCP port 1-65535")
        if not isinstance(self.password, str) or any(c in self.password for c in "\r\n "):
            raise InvalidArgument("password", "***", "a password without spaces or line breaks")
        for name in (
            "command_timeout",
            "connect_timeout",
            "idle_timeout",
            "reconnect_initial",
            "reconnect_max",
        ):
            check_timeout(getattr(self, name), name)
        if self.reconnect_max < self.reconnect_initial:
            raise InvalidArgument(
                "reconnect_max",
                self.reconnect_max,
                f">= reconnect_initial={self.reconnect_initial}",
            )
        for context, exten in (
            (self.hold_context, self.hold_exten),
            (self.connect_context, self.connect_exten),
            (self.spy_context, self.spy_extension("listen", "x")),
        ):
            check_dialplan_target(context, exten, 1)

    def spy_extension(self, mode: str, target: str) -> str:
        """The extension ``spy()`` sends the supervisor's phone to."""
        try:
            return self.spy_exten.format(mode=mode, target=target)
        except (KeyError, IndexError, ValueError):
            raise InvalidArgument(
                "spy_exten", self.spy_exten, "a name with only {mode} and {target} placeholders"
            ) from None
        if not self.events or any(not e or any(c.isspace() for c in e) for e in self.events):
            raise InvalidArgument("events", self.events, "event names without spaces")
