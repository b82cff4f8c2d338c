"""Creating channels: loopback pairs, registered users and gateways for originate and bridge,
and calls arriving from a SIP trunk. Mixed into FsSwitch, whose state machine they use."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pbx.sim.esl import execute_on
from pbx.sim.esl.channel import FsChannel

if TYPE_CHECKING:
    from pbx.sim.esl.switch import FsSwitch

__all__ = ["ChannelLegs", "OriginateError", "UserEndpoint"]


class OriginateError(Exception):
    """Originate failed; the message is the hangup cause FreeSWITCH reports (-ERR <cause>)."""


@dataclass
class UserEndpoint:
    """A registered SIP user (`user/1001`): how the simulated phone behaves when called."""

    user: str
    domain: str
    contact: str
    registered: bool = True
    answer_delay: float = 1.0
    no_answer: bool = False
    talk_time: float | None = None  # None: the phone stays up until the other side hangs up
    callgroup: str = ""  # the directory's callgroup, reported on registration
    on_call: Callable[[FsChannel], None] | None = None


class ChannelLegs:
    """The leg-making half of FsSwitch (see switch.py for the state machine)."""

    async def originate_leg(
        self: FsSwitch,
        dial: str,
        variables: dict[str, str],
        *,
        caller: FsChannel | None = None,
        ring_seconds: float = 60.0,
    ) -> FsChannel:
        """Create the outgoing leg for `dial` and wait for it to answer (or raise)."""
        kind, _, rest = dial.partition("/")
        cid_name = variables.get("origination_caller_id_name", "")
        cid_number = variables.get("origination_caller_id_number", "")
        if caller is None and not cid_number:
            cid_number = "0000000000"  # FreeSWITCH's default caller id number
        if caller is not None:
            cid_name = cid_name or caller.profile.get("Caller-ID-Name", "")
            cid_number = cid_number or caller.profile.get("Caller-ID-Number", "")
        if kind == "loopback":
            parts = rest.split("/")
            exten = parts[0]
            context = parts[1] if len(parts) > 1 and parts[1] else "default"
            return await self._loopback(
                exten, context, variables, cid_name, cid_number, ring_seconds
            )
        if kind == "user":
            user, _, domain = rest.partition("@")
            return await self._call_user(
                user, domain, variables, cid_name, cid_number, ring_seconds, caller
            )
        if kind == "error":
            raise OriginateError(rest or "CHANNEL_UNACCEPTABLE")
        if kind == "sofia" and rest.startswith("gateway/"):
            # No SIP here: a gateway leg is simulated as a phone (gateway_callees, or
            # one that answers at once).
            gw_user = rest.split("/", 2)[-1]
            self.gateway_dialled.append(gw_user)
            ep = self.gateway_callees.get(gw_user) or UserEndpoint(
                gw_user, "gateway", f"sofia/{rest}", answer_delay=0.5
            )
            return await self._ring(
                ep, f"sofia/{rest}", variables, cid_name, cid_number, ring_seconds
            )
        raise OriginateError("CHAN_NOT_IMPLEMENTED")

    async def _loopback(
        self: FsSwitch,
        exten: str,
        context: str,
        variables: dict[str, str],
        cid_name: str,
        cid_number: str,
        ring_seconds: float,
    ) -> FsChannel:
        a = self.new_channel(
            f"loopback/{exten}-a",
            "outbound",
            uuid=variables.get("origination_uuid"),
            cid_name=cid_name,
            cid_number=cid_number,
            destination=exten,
            context=context,
            callee_name="Outbound Call",
            callee_number=context,
        )
        a.set_var("direction", "outbound")
        a.set_var("is_outbound", "true")
        a.set_var("session_id", str(a.session_id))
        for k in ("read_codec", "write_codec"):
            a.set_var(k, "L16")
            a.set_var(k.replace("codec", "rate"), "8000")
        a.set_var("channel_name", a.name)
        a.set_var("uuid", a.uuid)
        a.set_var("call_uuid", a.uuid)
        for k, v in variables.items():
            a.set_var(k, v)
        a.set_var("originate_early_media", "true")
        a.set_var("originate_endpoint", "loopback")
        b = self.new_channel(
            f"loopback/{exten}-b",
            "inbound",
            cid_name=cid_name,
            cid_number=cid_number,
            destination=exten,
            context=context,
            callee_name="Outbound Call",
            callee_number=context,
        )
        a.loopback_peer, b.loopback_peer = b, a
        a.set_var("other_loopback_leg_uuid", b.uuid)
        a.set_var("loopback_leg", "A")
        b.set_var("direction", "inbound")
        b.set_var("uuid", b.uuid)
        b.set_var("session_id", str(b.session_id))
        b.set_var("channel_name", b.name)
        for k in ("read_codec", "write_codec"):
            b.set_var(k, "L16")
            b.set_var(k.replace("codec", "rate"), "8000")
        for k, v in variables.items():
            if k.startswith("origination_") or k == "loopback_bowout":
                b.set_var(k, v)
        b.set_var("other_loopback_leg_uuid", a.uuid)
        b.set_var("loopback_leg", "B")
        b.set_var("is_loopback", None)
        self.init(a, outgoing=True)
        self.set_state(a, "CS_ROUTING")
        self.set_state(a, "CS_CONSUME_MEDIA")
        self.init(b)
        b.task = self.spawn(self._life(b, self.run_dialplan))  # type: ignore[assignment]
        await self._await_answer(a, ring_seconds)
        return a

    async def _await_answer(self: FsSwitch, a: FsChannel, ring_seconds: float) -> None:
        answered = asyncio.ensure_future(a.answered.wait())
        gone = asyncio.ensure_future(a.interrupt.wait())
        try:
            await asyncio.wait(
                {answered, gone},
                timeout=ring_seconds * self.config.time_scale,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            answered.cancel()
            gone.cancel()
        if a.answered.is_set() and a.up:
            # The leg's execute_on_answer runs as it answers, before the bridge or originate
            # waiting for that answer goes on.
            await execute_on.run(self, a, execute_on.EXECUTE_ON_ANSWER)
            return
        cause = a.hangup_cause or "NO_ANSWER"
        if a.up:
            await self.hangup(a, cause)
        if a.task is None:
            await self.teardown(a)
        raise OriginateError(cause)

    async def _call_user(
        self: FsSwitch,
        user: str,
        domain: str,
        variables: dict[str, str],
        cid_name: str,
        cid_number: str,
        ring_seconds: float,
        caller: FsChannel | None = None,
    ) -> FsChannel:
        ep = self.users.get(user)
        if ep is None:
            raise OriginateError("SUBSCRIBER_ABSENT")
        if not ep.registered:
            raise OriginateError("USER_NOT_REGISTERED")
        # user/ resolves the contact through the sofia_contact API, which raises its API event.
        self.fire(self.identity.api_event("sofia_contact", f"*/{user}@{domain or ep.domain}"))
        # The leg is named after the registered contact: sofia/internal/1001@127.0.0.1:5097.
        contact = ep.contact.removeprefix("sofia/internal/").removeprefix("sip:")
        return await self._ring(
            ep,
            f"sofia/internal/{contact}",
            variables,
            cid_name,
            cid_number,
            ring_seconds,
            caller,
        )

    async def _ring(
        self: FsSwitch,
        ep: UserEndpoint,
        name: str,
        variables: dict[str, str],
        cid_name: str,
        cid_number: str,
        ring_seconds: float,
        caller: FsChannel | None = None,
    ) -> FsChannel:
        ch = self.new_channel(
            name,
            "outbound",
            uuid=variables.get("origination_uuid"),
            cid_name=cid_name,
            cid_number=cid_number,
            destination=ep.user,
            source="mod_sofia",
        )
        ch.set_var("direction", "outbound")
        ch.set_var("is_outbound", "true")
        ch.set_var("uuid", ch.uuid)
        ch.set_var("call_uuid", ch.uuid)
        ch.set_var("session_id", str(ch.session_id))
        ch.set_var("channel_name", ch.name)
        for k, v in variables.items():
            ch.set_var(k, v)
        ch.set_var("dialed_user", ep.user)
        ch.set_var("dialed_domain", ep.domain)
        if caller is not None:
            # A leg made by `bridge` carries its caller's profile from the start.
            ch.other, ch.other_type = caller, "originator"
        ch.sip = ch.name.startswith("sofia/")
        if ch.sip:
            # Media is negotiated when the phone answers; until then no codec.
            ch.codec = False
            ch.presence_id = f"{ep.user}@{ep.domain}"
            ch.profile["Callee-ID-Name"] = "Outbound Call"
            ch.profile["Callee-ID-Number"] = ep.user
            if caller is not None:
                ch.profile["Username"] = caller.profile.get("Username", "")
                ch.profile["Network-Addr"] = caller.profile.get("Network-Addr", "")
        self.init(ch, outgoing=True)
        self.set_state(ch, "CS_ROUTING")
        self.set_state(ch, "CS_CONSUME_MEDIA")
        self.set_callstate(ch, "RINGING")

        async def phone() -> None:
            if ep.no_answer:
                return
            await self.sleep(ep.answer_delay)
            if ch.up:
                self._mark_answered(ch)
                if ep.on_call is not None:
                    ep.on_call(ch)
                if ep.talk_time is not None:
                    await self.sleep(ep.talk_time)
                    await self.hangup(ch, "NORMAL_CLEARING")

        self.spawn(phone())
        await self._await_answer(ch, ring_seconds)
        return ch

    def inbound_call(
        self: FsSwitch,
        destination: str,
        caller: str,
        context: str = "public",
        caller_name: str = "",
        profile: str = "external",
        host: str = "",
    ) -> FsChannel:
        """A SIP call arriving on a sofia profile (sofia/<profile>/<caller>@<host>), shaped
        like flow 09: CS_NEW first, early media when answered, then the dialplan."""
        host = host or self.config.domain
        ip = host.split(":")[0]
        ch = self.new_channel(
            f"sofia/{profile}/{caller}@{host}",
            "inbound",
            cid_name=caller_name or caller,
            cid_number=caller,
            destination=destination,
            context=context,
            source="mod_sofia",
        )
        ch.sip, ch.codec, ch.hit_dialplan = True, False, True
        ch.presence_id = f"{caller}@{ip}"
        ch.profile["Username"] = caller
        ch.profile["Network-Addr"] = ip
        self.set_state(ch, "CS_NEW")
        for k, v in (
            ("direction", "inbound"),
            ("uuid", ch.uuid),
            ("call_uuid", ch.uuid),
            ("session_id", str(ch.session_id)),
            ("sip_from_user", caller),
            ("sip_from_host", ip),
            ("channel_name", ch.name),
            ("sip_network_ip", ip),
            ("sofia_profile_name", profile),
            ("sip_to_user", destination),
            ("sip_req_user", destination),
            ("presence_id", ch.presence_id),
        ):
            ch.set_var(k, v)
        self.init(ch)
        ch.task = self.spawn(self._life(ch, self.run_dialplan))  # type: ignore[assignment]
        return ch

    def flip_cid(self: FsSwitch, a: FsChannel) -> None:
        """After answer, the originating A-leg swaps caller and callee (channel_cid_flipped)."""
        p = a.profile
        a.set_var("pre_transfer_caller_id_name", p.get("Caller-ID-Name") or None)
        a.set_var("pre_transfer_caller_id_number", p.get("Caller-ID-Number") or None)
        p["Caller-ID-Name"], p["Callee-ID-Name"] = (
            p.get("Callee-ID-Name", ""),
            p.get("Caller-ID-Name", ""),
        )
        p["Caller-ID-Number"], p["Callee-ID-Number"] = (
            p.get("Callee-ID-Number", ""),
            p.get("Caller-ID-Number", ""),
        )
        a.set_var("channel_cid_flipped", "yes")
        a.set_var("call_uuid", a.uuid)

    # -- commands the API uses ------------------------------------------------------------
