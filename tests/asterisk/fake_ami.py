"""A small scripted AMI server for behaviour tests (reconnect, resync, keep-alive, commands).

It speaks AMI over real TCP on loopback and keeps a table of channels that tests edit between
steps. Answers follow Asterisk 22's wording as recorded in ../shared/pbx-captures.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from .replay import ClientAction, headers_of

BANNER = b"Asterisk Call Manager/11.0.0\r\n"


def message(*pairs: tuple[str, str]) -> bytes:
    return ("".join(f"{k}: {v}\r\n" for k, v in pairs) + "\r\n").encode()


@dataclass
class FakeChannel:
    uniqueid: str
    name: str
    context: str = "cc-hold"
    exten: str = "s"
    state: str = "6"
    caller_num: str = "5551000"
    variables: dict[str, str] = field(default_factory=dict)
    bridge: str = ""

    def snapshot(self) -> list[tuple[str, str]]:
        return [
            ("Channel", self.name),
            ("ChannelState", self.state),
            ("ChannelStateDesc", {"6": "Up", "4": "Ring"}.get(self.state, "Down")),
            ("CallerIDNum", self.caller_num),
            ("CallerIDName", "Caller"),
            ("ConnectedLineNum", "<unknown>"),
            ("ConnectedLineName", "<unknown>"),
            ("Language", "en"),
            ("AccountCode", ""),
            ("Context", self.context),
            ("Exten", self.exten),
            ("Priority", "1"),
            ("Uniqueid", self.uniqueid),
            ("Linkedid", self.uniqueid),
        ]


class FakeAsterisk:
    def __init__(self, secret: str = "acdsecret") -> None:
        self.secret = secret
        self.channels: dict[str, FakeChannel] = {}
        self.silent: set[str] = set()  # action names (lower case) left unanswered
        self.close_at_once = 0  # the next N connections are closed as soon as accepted
        self.accepted_at: list[float] = []
        self.actions: list[ClientAction] = []
        self.writers: list[asyncio.StreamWriter] = []
        # Runs before the CoreShowChannels list is sent (to race events against a resync).
        self.before_list: Callable[[], Awaitable[None]] | None = None
        self._server: asyncio.Server | None = None
        self._ids = itertools.count(1)
        self.port = 0

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        self.drop_all()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def drop_all(self) -> None:
        for writer in self.writers:
            writer.close()
        self.writers.clear()

    def emit(self, data: bytes) -> None:
        for writer in self.writers:
            writer.write(data)

    def emit_event(self, name: str, *pairs: tuple[str, str]) -> None:
        self.emit(message(("Event", name), ("Privilege", "call,all"), *pairs))

    def of(self, name: str) -> list[ClientAction]:
        return [a for a in self.actions if a.name == name.lower()]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted_at.append(asyncio.get_running_loop().time())
        if self.close_at_once > 0:
            self.close_at_once -= 1
            writer.close()
            return
        writer.write(BANNER)
        self.writers.append(writer)
        try:
            while True:
                try:
                    block = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    break
                action = ClientAction(headers_of(block))
                self.actions.append(action)
                if action.name not in self.silent:
                    await self._answer(action, writer)
        finally:
            if writer in self.writers:
                self.writers.remove(writer)
            writer.close()

    async def _answer(self, action: ClientAction, writer: asyncio.StreamWriter) -> None:
        aid = ("ActionID", action.get("ActionID") or "")
        name = action.name
        channel = self._find(action.get("Channel") or "")
        if name == "login":
            if action.get("Secret") == self.secret:
                writer.write(
                    message(("Response", "Success"), aid, ("Message", "Authentication accepted"))
                )
                writer.write(
                    message(
                        ("Event", "FullyBooted"),
                        ("Privilege", "system,all"),
                        ("Status", "Fully Booted"),
                    )
                )
            else:
                writer.write(
                    message(("Response", "Error"), aid, ("Message", "Authentication failed"))
                )
        elif name == "ping":
            writer.write(
                message(("Response", "Success"), aid, ("Ping", "Pong"), ("Timestamp", "1.0"))
            )
        elif name == "coreshowchannels":
            writer.write(
                message(
                    ("Response", "Success"),
                    aid,
                    ("EventList", "start"),
                    ("Message", "Channels will follow"),
                )
            )
            if self.before_list is not None:
                await self.before_list()
            for ch in list(self.channels.values()):
                writer.write(
                    message(
                        ("Event", "CoreShowChannel"),
                        aid,
                        *ch.snapshot(),
                        ("Application", "MusicOnHold"),
                        ("ApplicationData", ""),
                        ("Duration", "00:01:05"),
                        ("BridgeId", ch.bridge),
                    )
                )
            writer.write(
                message(
                    ("Event", "CoreShowChannelsComplete"),
                    aid,
                    ("EventList", "Complete"),
                    ("ListItems", str(len(self.channels))),
                )
            )
        elif name in ("getvar", "setvar", "redirect", "hangup", "mixmonitor", "stopmixmonitor"):
            if channel is None:
                text = (
                    "Channel does not exist: " + (action.get("Channel") or "")
                    if name == "redirect"
                    else "No such channel"
                )
                writer.write(message(("Response", "Error"), aid, ("Message", text)))
            elif name == "getvar":
                value = channel.variables.get(action.get("Variable") or "", "")
                writer.write(
                    message(
                        ("Response", "Success"),
                        aid,
                        ("Variable", action.get("Variable") or ""),
                        ("Value", value),
                    )
                )
            elif name == "setvar":
                channel.variables[action.get("Variable") or ""] = action.get("Value") or ""
                writer.write(message(("Response", "Success"), aid, ("Message", "Variable Set")))
            elif name == "hangup":
                writer.write(message(("Response", "Success"), aid, ("Message", "Channel Hungup")))
                self.hang_up(channel.uniqueid, action.get("Cause") or "16")
            else:
                writer.write(message(("Response", "Success"), aid, ("Message", "Success")))
        elif name == "originate":
            writer.write(
                message(("Response", "Success"), aid, ("Message", "Originate successfully queued"))
            )
        elif name == "logoff":
            writer.write(
                message(("Response", "Goodbye"), aid, ("Message", "Thanks for all the fish."))
            )
        else:
            writer.write(
                message(
                    ("Response", "Error"),
                    aid,
                    (
                        "Message",
                        f"Invalid/unknown command: {action.get('Action')}. "
                        "Use Action: ListCommands to show available commands.",
                    ),
                )
            )

    def _find(self, name_or_id: str) -> FakeChannel | None:
        for ch in self.channels.values():
            if name_or_id in (ch.name, ch.uniqueid):
                return ch
        return None

    def add(self, channel: FakeChannel, *, announce: bool = True) -> FakeChannel:
        self.channels[channel.uniqueid] = channel
        if announce:
            self.emit_event("Newchannel", *channel.snapshot())
        return channel

    def hang_up(self, uniqueid: str, cause: str = "16") -> None:
        channel = self.channels.pop(uniqueid)
        self.emit_event(
            "Hangup", *channel.snapshot(), ("Cause", cause), ("Cause-txt", "Normal Clearing")
        )
