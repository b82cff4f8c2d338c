"""The inbound event socket: one greenswitch connection at a time, supervised.

Everything here except :class:`EslLink`'s coroutines runs in the gevent thread
(:mod:`pbx.freeswitch.bridge`). greenswitch brings the socket, the line reader and the reply
queue; :class:`EslClient` fills what it leaves out for a long-lived link: body reads that stop at
end of stream, events parsed in full (plain and JSON, with their own body), replies and
BACKGROUND_JOB results with deadlines, every pending command failed when the link drops.
:class:`EslLink` reconnects with backoff and re-subscribes after every connect.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import gevent
import gevent.event
import gevent.lock
import gevent.socket
from greenswitch.esl import InboundESL

from pbx.freeswitch.bridge import GeventThread
from pbx.freeswitch.protocol import (
    EVENT_TYPES,
    REPLY_TYPES,
    EslEvent,
    EslReply,
    MalformedFrame,
    content_length,
    parse_event,
)
from pbx.freeswitch.settings import FreeSwitchSettings
from pbx.port import CommandTimeout, NotConnected, PbxError

log = logging.getLogger(__name__)


class AuthenticationFailed(PbxError):
    """FreeSWITCH refused the event socket password."""


class EslClient(InboundESL):
    """One inbound ESL connection (gevent thread only)."""

    def __init__(self, settings: FreeSwitchSettings, on_event: Callable[[EslEvent], None]) -> None:
        super().__init__(settings.host, settings.port, settings.password, settings.connect_timeout)
        self.on_event = on_event
        self.jobs: dict[str, gevent.event.AsyncResult] = {}
        self.last_rx = time.monotonic()
        self.closed_reason = ""
        self.malformed = 0
        self._frames = 0
        self._send_lock = gevent.lock.Semaphore()

    # Connection --------------------------------------------------------------------------

    def connect(self) -> None:
        """Connect and authenticate (greenswitch's own ``connect`` waits for the auth request
        with no deadline, which ends the hub with LoopExit when the socket closes first)."""
        try:
            self.sock = gevent.socket.create_connection((self.host, self.port), self.timeout)
        except OSError as exc:
            raise NotConnected(f"cannot reach {self.host}:{self.port}: {exc}") from None
        self.sock.settimeout(None)
        self.sock_file = self.sock.makefile("rb")
        self.connected = True
        self.last_rx = time.monotonic()
        self.start_event_handlers()
        # Whichever comes first: the auth request, or the reader ending on a closed socket.
        gevent.wait(
            [self._auth_request_event, self._receive_events_greenlet], count=1, timeout=self.timeout
        )
        if not self.connected or self._receive_events_greenlet.dead:
            raise NotConnected(f"{self.host}:{self.port} closed the connection before auth")
        if not self._auth_request_event.is_set():
            raise NotConnected(f"{self.host}:{self.port} sent no auth/request")
        if not self.connected:
            raise NotConnected(f"{self.host}:{self.port} closed the connection before auth")
        reply = self.request(f"auth {self.password}", self.timeout)
        if reply.text != "+OK accepted":
            raise AuthenticationFailed(
                f"{self.host}:{self.port} refused the event socket password: {reply.text}"
            )

    def subscribe(self, events: tuple[str, ...], timeout: float) -> None:
        reply = self.request("event plain " + " ".join(events), timeout)
        if not reply.text.startswith("+OK"):
            raise NotConnected(f"event subscription refused: {reply.text}")

    @property
    def alive(self) -> bool:
        greenlet = self._receive_events_greenlet
        return self.connected and greenlet is not None and not greenlet.dead

    def shutdown(self, reason: str) -> None:
        """Close the socket, end the reader greenlets, fail every pending command."""
        self.closed_reason = self.closed_reason or reason
        self.connected = False
        self._run = False
        sock = getattr(self, "sock", None)
        if sock is not None:
            # ``close()`` alone leaves the descriptor open while the reader's ``makefile`` holds
            # it: FreeSWITCH would not see the link end and would keep writing into a socket
            # nobody reads, until a garbage collection (in any thread) closed it. Shutting the
            # connection down wakes the reader with end of stream and tells FreeSWITCH at once.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        greenlets = [g for g in (self._receive_events_greenlet, self._process_events_greenlet) if g]
        gevent.killall(greenlets, block=True, timeout=1.0)
        for stream in (getattr(self, "sock_file", None), sock):
            if stream is not None:
                # RuntimeError: a reader that outlived the kill is still inside the file.
                with contextlib.suppress(OSError, RuntimeError):
                    stream.close()
        self.fail_pending(NotConnected(f"event socket link lost: {self.closed_reason}"))

    def abandon(self) -> None:
        """End the connection without the hub (the gevent thread is gone): FreeSWITCH sees it
        close; the descriptor itself goes with the socket object."""
        self.connected = False
        sock = getattr(self, "sock", None)
        if sock is None:
            return
        with contextlib.suppress(OSError, ValueError):
            fd = sock.fileno()
            if fd >= 0:
                with socket.socket(fileno=os.dup(fd)) as raw:
                    raw.shutdown(socket.SHUT_RDWR)

    def fail_pending(self, error: Exception) -> None:
        pending, self._commands_sent = self._commands_sent, []
        jobs, self.jobs = self.jobs, {}
        for result in [*pending, *jobs.values()]:
            if not result.ready():
                result.set_exception(error)

    # Reading (called by greenswitch's reader greenlet, one frame at a time) -----------------

    def _read_exact(self, length: int) -> str:
        chunks: list[bytes] = []
        remaining = length
        while remaining:
            data = self.sock_file.read(remaining)
            if not data:
                raise EOFError(f"stream ended {remaining} bytes into a {length}-byte body")
            chunks.append(data)
            remaining -= len(data)
        return b"".join(chunks).decode("utf-8", "replace")

    def handle_event(self, event: Any) -> None:  # greenswitch's hook; ``event`` = outer frame
        self.last_rx = time.monotonic()
        headers: dict[str, str] = event.headers
        if not headers:
            return  # a stray blank line between frames
        ctype = headers.get("Content-Type", "")
        try:
            body = self._read_exact(content_length(headers))
        except (EOFError, OSError, MalformedFrame) as exc:
            log.warning("ESL: %s; dropping the link", exc)
            self.closed_reason = str(exc)
            self.connected = False
            self._run = False
            return
        if ctype == "auth/request":
            self._auth_request_event.set()
        elif ctype in REPLY_TYPES:
            self._reply(EslReply(headers, body))
            gevent.sleep(0)  # let the waiting command run now, not after the backlog
        elif ctype in EVENT_TYPES:
            self._event(ctype, body)
            self._frames += 1
            # The reader never blocks while events are buffered; yield now and then so a
            # command's greenlet is not starved behind a burst.
            if self._frames % 64 == 0:
                gevent.sleep(0)
        elif ctype in ("text/disconnect-notice", "text/rude-rejection"):
            self.closed_reason = f"{ctype}: {body.strip() or 'no reason given'}"
            self.connected = False
            self._auth_request_event.set()
        else:
            log.debug("ESL: ignored %s frame", ctype or "untyped")

    def _reply(self, reply: EslReply) -> None:
        if not self._commands_sent:
            log.warning("ESL: a reply matched no command: %r", reply.text[:120])
            return
        result = self._commands_sent.pop(0)
        if not result.ready():  # a command that timed out still owns its place in line
            result.set(reply)

    def _event(self, ctype: str, body: str) -> None:
        try:
            event = parse_event(ctype, body)
        except MalformedFrame as exc:
            self.malformed += 1
            log.warning("ESL: ignored malformed event (%s)", exc)
            return
        self.on_event(event)
        if event.name == "BACKGROUND_JOB":
            job = self.jobs.pop(event.get("Job-UUID"), None)
            if job is not None and not job.ready():
                job.set(event.body)
                gevent.sleep(0)

    # Commands ------------------------------------------------------------------------------

    def request(self, command: str, timeout: float) -> EslReply:
        """Send one command and wait for its reply (replies come back in order)."""
        (result,) = self._write([command])
        try:
            return result.get(timeout=timeout)
        except gevent.Timeout:
            raise CommandTimeout(_verb(command), timeout) from None

    def _write(self, commands: list[str]) -> list[gevent.event.AsyncResult]:
        """Write commands back to back, each with its place in the reply queue (the queue's
        order must be the bytes' order, hence one lock around both)."""
        if not self.connected:
            raise NotConnected(f"event socket not connected ({self.closed_reason or 'down'})")
        results = [gevent.event.AsyncResult() for _ in commands]
        with self._send_lock:
            self._commands_sent.extend(results)
            try:
                for command in commands:
                    self.sock.sendall((command + "\n\n").encode())
            except OSError as exc:
                raise NotConnected(f"event socket write failed: {exc}") from None
        return results

    def bgapi(self, command: str, timeout: float, *, wait: bool, job_uuid: str = "") -> str:
        """``bgapi`` with our own Job-UUID. With ``wait``, the job's result (BACKGROUND_JOB body);
        otherwise the acceptance text once FreeSWITCH queued the job."""
        _, answer = self.api_then_bgapi([], command, timeout, wait=wait, job_uuid=job_uuid)
        return answer

    def api_then_bgapi(
        self,
        apis: list[str],
        command: str,
        timeout: float,
        *,
        wait: bool = True,
        job_uuid: str = "",
    ) -> tuple[list[str], str]:
        """``api`` commands, then ``bgapi command``, all written at once: the answers of the
        ``api`` commands (in order) and the job's result (as :meth:`bgapi`).

        mod_event_socket's listener thread runs an ``api`` command itself (``parse_command``
        calls ``api_exec``, which writes the ``api/response``) before it reads the next command
        from the socket; only ``bgapi`` goes to a thread of its own. So the job starts after
        every ``api`` command has run, without this side waiting a round trip for their
        replies, and the replies come back in the order the commands were written."""
        job_uuid = job_uuid or str(uuid.uuid4())
        deadline = time.monotonic() + timeout
        job = gevent.event.AsyncResult()
        if wait:
            self.jobs[job_uuid] = job
        try:
            *replies, accepted = self._write(
                [*(f"api {line}" for line in apis), f"bgapi {command}\nJob-UUID: {job_uuid}"]
            )
            answers = [
                self._reply_text(reply, f"api {line}", deadline, timeout)
                for reply, line in zip(replies, apis, strict=True)
            ]
            text = self._reply_text(accepted, f"bgapi {command}", deadline, timeout)
            if not text.startswith("+OK") or not wait:
                return answers, text
            try:
                return answers, str(job.get(timeout=max(0.0, deadline - time.monotonic())))
            except gevent.Timeout:
                raise CommandTimeout(_verb(command), timeout) from None
        finally:
            self.jobs.pop(job_uuid, None)

    @staticmethod
    def _reply_text(
        result: gevent.event.AsyncResult, command: str, deadline: float, timeout: float
    ) -> str:
        try:
            reply: EslReply = result.get(timeout=max(0.0, deadline - time.monotonic()))
        except gevent.Timeout:
            raise CommandTimeout(_verb(command), timeout) from None
        return reply.text


def _verb(command: str) -> str:
    words = command.split("\n", 1)[0].split()
    if words and words[0] in ("api", "bgapi") and len(words) > 1:
        return f"{words[0]} {words[1]}"
    return words[0] if words else command


# A link up for this long counts as healthy: the next reconnect starts the backoff afresh.
STABLE_LINK_S = 10.0


def backoff(attempt: int, initial: float, maximum: float) -> float:
    """Delay before reconnect attempt ``attempt`` (0-based): doubling, capped, +-20 % jitter."""
    base = min(maximum, initial * (2 ** min(attempt, 30)))
    return base * random.uniform(0.8, 1.2)


class EslLink:
    """The supervised link, driven from asyncio. Callbacks run on the asyncio loop."""

    def __init__(
        self,
        settings: FreeSwitchSettings,
        *,
        on_event: Callable[[EslEvent], None],
        on_up: Callable[[], None],
        on_down: Callable[[str], None],
    ) -> None:
        self.settings = settings
        self._on_event = on_event
        self._on_up = on_up
        self._on_down = on_down
        self._thread = GeventThread(on_exit=self._thread_exited)
        self._thread_done: asyncio.Event | None = None
        # How often the gevent thread or the supervisor greenlet ended unexpectedly and was
        # started again.
        self.restarts = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: EslClient | None = None
        self._supervisor: gevent.Greenlet | None = None
        self._wake: gevent.event.Event | None = None
        self._closing = False
        self._drop_reason = ""
        # Set when the current connection proved it works (a resync answered on it).
        self._healthy = False
        self.refused: AuthenticationFailed | None = None
        self.last_error = ""
        self.connects = 0
        self.events_received = 0
        self.malformed_events = 0
        self._outbox: list[EslEvent] = []
        self._outbox_lock = threading.Lock()

    @property
    def connected(self) -> bool:
        client = self._client
        return client is not None and client.alive

    # asyncio side ----------------------------------------------------------------------------

    def start(self) -> None:
        if self._supervisor is not None or self._closing:
            return
        self._loop = asyncio.get_running_loop()
        self._thread_done = asyncio.Event()
        self._thread.start()
        started = self._thread.submit(self._spawn_supervisor)
        started.result(5.0)

    def _spawn_supervisor(self) -> None:
        self._wake = gevent.event.Event()
        supervisor = gevent.spawn(self._supervise)
        supervisor.link(self._supervisor_ended)
        self._supervisor = supervisor

    async def request(self, command: str, timeout_s: float) -> EslReply:
        """Send one command (``api ...``, ``exit``) and return FreeSWITCH's reply."""
        return await self._run(
            lambda client: client.request(command, timeout_s), _verb(command), timeout_s
        )

    async def bgapi(
        self, command: str, timeout_s: float, *, wait: bool = True, job_uuid: str = ""
    ) -> str:
        """Run an API command as a background job (see :meth:`EslClient.bgapi`)."""
        return await self._run(
            lambda client: client.bgapi(command, timeout_s, wait=wait, job_uuid=job_uuid),
            f"bgapi {command.split(' ', 1)[0]}",
            timeout_s,
        )

    async def api_then_bgapi(
        self, apis: list[str], command: str, timeout_s: float
    ) -> tuple[list[str], str]:
        """API commands run in order, then a background job, written without waiting in
        between (see :meth:`EslClient.api_then_bgapi`): their answers and the job's result."""
        return await self._run(
            lambda client: client.api_then_bgapi(apis, command, timeout_s),
            f"bgapi {command.split(' ', 1)[0]}",
            timeout_s,
        )

    async def _run(self, job: Callable[[EslClient], Any], name: str, timeout_s: float) -> Any:
        client = self._client
        if client is None or not client.alive or not self._thread.running:
            raise NotConnected(f"no event socket link to {self._address} ({self.last_error})")
        try:
            future = self._thread.submit(lambda: job(client))
        except RuntimeError:  # the thread ended between the check and the submit
            raise NotConnected(f"no event socket link to {self._address} (thread ended)") from None
        # The gevent side has its own deadline; this one only guards against a stalled thread.
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout_s + 1.0)
        except TimeoutError:
            raise CommandTimeout(name, timeout_s) from None

    def mark_healthy(self) -> None:
        """The current connection answered real work (the adapter's resync): when it ends, the
        next reconnect starts the backoff afresh, as after a link that stayed up a while. A
        FreeSWITCH that accepts and drops at once never gets here, so it is still not
        hammered; a healthy link lost several times in a row is not left down for 30 s."""
        self._healthy = True

    def drop(self, reason: str = "dropped on request") -> None:
        """Close the current connection as if it had failed; the link reconnects."""
        if self._thread.running:
            self._thread.call(lambda: self._drop(reason))

    async def close(self) -> None:
        self._closing = True
        if self._thread.running:
            done = self._thread.submit(self._shutdown)
            try:
                await asyncio.wait_for(asyncio.wrap_future(done), 5.0)
            except (TimeoutError, RuntimeError) as exc:
                log.warning("ESL: shutdown incomplete: %r", exc)
        # Waited for through an event, not a worker thread (asyncio's default executor would
        # keep one alive after us).
        self._thread.request_stop()
        if self._thread_done is not None:
            try:
                await asyncio.wait_for(self._thread_done.wait(), 5.0)
            except TimeoutError:
                log.warning("ESL: the gevent thread did not end within 5 s")
                return
        # The thread has only its return left: this join is immediate.
        self._thread.stop(timeout=1.0)

    @property
    def _address(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    def _post(self, fn: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:
            pass  # the loop closed between the check and the call

    # gevent side -----------------------------------------------------------------------------

    def _drop(self, reason: str) -> None:
        client = self._client
        if client is not None:
            self._drop_reason = reason
            client.closed_reason = reason
            gevent.spawn(client.shutdown, reason)

    def _shutdown(self) -> None:
        client = self._client
        if client is not None and client.alive:
            try:
                client.request("exit", 1.0)
            except PbxError:
                pass
        if self._wake is not None:
            self._wake.set()
        if client is not None:
            client.shutdown("closed")
        supervisor = self._supervisor
        if supervisor is not None:
            supervisor.join(timeout=3.0)
            if not supervisor.dead:
                supervisor.kill(block=True, timeout=1.0)

    def _supervise(self) -> None:
        attempt = 0
        while not self._closing:
            client = EslClient(self.settings, self._forward)
            try:
                client.connect()
                client.subscribe(self.settings.events, self.settings.command_timeout)
            except AuthenticationFailed as exc:
                self.refused = exc
                self.last_error = str(exc)
                client.shutdown(str(exc))
            except (PbxError, OSError) as exc:
                self.last_error = str(exc)
                client.shutdown(str(exc))
            else:
                self.refused = None
                self.connects += 1
                up_since = time.monotonic()
                self._healthy = False
                self._client = client
                self._drop_reason = ""
                self._post(self._on_up)
                reason = self._watch(client)
                self._client = None
                client.shutdown(reason)
                self.malformed_events += client.malformed
                self.last_error = reason
                if self._closing:
                    break
                self._post(self._on_down, reason)
                # Only a link that stayed up a while or did real work (mark_healthy) resets
                # the backoff: a FreeSWITCH that accepts and drops at once is not hammered.
                if self._healthy or time.monotonic() - up_since >= STABLE_LINK_S:
                    attempt = 0
            if self._closing:
                break
            delay = backoff(attempt, self.settings.reconnect_initial, self.settings.reconnect_max)
            attempt += 1
            log.info(
                "ESL: no link to %s (%s); reconnecting in %.2f s",
                self._address,
                self.last_error,
                delay,
            )
            if self._wake is not None:
                self._wake.wait(timeout=delay)

    def _watch(self, client: EslClient) -> str:
        """Wait (timed, never a bare wait) until the connection ends; return why it did."""
        greenlet = client._receive_events_greenlet
        assert greenlet is not None
        while True:
            greenlet.join(timeout=0.25)
            if self._closing:
                return "closed"
            if self._drop_reason:
                return self._drop_reason
            if greenlet.dead or not client.connected:
                return client.closed_reason or "FreeSWITCH closed the event socket"
            if time.monotonic() - client.last_rx > self.settings.idle_timeout:
                return f"nothing from FreeSWITCH for {self.settings.idle_timeout:g} s"

    def _supervisor_ended(self, supervisor: gevent.Greenlet) -> None:
        """The supervisor returns only when the link closes; any other end (an exception, a
        kill) would leave the link down for good: log it and start a new one (hub callback)."""
        if self._closing or supervisor is not self._supervisor:
            return
        exc = supervisor.exception
        log.error(
            "ESL: the link supervisor ended unexpectedly (%r); starting it again",
            exc,
            exc_info=(type(exc), exc, exc.__traceback__) if exc is not None else None,
        )
        self.restarts += 1
        client, self._client = self._client, None
        if client is not None:
            gevent.spawn(client.shutdown, "link supervisor ended")
            self._post(self._on_down, "link supervisor ended")
        self._spawn_supervisor()

    def _thread_exited(self, thread: GeventThread) -> None:
        """Last call in the ending gevent thread (its hub is gone already)."""
        if self._closing or thread.stop_requested:
            self._post(self._thread_ended, thread, "")
            return
        client, self._client = self._client, None
        if client is not None:
            client.abandon()
        self._post(self._thread_ended, thread, "up" if client is not None else "")

    def _thread_ended(self, thread: GeventThread, was: str) -> None:
        """On the asyncio loop: a thread that ended while the link is open is replaced, so the
        link keeps reconnecting for the life of the process."""
        if thread is not self._thread:
            return
        if self._closing or thread.stop_requested:
            if self._thread_done is not None:
                self._thread_done.set()
            return
        log.error(
            "ESL: the gevent thread ended unexpectedly (%r); starting a new one", thread.error
        )
        self.restarts += 1
        if was == "up":
            self._on_down("event socket thread ended")
        self._supervisor = None
        self._wake = None
        self._thread = GeventThread(on_exit=self._thread_exited)
        try:
            self._thread.start()
            self._thread.submit(self._spawn_supervisor).result(5.0)
        except (RuntimeError, concurrent.futures.TimeoutError) as exc:
            log.error("ESL: the new gevent thread did not start: %r", exc)

    def _forward(self, event: EslEvent) -> None:
        # Events cross to asyncio in batches: one loop wake-up for all the events read while
        # the previous batch waited, instead of one per event.
        self.events_received += 1
        with self._outbox_lock:
            self._outbox.append(event)
            first = len(self._outbox) == 1
        if first:
            self._post(self._deliver)

    def _deliver(self) -> None:
        with self._outbox_lock:
            batch, self._outbox = self._outbox, []
        for event in batch:
            self._on_event(event)
