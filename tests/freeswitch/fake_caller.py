"""FreeSWITCH's side of an outbound socket for one simulated caller: connects to the server
under test like the ``socket`` application and answers its commands, typing the keys it was
given whenever ``play_and_get_digits`` runs. A caller with no keys left hangs up."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from urllib.parse import quote

from .fake_esl import event_frame, reply


@dataclass
class FakeCaller:
    call_id: str
    caller_num: str
    called_num: str
    keys: list[str]
    variables: dict[str, str] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)
    played: list[str] = field(default_factory=list)
    hung_up_by: str = ""
    variables_in_events: bool = True  # False: a FreeSWITCH whose events carry no variables

    def _event(self, name: str, **headers: str) -> bytes:
        base = {"Event-Name": name, "Unique-ID": self.call_id}
        if self.variables_in_events:
            base.update({f"variable_{k}": v for k, v in self.variables.items()})
        base.update(headers)
        return event_frame(base)

    async def call(self, port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while True:
                try:
                    block = await reader.readuntil(b"\n\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return  # the IVR let the call go on in the dialplan
                command = block.decode().strip("\n")
                self.commands.append(command)
                if self._answer(command, writer):
                    return
                await writer.drain()
        finally:
            writer.close()

    def _answer(self, command: str, writer: asyncio.StreamWriter) -> bool:
        first, *rest = command.split("\n")
        if first == "connect":
            data = {
                "Event-Name": "CHANNEL_DATA",
                "Unique-ID": self.call_id,
                "Caller-Caller-ID-Number": self.caller_num,
                "Caller-Destination-Number": self.called_num,
                "Socket-Mode": "async",
                "Control": "full",
            }
            lines = "".join(f"{k}: {quote(v, safe='')}\n" for k, v in data.items())
            writer.write(f"Content-Type: command/reply\nReply-Text: %2BOK%0A\n{lines}\n".encode())
        elif first == "linger":
            writer.write(reply("+OK will linger"))
        elif first == "myevents":
            writer.write(reply("+OK Events Enabled"))
        elif first == "resume":
            writer.write(reply("+OK"))
        elif first.startswith("getvar "):
            writer.write(reply(self.variables.get(first[7:], "_undef_")))
        elif first == "exit":
            writer.write(reply("+OK bye"))
            return True
        elif first == "sendmsg":
            headers = dict(line.split(": ", 1) for line in rest)
            writer.write(reply("+OK"))
            if headers.get("call-command") == "hangup":
                self._hang_up(writer, "IVR")
            else:
                self._execute(headers, writer)
        else:
            writer.write(reply("-ERR command not found"))
        return False

    def _hang_up(self, writer: asyncio.StreamWriter, by: str) -> None:
        self.hung_up_by = by
        cause = "NORMAL_CLEARING" if by == "IVR" else "ORIGINATOR_CANCEL"
        writer.write(self._event("CHANNEL_HANGUP", **{"Hangup-Cause": cause}))
        writer.write(
            b"Content-Type: text/disconnect-notice\nContent-Disposition: linger\n"
            b"Content-Length: 0\n\n"
        )

    def _execute(self, headers: dict[str, str], writer: asyncio.StreamWriter) -> None:
        app = headers.get("execute-app-name", "")
        arg = headers.get("execute-app-arg", "")
        extra: dict[str, str] = {}
        if app == "set":
            name, _, value = arg.partition("=")
            self.variables[name] = value
        elif app == "unset":
            self.variables.pop(arg, None)
        elif app == "playback":
            self.played.append(arg)
        elif app == "play_and_get_digits":
            if not self.keys:
                self._hang_up(writer, "caller")
                return
            args = arg.split(" ")
            max_digits, terminator = int(args[1]), args[4]
            self.played.append(args[5])
            typed = self.keys.pop(0)
            digits = typed.split(terminator)[0] if terminator != "none" else typed
            digits = digits[:max_digits]
            self.variables[args[7]] = digits
            if terminator != "none" and terminator in typed and len(digits) < max_digits:
                extra["variable_read_terminator_used"] = terminator
            for digit in typed:
                writer.write(self._event("DTMF", **{"DTMF-Digit": digit}))
        writer.write(
            self._event(
                "CHANNEL_EXECUTE_COMPLETE",
                Application=app,
                **{"Application-UUID": headers.get("Event-UUID", "")},
                **extra,
            )
        )
