"""Settings of the Asterisk adapter: where AMI is, how to log in, the dialplan names it uses."""

from __future__ import annotations

from dataclasses import dataclass

from pbx.port import InvalidArgument, check_timeout


@dataclass(frozen=True, slots=True)
class AsteriskSettings:
    """Everything the adapter needs to know about one Asterisk.

    Context names match the shipped dialplan (``dialplan/asterisk``); see docs/asterisk.md for
    the channel variables each context reads.
    """

    host: str = "127.0.0.1"
    port: int = 5038
    username: str = "acd"
    secret: str = ""
    # Contexts whose new channels are calls arriving for the contact centre.
    inbound_contexts: tuple[str, ...] = ("cc-inbound",)
    hold_context: str = "cc-hold"
    hold_exten: str = "s"
    connect_context: str = "cc-connect"
    connect_exten: str = "s"
    spy_context: str = "cc-spy"
    spy_exten: str = "s"
    # Channel variables read back on every resync (Getvar) and reported in LiveCall.variables.
    tracked_variables: tuple[str, ...] = ("CC_INTERACTION_ID", "CC_DNIS")
    command_timeout: float = 5.0
    connect_timeout: float = 5.0
    ping_interval: float = 10.0
    ping_timeout: float = 5.0
    reconnect_initial: float = 0.5
    reconnect_max: float = 30.0
    events: str = "on"

    def __post_init__(self) -> None:
        if not isinstance(self.port, int) or isinstance(self.port, bool):
            raise InvalidArgument("port", self.port, "an integer TCP port 1-65535")
        if not 0 < self.port < 65536:
            raise InvalidArgument("port", self.port, "an integer TCP port 1-65535")
        for name in (
            "command_timeout",
            "connect_timeout",
            "ping_interval",
            "ping_timeout",
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
