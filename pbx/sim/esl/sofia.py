"""What mod_sofia shows on the event socket when a phone registers, unregisters or expires.

There is no SIP here: a "registration" is the simulator marking a user endpoint reachable.
register/unregister headers follow flow 10 of the captures; sofia::expire was not captured and
follows sofia_reg.c's expire callback.
"""

from __future__ import annotations

import itertools

from pbx.sim.esl.events import Headers
from pbx.sim.esl.switch import FsSwitch, UserEndpoint

_call_ids = itertools.count(1)


def _directory(user: UserEndpoint) -> Headers:
    h: Headers = [
        ("sip_number_alias", user.user),
        ("sip_auth_username", user.user),
        ("sip_auth_realm", user.domain),
        ("number_alias", user.user),
        ("user_name", user.user),
        ("domain_name", user.domain),
        ("record_stereo", "true"),
        ("transfer_fallback_extension", "operator"),
        ("toll_allow", "domestic,international,local"),
        ("accountcode", user.user),
        ("user_context", "default"),
    ]
    h += [
        ("effective_caller_id_name", f"Extension {user.user}"),
        ("effective_caller_id_number", user.user),
    ]
    if user.callgroup:
        h.append(("callgroup", user.callgroup))
    return h


def _contact(user: UserEndpoint) -> str:
    uri = user.contact.removeprefix("sofia/internal/")
    return f'"" <{uri}>'


def register(sw: FsSwitch, user: UserEndpoint, expires: int = 300) -> None:
    user.registered = True
    sw.users[user.user] = user
    call_id = f"{next(_call_ids)}-sim@{sw.config.domain}"
    sw.fire(
        sw.identity.custom(
            "sofia::register",
            [
                ("profile-name", "internal"),
                ("from-user", user.user),
                ("from-host", user.domain),
                ("presence-hosts", user.domain),
                ("contact", _contact(user)),
                ("call-id", call_id),
                ("rpid", "unknown"),
                ("status", "Registered(UDP)"),
                ("expires", str(expires)),
                ("to-user", user.user),
                ("to-host", user.domain),
                ("network-ip", "127.0.0.1"),
                ("network-port", "5060"),
                ("username", user.user),
                ("realm", user.domain),
                ("user-agent", "cc-sim"),
                *_directory(user),
            ],
        )
    )


def unregister(sw: FsSwitch, name: str, expired: bool = False) -> None:
    user = sw.users.get(name)
    if user is None:
        return
    user.registered = False
    call_id = f"{next(_call_ids)}-sim@{sw.config.domain}"
    if expired:
        sw.fire(
            sw.identity.custom(
                "sofia::expire",
                [
                    ("profile-name", "internal"),
                    ("user", user.user),
                    ("host", user.domain),
                    ("contact", _contact(user)),
                    ("call-id", call_id),
                    ("rpid", "unknown"),
                    ("status", "Registered(UDP)"),
                    ("expires", "0"),
                    ("user-agent", "cc-sim"),
                    ("network-ip", "127.0.0.1"),
                    ("network-port", "5060"),
                ],
            )
        )
        return
    sw.fire(
        sw.identity.custom(
            "sofia::unregister",
            [
                ("profile-name", "internal"),
                ("username", user.user),
                ("from-user", user.user),
                ("from-host", user.domain),
                ("contact", _contact(user)),
                ("call-id", call_id),
                ("rpid", "unknown"),
                ("realm", user.domain),
                ("network-ip", "127.0.0.1"),
                ("network-port", "5060"),
                ("user-agent", "cc-sim"),
                ("expires", "0"),
                *_directory(user),
            ],
        )
    )
