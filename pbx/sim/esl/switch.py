"""The FreeSWITCH core as the event socket sees it: sessions, their state machine, loopback
pairs, originate, hangup, transfer, bridge and DTMF, raising events in the captured order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid as uuidlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from pbx.sim.esl.channel import ChannelVariables, FsChannel
from pbx.sim.esl.dialplan import XmlDialplan, expand
from pbx.sim.esl.events import Event, Headers, Identity
from pbx.sim.esl.legs import ChannelLegs, OriginateError, UserEndpoint

__all__ = ["Bridge", "FsSwitch", "OriginateError", "SwitchConfig", "UserEndpoint"]

log = logging.getLogger("pbx.sim.esl")

Listener = Callable[[Event], None]
App = Callable[["FsSwitch", FsChannel, str], Awaitable[str]]

Q850 = {
    "NORMAL_CLEARING": 16,
    "USER_BUSY": 17,
    "NO_USER_RESPONSE": 18,
    "NO_ANSWER": 19,
    "CALL_REJECTED": 21,
    "NO_ROUTE_DESTINATION": 3,
    "UNALLOCATED_NUMBER": 1,
    "ORIGINATOR_CANCEL": 487,
    "LOSE_RACE": 502,
    "USER_NOT_REGISTERED": 606,
    "SUBSCRIBER_ABSENT": 20,
    "NORMAL_TEMPORARY_FAILURE": 41,
    "DESTINATION_OUT_OF_ORDER": 27,
    "INVALID_NUMBER_FORMAT": 28,
    "MANAGER_REQUEST": 503,
}


@dataclass
class SwitchConfig:
    time_scale: float = 1.0
    domain: str = "127.0.0.1"
    hostname: str = "sim"


@dataclass
class Bridge:
    a: FsChannel
    b: FsChannel
    done: asyncio.Event = field(default_factory=asyncio.Event)
    # Made by the `bridge` application: when the called leg leaves, the caller goes on with
    # its dialplan (hangup_after_bridge, transfer_after_bridge) instead of being hung up.
    by_app: bool = False


class FsSwitch(ChannelLegs):
    def __init__(
        self,
        dialplan: XmlDialplan,
        config: SwitchConfig | None = None,
        identity: Identity | None = None,
    ) -> None:
        self.config = config or SwitchConfig()
        self.identity = identity or Identity(hostname=self.config.hostname)
        self.dialplan = dialplan
        self.channels: dict[str, FsChannel] = {}
        self.listeners: list[Listener] = []
        self.users: dict[str, UserEndpoint] = {}
        # Carrier calls (sofia/gateway/<gateway>/<number>): who answers, by number (others
        # answer at once), and every number dialled, in order.
        self.gateway_callees: dict[str, UserEndpoint] = {}
        self.gateway_dialled: list[str] = []
        self.globals: dict[str, str] = {
            "domain": self.config.domain,
            "domain_name": self.config.domain,
        }
        self.started = time.time()
        self.sessions_since_startup = 0
        self.peak = 0
        self.bridges: dict[str, Bridge] = {}
        self._tasks: set[asyncio.Task[object]] = set()
        from pbx.sim.esl import apps  # the applications call back into the switch

        self.apps: dict[str, App] = dict(apps.APPLICATIONS)

    # -- events ---------------------------------------------------------------------------
    def fire(self, ev: Event) -> None:
        for listener in list(self.listeners):
            try:
                listener(ev)
            except Exception:  # a broken listener must not stop the switch
                log.exception("event listener failed")

    def chan_event(
        self,
        name: str,
        ch: FsChannel,
        prefix: Sequence[tuple[str, str]] = (),
        suffix: Sequence[tuple[str, str]] = (),
        variables: bool = True,
        key: str | None = None,
    ) -> None:
        ev = self.identity.channel_event(name, ch, prefix=prefix, suffix=suffix, key=key)
        if not variables:
            ev.headers = [h for h in ev.headers if not h[0].startswith("variable_")]
        self.fire(ev)

    def spawn(self, coro: Awaitable[object]) -> asyncio.Task[object]:
        task: asyncio.Task[object] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds * self.config.time_scale))

    # -- state machine --------------------------------------------------------------------
    @staticmethod
    def bridge_ids(br: Bridge) -> Headers:
        return [("Bridge-A-Unique-ID", br.a.uuid), ("Bridge-B-Unique-ID", br.b.uuid)]

    def set_state(self, ch: FsChannel, state: str) -> None:
        ch.state = state
        self.chan_event("CHANNEL_STATE", ch, variables=False)

    def set_callstate(self, ch: FsChannel, callstate: str) -> None:
        original = ch.callstate
        ch.callstate = callstate
        self.chan_event(
            "CHANNEL_CALLSTATE",
            ch,
            prefix=[
                ("Original-Channel-Call-State", original),
                ("Channel-Call-State-Number", str(ch.callstate_number())),
            ],
            variables=False,
        )

    def new_channel(
        self,
        name: str,
        direction: str,
        *,
        uuid: str | None = None,
        cid_name: str = "",
        cid_number: str = "",
        destination: str = "",
        context: str = "default",
        source: str = "mod_loopback",
        callee_name: str = "",
        callee_number: str = "",
    ) -> FsChannel:
        self.sessions_since_startup += 1
        now = self.identity.now_us()
        ch = FsChannel(
            uuid=uuid or str(uuidlib.uuid4()),
            name=name,
            direction=direction,
            session_id=self.sessions_since_startup,
            created_us=now,
        )
        ch.profile.update(
            {
                "Direction": direction,
                "Logical-Direction": direction,
                "Dialplan": "xml",
                "Caller-ID-Name": cid_name,
                "Caller-ID-Number": cid_number,
                "Orig-Caller-ID-Name": cid_name,
                "Orig-Caller-ID-Number": cid_number,
                "Callee-ID-Name": callee_name,
                "Callee-ID-Number": callee_number,
                "ANI": cid_number,
                "Destination-Number": destination,
                "Unique-ID": ch.uuid,
                "Source": source,
                "Context": context,
                "Channel-Name": name,
                "Profile-Index": "1",
                "Profile-Created-Time": str(now),
                "Channel-Created-Time": str(now),
                "Screen-Bit": "true",
                "Privacy-Hide-Name": "false",
                "Privacy-Hide-Number": "false",
            }
        )
        self.channels[ch.uuid] = ch
        self.peak = max(self.peak, len(self.channels))
        return ch

    def init(self, ch: FsChannel, outgoing: bool = False) -> None:
        """CS_INIT and CHANNEL_CREATE; a leg FreeSWITCH places itself (originate, bridge) is
        announced by CHANNEL_OUTGOING before and CHANNEL_ORIGINATE after (flows 02 and 10),
        both carrying Other-Leg-* of the caller when a bridge made it."""
        if outgoing:
            self.chan_event("CHANNEL_OUTGOING", ch)
        self.set_state(ch, "CS_INIT")
        self.chan_event("CHANNEL_CREATE", ch)
        if outgoing:
            self.chan_event("CHANNEL_ORIGINATE", ch)

    async def run_dialplan(self, ch: FsChannel) -> None:
        """CS_ROUTING -> CS_EXECUTE, then the matched actions; transfers start over."""
        first = True
        while ch.up:
            if first:
                # The inbound leg gets its call_uuid when it first routes.
                ch.set_var("call_uuid", ch.get_var("call_uuid") or ch.uuid)
            if first and ch.direction == "inbound" and ch.callstate == "DOWN":
                ch.state = "CS_ROUTING"
                self.set_callstate(ch, "RINGING")
            first = False
            self.set_state(ch, "CS_ROUTING")
            context = ch.profile.get("Context", "default")
            # ${var} in a condition reads the variable case-blind, as the channel does.
            fields = ChannelVariables(
                {
                    "destination_number": ch.profile.get("Destination-Number", ""),
                    "caller_id_number": ch.profile.get("Caller-ID-Number", ""),
                    "caller_id_name": ch.profile.get("Caller-ID-Name", ""),
                    "context": context,
                    "uuid": ch.uuid,
                    **self.globals,
                    **ch.variables,
                }
            )
            actions = self.dialplan.hunt(context, fields)
            ch.hit_dialplan = True
            self.set_state(ch, "CS_EXECUTE")
            if not actions:
                await self.hangup(ch, "NO_ROUTE_DESTINATION")
                return
            for action, groups in actions:
                if not ch.up or ch.transfer_to or ch.ending:
                    break
                # ${name}: the channel's variable, else its caller profile, else a global.
                scope = ChannelVariables({**self.globals, **ch.profile_variables(), **ch.variables})
                data = expand(action.data, scope, groups)
                await self.execute(ch, action.application, data)
            if await self.redirected(ch):
                continue
            if ch.up:
                await self.hangup(ch, "NORMAL_CLEARING")
            return

    async def redirected(self, ch: FsChannel) -> bool:
        """After an interrupted application: serve a pending uuid_bridge; True when a
        transfer needs routing again."""
        while ch.up and ch.transfer_to:
            if ch.transfer_to[0] == "__bridge__":
                ch.transfer_to = None
                ch.interrupt.clear()
                await self._uuid_bridged(ch)
                continue
            self._apply_transfer(ch)
            return True
        return False

    async def _uuid_bridged(self, ch: FsChannel) -> None:
        br = self.bridges.get(ch.uuid)
        if br is None:
            return
        other = br.b if br.a is ch else br.a
        for state in ("CS_HIBERNATE", "CS_RESET", "CS_SOFT_EXECUTE"):
            self.set_state(ch, state)
        await asyncio.sleep(0)  # both legs reach CS_SOFT_EXECUTE before either executes
        # Not a dialplan execution: no Application-UUID and no EXECUTE_COMPLETE follow.
        self.chan_event(
            "CHANNEL_EXECUTE",
            ch,
            suffix=[("Application", "uuid_bridge"), ("Application-Data", other.uuid)],
            key="uuid_bridge:a" if br.a is ch else "uuid_bridge:b",
        )
        now = str(self.identity.now_us())
        ch.profile["Channel-Bridged-Time"] = now
        if br.a is ch:
            self.chan_event("CHANNEL_BRIDGE", ch, prefix=self.bridge_ids(br))
        else:
            self.set_state(ch, "CS_CONSUME_MEDIA")
            self.set_state(ch, "CS_EXCHANGE_MEDIA")
        waits = {asyncio.ensure_future(br.done.wait()), asyncio.ensure_future(ch.interrupt.wait())}
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()

    def _apply_transfer(self, ch: FsChannel) -> None:
        ch.transfer_to = None
        ch.interrupt.clear()

    async def execute(self, ch: FsChannel, app: str, data: str, event_uuid: str = "") -> str:
        """One application with CHANNEL_EXECUTE / CHANNEL_EXECUTE_COMPLETE around it."""
        fn = self.apps.get(app)
        ch.set_var("current_application_data", data or None)
        ch.set_var("current_application", app)
        ch.set_var("current_application_response", None)
        app_uuid = event_uuid or str(uuidlib.uuid4())
        head: Headers = [("Application", app)]
        if data:
            head.append(("Application-Data", data))
        self.chan_event("CHANNEL_EXECUTE", ch, suffix=[*head, ("Application-UUID", app_uuid)])
        if fn is None:
            log.error("%s: invalid application %r", ch.name, app)
            response = "_none_"
            await self.hangup(ch, "DESTINATION_OUT_OF_ORDER")
        else:
            await fn(self, ch, data)
            # As in switch_core_session_exec, the response is whatever the application (or
            # one nested in it) left in current_application_response.
            response = ch.get_var("current_application_response") or "_none_"
        self.chan_event(
            "CHANNEL_EXECUTE_COMPLETE",
            ch,
            suffix=[*head, ("Application-Response", response), ("Application-UUID", app_uuid)],
        )
        ch.last_app = (app, data)
        return response

    async def wait(self, ch: FsChannel, seconds: float | None) -> bool:
        """Sleep until `seconds` pass (None: forever) or the channel is interrupted.
        Returns True when interrupted (hangup, transfer, bridge, break)."""
        if ch.interrupt.is_set():
            return True
        timeout = None if seconds is None else max(0.0, seconds * self.config.time_scale)
        try:
            await asyncio.wait_for(ch.interrupt.wait(), timeout)
            return True
        except TimeoutError:
            return False

    # -- answer / hangup ------------------------------------------------------------------
    def answer(self, ch: FsChannel) -> None:
        if ch.answered.is_set() or not ch.up:
            return
        peer = ch.loopback_peer
        if peer is not None and not peer.answered.is_set() and peer.up:
            # The loopback A-leg learns of the answer first, then the B-leg itself.
            self._mark_answered(peer)
        self._mark_answered(ch)

    def _mark_answered(self, ch: FsChannel) -> None:
        if ch.sip and ch.direction == "inbound" and ch.callstate != "EARLY":
            # SIP negotiates media first: codecs appear and the call is EARLY, then answered.
            ch.codec = True
            ch.answer_state = "early"
            self.set_callstate(ch, "EARLY")
        ch.codec = True
        now = str(self.identity.now_us())
        ch.answered_us = int(now)
        ch.profile["Channel-Answered-Time"] = now
        ch.answer_state = "answered"
        self.chan_event("CHANNEL_ANSWER", ch)
        self.set_callstate(ch, "ACTIVE")
        ch.set_var("endpoint_disposition", "ANSWER")
        ch.answered.set()

    async def hangup(self, ch: FsChannel, cause: str = "NORMAL_CLEARING") -> bool:
        """Mark the channel hung up (CHANNEL_HANGUP now); its task finishes the teardown."""
        if not ch.up:
            return False
        ch.hangup_cause = cause
        ch.answer_state = "hangup"
        ch.profile["Channel-Hangup-Time"] = str(self.identity.now_us())
        self.chan_event("CHANNEL_HANGUP", ch)
        ch.interrupt.set()
        if ch.task is None:
            self.spawn(self.teardown(ch))
        return True

    async def teardown(self, ch: FsChannel) -> None:
        """CS_HANGUP, CS_REPORTING (HANGUP_COMPLETE), CS_DESTROY, in the core's order."""
        if ch.gone.is_set():
            return
        ch.gone.set()
        bridge = self.bridges.pop(ch.uuid, None)
        if bridge is not None:
            other = bridge.b if bridge.a is ch else bridge.a
            self.bridges.pop(other.uuid, None)
            if other.up and not (bridge.by_app and ch is bridge.b):
                await self.hangup(other, "NORMAL_CLEARING")
            if bridge.a is ch:
                self.chan_event("CHANNEL_UNBRIDGE", ch, prefix=self.bridge_ids(bridge))
            bridge.done.set()
        self.set_state(ch, "CS_HANGUP")
        self.set_callstate(ch, "HANGUP")
        peer = ch.loopback_peer
        if peer is not None and peer.up:
            if bridge is not None and peer.task is not None:
                # A bridged loopback leg going away first breaks its partner out of what it
                # runs; the partner then ends its dialplan and hangs up by itself.
                peer.ending = True
                peer.interrupt.set()
            else:
                await self.hangup(peer, ch.hangup_cause)
        self.set_state(ch, "CS_REPORTING")
        self._final_variables(ch)
        self.chan_event("CHANNEL_HANGUP_COMPLETE", ch, prefix=[("Hangup-Cause", ch.hangup_cause)])
        await asyncio.sleep(0)
        self.chan_event("CHANNEL_DESTROY", ch)
        self.set_state(ch, "CS_DESTROY")
        self.channels.pop(ch.uuid, None)

    def _final_variables(self, ch: FsChannel) -> None:
        created = ch.created_us
        end = int(ch.profile.get("Channel-Hangup-Time") or self.identity.now_us())
        answered = ch.answered_us
        bill = end - answered if answered else 0
        dur = end - created

        def stamp(us: int) -> str:
            return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(us / 1e6))

        ch.set_var("hangup_cause", ch.hangup_cause)
        ch.set_var("hangup_cause_q850", str(Q850.get(ch.hangup_cause, 16)))
        ch.set_var("start_stamp", stamp(created))
        if answered:
            ch.set_var("answer_stamp", stamp(answered))
        ch.set_var("end_stamp", stamp(end))
        ch.set_var("start_epoch", str(created // 1_000_000))
        ch.set_var("start_uepoch", str(created))
        ch.set_var("answer_epoch", str(answered // 1_000_000))
        ch.set_var("answer_uepoch", str(answered))
        ch.set_var("end_epoch", str(end // 1_000_000))
        ch.set_var("end_uepoch", str(end))
        if ch.last_app:
            ch.set_var("last_app", ch.last_app[0])
            ch.set_var("last_arg", ch.last_app[1] or None)
        ch.set_var("duration", str(dur // 1_000_000))
        ch.set_var("billsec", str(bill // 1_000_000))
        ch.set_var("mduration", str(dur // 1000))
        ch.set_var("billmsec", str(bill // 1000))
        ch.set_var("uduration", str(dur))
        ch.set_var("billusec", str(bill))

    # -- channel creation -----------------------------------------------------------------
    async def _life(self, ch: FsChannel, body: Callable[[FsChannel], Awaitable[None]]) -> None:
        try:
            await body(ch)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s: channel task failed", ch.name)
            await self.hangup(ch, "DESTINATION_OUT_OF_ORDER")
        finally:
            if ch.up:
                await self.hangup(ch, "NORMAL_CLEARING")
            await self.teardown(ch)

    def adopt(self, ch: FsChannel, body: Callable[[FsChannel], Awaitable[None]]) -> None:
        """Give an answered outgoing leg its own task (the `&app()` or dialplan it runs)."""
        ch.task = self.spawn(self._life(ch, body))  # type: ignore[assignment]

    def transfer(self, ch: FsChannel, dest: str, context: str) -> None:
        """A new caller profile at once (index+1, RDNIS, Transfer-Source), then the channel
        leaves what it runs and routes again."""
        p = ch.profile
        now = self.identity.now_us()
        p["Transfer-Source"] = f"{now // 1_000_000}:{uuidlib.uuid4()}:bl_xfer:{dest}/{context}/XML"
        p["RDNIS"] = p.get("Destination-Number", "")
        p["Destination-Number"] = dest
        p["Context"] = context
        p["Profile-Index"] = str(int(p.get("Profile-Index", "1")) + 1)
        p["Profile-Created-Time"] = str(now)
        p["Channel-Transfer-Time"] = str(now)
        ch.transfer_to = (dest, context)
        ch.interrupt.set()

    async def bridge(self, a: FsChannel, b: FsChannel) -> None:
        """uuid_bridge: both legs leave what they run and are bridged, `a` the originator."""
        bridge = Bridge(a, b)
        now = self.identity.now_us() // 1_000_000
        for ch in (a, b):
            ch.profile["Transfer-Source"] = (
                f"{now}:{uuidlib.uuid4()}:uuid_br:{(b if ch is a else a).uuid}"
            )
            ch.transfer_to = ("__bridge__", "")
            ch.interrupt.set()
        self.bridges[a.uuid] = bridge
        self.bridges[b.uuid] = bridge
        # Other-Type names the role of the *other* leg.
        a.other, a.other_type = b, "originatee"
        b.other, b.other_type = a, "originator"

    def send_dtmf(self, ch: FsChannel, digits: str, duration_ms: int, source: str) -> None:
        """Queue DTMF for `ch`; each digit is raised as a DTMF event when it is read."""
        self.spawn(self._dtmf(ch, digits, duration_ms, source))

    async def _dtmf(self, ch: FsChannel, digits: str, duration_ms: int, source: str) -> None:
        for d in digits:
            if not ch.up:
                return
            self.chan_event(
                "DTMF",
                ch,
                suffix=[
                    ("DTMF-Digit", d),
                    ("DTMF-Duration", str(duration_ms * 8)),
                    ("DTMF-Source", source),
                ],
                variables=False,
            )
            ch.dtmf.put_nowait((d, duration_ms))
            await self.sleep(duration_ms / 1000 + 0.05)

    async def close(self) -> None:
        for ch in list(self.channels.values()):
            await self.hangup(ch, "MANAGER_REQUEST")
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(BaseException):
                await t
