"""The engine of the simulated PBX: channels, snapshots, events, dialplan execution, hangups.

Events come from the same places as in Asterisk: every channel change is published as a new
snapshot and the difference to the previous snapshot yields Newchannel / Newstate / Newexten /
NewCallerid / NewConnectedLine, in that order (manager_channels.c). Other events quote the last
published snapshot, as Asterisk's channel blobs do.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from pbx.sim import bridge as bridges
from pbx.sim.ami import events as ev
from pbx.sim.ami.events import Event
from pbx.sim.channel import Channel, Snapshot, State
from pbx.sim.dialplan_port import Dialplan, Expander
from pbx.sim.functions import BUILTINS, FUNCTIONS
from pbx.sim.sounds import Sounds

if TYPE_CHECKING:
    from pbx.sim.apps import Application
    from pbx.sim.bridge import Bridge
    from pbx.sim.endpoints import Endpoints

log = logging.getLogger(__name__)

NORMAL_CLEARING = 16

AgiRunner = Callable[["Pbx", Channel, str, list[str]], Awaitable[str]]
Listener = Callable[[Event], None]


class Interrupted(Exception):
    """An application was woken by a Redirect or a hangup."""


class Pbx:
    def __init__(
        self,
        dialplan: Dialplan,
        expander: Expander,
        *,
        globals_override: Mapping[str, str] | None = None,
        time_scale: float = 1.0,
        clock: Callable[[], float] = time.time,
        endpoints: Endpoints | None = None,
        agi: AgiRunner | None = None,
    ) -> None:
        from pbx.sim.apps import default_applications

        self.dialplan = dialplan
        self._expander = expander
        self.globals: dict[str, str] = dict(dialplan.globals)
        self.globals.update(globals_override or {})
        self.time_scale = time_scale
        self.clock = clock
        self.started = clock()
        self.endpoints = endpoints
        self.agi = agi
        self.apps: dict[str, Application] = default_applications()
        self.channels: dict[str, Channel] = {}
        self.bridges: dict[str, Bridge] = {}
        self._listeners: list[Listener] = []
        self._seq: dict[str, itertools.count[int]] = defaultdict(itertools.count)
        self._uid = itertools.count(1)
        self.calls_total = 0
        self.sounds = Sounds()

    # ----------------------------------------------------------------- events

    def listen(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def emit(self, event: Event) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # one bad listener must not stop the others or the call
                log.exception("event listener failed on %s", event.name)

    def publish(self, chan: Channel) -> Snapshot:
        new = chan.take_snapshot()
        old = chan.snapshot
        chan.snapshot = new
        if old is None:
            self.emit(ev.newchannel(new))
            return new
        if old.state != new.state:
            self.emit(ev.newstate(new))
        if new.appl and (
            not old.appl
            or (old.context, old.exten, old.priority) != (new.context, new.exten, new.priority)
        ):
            self.emit(ev.newexten(new))
        if (old.caller_num, old.caller_name) != (new.caller_num, new.caller_name):
            self.emit(ev.newcallerid(new))
        if (old.connected_num, old.connected_name) != (new.connected_num, new.connected_name):
            self.emit(ev.newconnectedline(new))
        return new

    def device_state(self, device: str, state: str) -> None:
        # Asterisk raises device states from a task processor, after the change that caused them.
        asyncio.get_running_loop().call_soon(self.emit, ev.device_state(device, state))

    # --------------------------------------------------------------- channels

    def new_uniqueid(self) -> str:
        return f"{int(self.clock())}.{next(self._uid)}"

    def new_channel(
        self,
        tech: str,
        resource: str,
        *,
        state: State = State.DOWN,
        context: str = "default",
        exten: str = "s",
        priority: int = 1,
        uniqueid: str | None = None,
        linkedid: str | None = None,
        caller: tuple[str, str] = ("", ""),
        suffix: str = "",
        name: str | None = None,
        publish: bool = True,
    ) -> Channel:
        if name is None:
            name = f"{tech}/{resource}-{next(self._seq[tech]):08x}{suffix}"
        uid = uniqueid or self.new_uniqueid()
        chan = Channel(
            name=name,
            tech=tech,
            resource=resource,
            uniqueid=uid,
            linkedid=linkedid or uid,
            created=self.clock(),
            state=state,
            caller_num=caller[0],
            caller_name=caller[1],
            context=context,
            exten=exten,
            priority=priority,
        )
        self.channels[name] = chan
        if publish:
            self.publish(chan)
        return chan

    def find(self, name: str) -> Channel | None:
        """A live channel by name or, failing that, by Uniqueid: Asterisk's
        ast_channel_get_by_name (Redirect, Hangup, Getvar, Setvar, Status...) does both."""
        chan = self.channels.get(name)
        if chan is None and name:
            # A linear search, as Asterisk's own fallback; names are the common case.
            chan = next((c for c in self.channels.values() if c.uniqueid == name), None)
        if chan is None or chan.hung_up:
            return None
        return chan

    def find_prefix(self, prefix: str) -> list[Channel]:
        """Live channels whose name starts with `prefix` followed by '-' (ChanSpy's match)."""
        return [
            c
            for name, c in self.channels.items()
            if not c.hung_up and (name == prefix or name.startswith(prefix + "-"))
        ]

    def set_state(self, chan: Channel, state: State) -> None:
        if chan.state == state or chan.hung_up:
            return
        chan.state = state
        self.publish(chan)
        if state == State.UP:
            self.device_state(chan.device, "INUSE")
            chan.answered.set()
        elif state == State.RINGING:
            self.device_state(chan.device, "RINGING")
            dialler = chan.dialed_by
            if dialler is not None and dialler.snapshot is not None and not chan.answered.is_set():
                # app_dial passes the leg's ringing on to AMI (ast_channel_publish_dial).
                self.emit(
                    ev.dial_state(dialler.snapshot, chan.snapshot or self.publish(chan), "RINGING")
                )

    def answer(self, chan: Channel) -> None:
        if chan.state == State.UP or chan.hung_up:
            return
        self.set_state(chan, State.UP)
        peer = chan.peer
        if peer is not None and chan.name.endswith(";2"):
            # Answering the ;2 half of a Local pair answers the ;1 half's caller side.
            self.answer(peer)

    # -------------------------------------------------------------- variables

    def set_var(self, chan: Channel, name: str, value: str, *, event: bool = True) -> None:
        base = name.lstrip("_")
        if not base:
            return
        chan.variables[base] = value
        if name.startswith("__"):
            chan.inheritable[base] = "__"
        elif name.startswith("_"):
            chan.inheritable[base] = "_"
        if event and chan.snapshot is not None:
            self.emit(ev.varset(chan.snapshot, name, value))

    def set_global(self, name: str, value: str) -> None:
        """A global variable, announced as Asterisk does (a VarSet naming no channel)."""
        self.globals[name] = value
        self.emit(ev.global_varset(name, value))

    def inherit(self, parent: Channel, child: Channel) -> None:
        """Copy _VAR (one level) and __VAR (every level) to a channel `parent` creates."""
        for base, mark in parent.inheritable.items():
            if base in parent.variables:
                self.set_var(child, "__" + base if mark == "__" else base, parent.variables[base])

    def get_var(self, chan: Channel, name: str) -> str | None:
        if name in chan.variables:
            return chan.variables[name]
        builtin = BUILTINS.get(name)
        if builtin is not None:
            return builtin(chan)
        if name == "EPOCH":
            return str(int(self.clock()))
        return self.globals.get(name)

    def call_function(self, chan: Channel, name: str, args: str) -> str | None:
        fn = FUNCTIONS.get(name.upper())
        if fn is None:
            if name.upper() == "GLOBAL":
                return self.globals.get(args, "")
            if name.upper() == "IMPORT":
                # func_import.c: IMPORT(channel,variable) reads another channel's variable.
                other_name, _, var = args.partition(",")
                other = self.find(other_name.strip())
                if other is None or not var.strip():
                    return ""
                return self.get_var(other, var.strip()) or ""
            return None
        return fn(chan, args)

    def expand(self, chan: Channel, text: str) -> str:
        if "$" not in text:
            return text
        return self._expander(
            text,
            lambda n: self.get_var(chan, n),
            lambda f, a: self.call_function(chan, f, a),
        )

    def dtmf(self, chan: Channel, digit: str, direction: str = "Received", ms: int = 100) -> None:
        """A key press: DTMFBegin now, DTMFEnd after its duration; received digits queue up
        for the application reading them."""
        snap = chan.snapshot
        if snap is None or chan.hung_up:
            return
        self.emit(ev.dtmf(snap, digit, direction))

        def end() -> None:
            if chan.snapshot is not None and not chan.hung_up:
                self.emit(ev.dtmf(chan.snapshot, digit, direction, ms))
                if direction == "Received":
                    chan.dtmf.put_nowait(digit)

        asyncio.get_running_loop().call_later(ms / 1000.0 * self.time_scale, end)

    # ------------------------------------------------------- waiting and flow

    def _stop_flag(self, chan: Channel) -> bool:
        return chan.soft_hangup or chan.hangup_queued or chan.pending_goto is not None

    async def wait(self, chan: Channel, seconds: float | None) -> bool:
        """Sleep in simulated seconds. True when the time ran out, False when woken by a bridge
        change; raises Interrupted on Redirect or hangup."""
        if self._stop_flag(chan):
            raise Interrupted
        chan.interrupt.clear()
        timeout = None if seconds is None else max(0.0, seconds * self.time_scale)
        try:
            await asyncio.wait_for(chan.interrupt.wait(), timeout)
        except TimeoutError:
            return True
        chan.interrupt.clear()
        if self._stop_flag(chan):
            raise Interrupted
        return False

    def wake(self, chan: Channel) -> None:
        chan.interrupt.set()

    def redirect(self, chan: Channel, context: str, exten: str, priority: int) -> None:
        chan.pending_goto = (context, exten, priority)
        self.wake(chan)

    def soft_hangup(self, chan: Channel, cause: int = 0, *, announce: bool = True) -> None:
        """Hang up from inside the PBX (AMI Hangup, Hangup(), a dissolved bridge).

        ``announce=False`` is AMI Hangup: Asterisk 22 only flags the channel there
        (ast_softhangup_nolock publishes nothing); the SoftHangupRequest comes from the end of
        the channel's dialplan run, after what its application reports on the way out (a
        ChanSpyStop, say)."""
        if chan.hung_up or chan.soft_hangup:
            return
        if cause:
            chan.hangupcause = cause
        chan.soft_hangup = True
        chan.hangup_flag.set()
        if not announce:
            chan.hangup_unannounced = True
        elif chan.snapshot is not None:
            self.emit(ev.hangup_request(chan.snapshot, chan.hangupcause, soft=True))
        self.wake(chan)

    def hang_up_dialled(self, chan: Channel, cause: int | None = None) -> None:
        """app_dial letting go of a leg it rang (hanguptree): ast_hangup() straight away, so no
        SoftHangupRequest; the leg keeps its own cause (0 after ringing) unless one is given."""
        if chan.hung_up:
            return
        if cause is not None:
            chan.hangupcause = cause
        chan.cause_as_is = True
        chan.soft_hangup = True
        chan.hangup_flag.set()
        self.wake(chan)

    def far_end_hangup(self, chan: Channel) -> None:
        """The phone or caller on a PJSIP channel sent BYE: chan_pjsip queues the hangup with
        no cause of its own, so the channel keeps the one it has (16 once app_dial connected
        it, else 0: HangupRequest without Cause, Hangup "Unknown"), as Asterisk 22 reports."""
        if chan.hung_up or chan.soft_hangup or chan.hangup_queued:
            return
        chan.cause_as_is = True
        chan.hangup_queued = True
        chan.hangup_flag.set()
        if chan.snapshot is not None:
            self.emit(ev.hangup_request(chan.snapshot, chan.hangupcause or None, soft=False))
        self.wake(chan)

    def queue_hangup(self, chan: Channel, cause: int = NORMAL_CLEARING) -> None:
        """The far end went away (a BYE, the other half of a Local pair)."""
        if chan.hung_up or chan.soft_hangup or chan.hangup_queued:
            return
        if cause:
            chan.hangupcause = cause
        chan.hangup_queued = True
        chan.hangup_flag.set()
        if chan.snapshot is not None:
            self.emit(ev.hangup_request(chan.snapshot, cause, soft=False))
        self.wake(chan)

    def destroy(self, chan: Channel) -> None:
        """Final hangup: leave the bridge, tell the Local peer, emit Hangup."""
        if chan.hung_up:
            return
        chan.hung_up = True
        chan.hangup_flag.set()
        if chan.bridge is not None:
            bridges.leave(self, chan)
        peer = chan.peer
        cause = chan.hangupcause or NORMAL_CLEARING
        if peer is not None and not peer.hung_up:
            self.queue_hangup(peer, cause)
        if chan.cause_as_is:
            cause = chan.hangupcause
        if chan.snapshot is not None:
            self.emit(ev.hangup(chan.snapshot, cause))
        self.channels.pop(chan.name, None)
        if chan.state == State.UP:
            self.device_state(chan.device, "NOT_INUSE")
        if chan.remote is not None and chan.remote is not asyncio.current_task():
            chan.remote.cancel()
        for spy in list(chan.spied_by):
            self.wake(spy)
        chan.gone.set()

    # ------------------------------------------------------ dialplan execution

    def start(self, chan: Channel, coro: Awaitable[Any] | None = None) -> asyncio.Task[Any]:
        """Give `chan` an owner task; the channel is destroyed when that task ends."""
        chan.task = asyncio.get_running_loop().create_task(
            self._own(chan, coro if coro is not None else self.run_dialplan(chan))
        )
        return chan.task

    async def _own(self, chan: Channel, coro: Awaitable[Any]) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("channel %s failed", chan.name)
        finally:
            # A channel taken over by another owner (Bridge) lives on.
            if chan.task is None or chan.task is asyncio.current_task():
                if chan.hangup_unannounced and not chan.hung_up and chan.snapshot is not None:
                    # pbx.c's ast_softhangup() as the run ends (AMI Hangup published none).
                    self.emit(ev.hangup_request(chan.snapshot, chan.hangupcause, soft=True))
                self.destroy(chan)

    async def hold_until_hangup(self, chan: Channel) -> None:
        """Owner of a channel with no dialplan (a dialled leg); a Redirect gives it one."""
        while True:
            try:
                await self.wait(chan, None)
            except Interrupted:
                if chan.pending_goto is not None and not (chan.soft_hangup or chan.hangup_queued):
                    if chan.bridge is not None:
                        bridges.leave(self, chan)
                    await self.run_dialplan(chan)
                return

    async def run_dialplan(self, chan: Channel) -> None:
        while not chan.hung_up:
            if chan.pending_goto is not None:
                chan.context, chan.exten, chan.priority = chan.pending_goto
                chan.pending_goto = None
            if chan.hangup_queued and not chan.soft_hangup:
                # A queued hangup is seen by the channel thread, which then hangs up softly.
                chan.soft_hangup = True
                if chan.snapshot is not None:
                    self.emit(
                        ev.hangup_request(chan.snapshot, chan.hangupcause or NORMAL_CLEARING, True)
                    )
            if chan.soft_hangup:
                return
            found = self.dialplan.lookup(chan.context, chan.exten, chan.priority, chan.caller_num)
            if found is None:
                if chan.priority == 1:
                    log.warning(
                        "Channel '%s' sent to invalid extension: context,exten,priority=%s,%s,%d",
                        chan.name,
                        chan.context,
                        chan.exten,
                        chan.priority,
                    )
                return
            app_name, raw = found
            app = self.apps.get(app_name.lower())
            if app is None:
                log.error(
                    "No application '%s' for extension (%s, %s, %d); hanging up %s",
                    app_name,
                    chan.context,
                    chan.exten,
                    chan.priority,
                    chan.name,
                )
                return
            args = self.expand(chan, raw)
            chan.appl, chan.data = app.name, args
            self.publish(chan)
            try:
                outcome = await app.run(self, chan, args)
            except Interrupted:
                continue
            if outcome == "hangup":
                return
            if outcome != "goto":
                chan.priority += 1

    def goto(self, chan: Channel, target: str) -> bool:
        """Apply a Goto target `[[context,]exten,]priority` (priority may be a label)."""
        parts = [p.strip() for p in target.split(",")]
        if not parts or not parts[-1]:
            return False
        if len(parts) == 1:
            context, exten, prio = chan.context, chan.exten, parts[0]
        elif len(parts) == 2:
            context, exten, prio = chan.context, parts[0], parts[1]
        else:
            context, exten, prio = parts[0], parts[1], parts[2]
        if prio.lstrip("+-").isdigit():
            number = int(prio)
            if prio[0] in "+-":
                number = chan.priority + number
        else:
            label = self.dialplan.find_label(context, exten, prio)
            if label is None:
                log.warning("Priority '%s' must be a number > 0, or valid label", prio)
                return False
            number = label
        chan.context, chan.exten, chan.priority = context, exten, number
        return True

    def run_app(self, chan: Channel, name: str, args: str) -> Awaitable[str | None]:
        app = self.apps.get(name.lower())
        if app is None:
            raise KeyError(name)
        chan.appl, chan.data = app.name, args
        self.publish(chan)
        return app.run(self, chan, args)
