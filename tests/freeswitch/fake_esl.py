"""A small FreeSWITCH event socket for link and command tests: real TCP, real ESL framing.

It keeps a table of channels, answers the API commands the adapter uses (as ``api`` or as
``bgapi`` jobs), announces channel changes as plain events to subscribed clients, and can
misbehave on request: drop every connection, refuse connections, stall replies.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import quote


@dataclass
class FakeChannel:
    uuid: str
    name: str
    context: str = "ccplane"
    dest: str = "5000"
    cid_num: str = "5551000"
    cid_name: str = "Caller"
    direction: str = "inbound"
    callstate: str = "ACTIVE"
    application: str = "park"
    variables: dict[str, str] = field(default_factory=dict)
    listed: bool = True  # False: `show channels` has not caught up with it yet


def event_frame(headers: dict[str, str], body: str = "") -> bytes:
    lines = "".join(f"{k}: {quote(str(v), safe='')}\n" for k, v in headers.items())
    if body:
        lines += f"Content-Length: {len(body.encode())}\n\n{body}"
    else:
        lines += "\n"
    data = lines.encode()
    return f"Content-Length: {len(data)}\nContent-Type: text/event-plain\n\n".encode() + data


def reply(text: str, **extra: str) -> bytes:
    more = "".join(f"{k}: {v}\n" for k, v in extra.items())
    return f"Content-Type: command/reply\nReply-Text: {text}\n{more}\n".encode()


def api_response(body: str) -> bytes:
    data = body.encode()
    return f"Content-Type: api/response\nContent-Length: {len(data)}\n\n".encode() + data


class FakeFreeSwitch:
    def __init__(self, password: str = "ClueCon") -> None:
        self.password = password
        self.channels: dict[str, FakeChannel] = {}
        self.received: list[str] = []
        self.connections = 0
        self.refuse = False
        self.stall = False  # hold every reply until released
        self.silent_jobs = False  # accept bgapi jobs but never send their result
        self.stall_matching: tuple[str, ...] = ()  # hold the answers to these API commands
        # Run these `api` commands at once but hold their answers, and every reply after them
        # (the answer on its way while FreeSWITCH reads on), until released.
        self.stall_api_matching: tuple[str, ...] = ()
        self._stalled: list[tuple[asyncio.StreamWriter, bytes]] = []
        self._writers: list[asyncio.StreamWriter] = []
        self._subscribed: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        self.drop()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        # Each connection's handler ends on its own once its socket is closed.
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=2.0)

    def drop(self) -> None:
        """Close every client connection mid-stream (no disconnect notice)."""
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()
        self._subscribed.clear()

    def release(self) -> None:
        """Send the replies held while ``stall`` was on (or matched ``stall_matching``)."""
        self.stall = False
        self.stall_matching = ()
        self.stall_api_matching = ()
        stalled, self._stalled = self._stalled, []
        for writer, data in stalled:
            if not writer.is_closing():
                writer.write(data)

    def commands(self, prefix: str) -> list[str]:
        return [c for c in self.received if c.startswith(prefix)]

    # Channels --------------------------------------------------------------------------------

    def _headers(self, ch: FakeChannel, name: str, **extra: str) -> dict[str, str]:
        headers = {
            "Event-Name": name,
            "Unique-ID": ch.uuid,
            "Channel-Name": ch.name,
            "Call-Direction": ch.direction,
            "Channel-Call-State": ch.callstate,
            "Caller-Context": ch.context,
            "Caller-Destination-Number": ch.dest,
            "Caller-Caller-ID-Number": ch.cid_num,
            "Caller-Caller-ID-Name": ch.cid_name,
        }
        headers.update({f"variable_{k}": v for k, v in ch.variables.items()})
        headers.update(extra)
        return headers

    def emit(self, headers: dict[str, str], body: str = "") -> None:
        frame = event_frame(headers, body)
        for writer in list(self._subscribed):
            if not writer.is_closing():
                writer.write(frame)

    def add(self, ch: FakeChannel, *, announce: bool = True) -> FakeChannel:
        self.channels[ch.uuid] = ch
        if announce:
            self.emit(self._headers(ch, "CHANNEL_CREATE"))
            self.emit(self._headers(ch, "CHANNEL_ANSWER"))
            self.emit(self._headers(ch, "CHANNEL_PARK"))
        return ch

    def move(self, uid: str, dest: str, application: str) -> None:
        """The channel runs ``application`` at extension ``dest`` (a transfer), announced."""
        ch = self.channels[uid]
        ch.dest, ch.application = dest, application
        self.emit(self._headers(ch, "CHANNEL_EXECUTE", Application=application))

    def hangup(self, uid: str, cause: str = "NORMAL_CLEARING", *, announce: bool = True) -> None:
        ch = self.channels.pop(uid)
        if announce:
            ch.callstate = "HANGUP"
            self.emit(self._headers(ch, "CHANNEL_HANGUP_COMPLETE", **{"Hangup-Cause": cause}))

    # Protocol --------------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if self.refuse:
            writer.close()
            return
        self._writers.append(writer)
        writer.write(b"Content-Type: auth/request\n\n")
        authed = False
        try:
            while True:
                try:
                    block = await reader.readuntil(b"\n\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    break
                command = block.decode().strip("\n")
                self.received.append(command)
                if not authed:
                    if command == f"auth {self.password}":
                        authed = True
                        writer.write(reply("+OK accepted"))
                        continue
                    writer.write(reply("-ERR invalid"))
                    break
                if command.startswith("event plain"):
                    self._subscribed.add(writer)
                    self._send(writer, reply("+OK event listener enabled plain"))
                elif command == "exit":
                    writer.write(reply("+OK bye"))
                    break
                elif command.startswith("api "):
                    # Run before the next command is read, as mod_event_socket does.
                    answer = api_response(self.run(command[4:]))
                    if self.stall_api_matching and command[4:].startswith(self.stall_api_matching):
                        self.stall = True
                    self._send(writer, answer)
                elif command.startswith("bgapi "):
                    line, _, rest = command[6:].partition("\n")
                    job = rest.removeprefix("Job-UUID: ").strip() or str(uuid.uuid4())
                    hold = bool(self.stall_matching) and line.startswith(self.stall_matching)
                    self._send(writer, reply(f"+OK Job-UUID: {job}", **{"Job-UUID": job}), hold)
                    if not self.silent_jobs:
                        # The answer is what FreeSWITCH knew when the command arrived.
                        result = self.run(line)
                        done = {"Event-Name": "BACKGROUND_JOB", "Job-UUID": job}
                        self._send(writer, event_frame(done, result), hold)
                else:
                    self._send(writer, reply("-ERR command not found"))
                await writer.drain()
        finally:
            self._subscribed.discard(writer)
            if writer in self._writers:
                self._writers.remove(writer)
            writer.close()

    def _send(self, writer: asyncio.StreamWriter, data: bytes, hold: bool = False) -> None:
        if self.stall or hold:
            self._stalled.append((writer, data))
        else:
            writer.write(data)

    def run(self, line: str) -> str:
        """The answer of one API command."""
        words = line.split(" ")
        name, args = words[0], words[1:]
        if line == "show channels as json":
            rows = [
                {
                    "uuid": c.uuid,
                    "name": c.name,
                    "direction": c.direction,
                    "created_epoch": str(int(time.time()) - 3),
                    "cid_num": c.cid_num,
                    "cid_name": c.cid_name,
                    "dest": c.dest,
                    "context": c.context,
                    "application": c.application,
                    "callstate": c.callstate,
                }
                for c in self.channels.values()
                if c.listed
            ]
            return json.dumps({"row_count": len(rows), "rows": rows}) + "\n"
        if line == "show bridged_calls as json":
            return '{"row_count": 0}\n'
        if name == "uuid_exists":
            return "true" if args[0] in self.channels else "false"
        if name.startswith("uuid_") and (not args or args[0] not in self.channels):
            return "-ERR No such channel!\n"
        if name == "uuid_getvar":
            # FreeSWITCH compares variable names case-blind (switch_event_get_header).
            found = {k.lower(): v for k, v in self.channels[args[0]].variables.items()}
            return found.get(args[1].lower(), "_undef_")
        if name == "uuid_setvar":
            self.channels[args[0]].variables[args[1]] = " ".join(args[2:])
            return "+OK\n"
        if name == "uuid_setvar_multi":
            for item in " ".join(args[1:]).split(";"):
                key, _, value = item.partition("=")
                self.channels[args[0]].variables[key] = value
            return "+OK\n"
        if name == "uuid_kill":
            self.hangup(args[0], args[1] if len(args) > 1 else "NORMAL_CLEARING")
            return "+OK\n"
        if name == "uuid_transfer":
            ch = self.channels[args[0]]
            ch.dest, ch.context = args[1], args[3]
            return "+OK\n"
        if name == "uuid_record":
            return "+Success\n"
        if name == "originate":
            return self._originate(args)
        return "+OK\n"

    def _originate(self, args: list[str]) -> str:
        spec, _, endpoint = args[0][1:].partition("}")
        variables = dict(item.split("=", 1) for item in spec.split(","))
        uid = variables.pop("origination_uuid")
        if endpoint.startswith("user/9"):
            return "-ERR USER_NOT_REGISTERED\n"
        ch = FakeChannel(uid, f"sofia/internal/{endpoint}", context=args[3], dest=args[1])
        ch.direction = "outbound"
        ch.variables.update(variables)
        self.add(ch)
        return f"+OK {uid}\n"
