"""Port commands -> FreeSWITCH API command lines, and API answers -> typed errors. Pure.

Every value that goes on the wire is checked first: a line break would end the ESL command and
start another, a space splits an API argument, and ``, { } ' ;`` split channel variable lists.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Mapping

from pbx.port import (
    HangupCause,
    InvalidArgument,
    NoSuchCall,
    PbxError,
    SpyMode,
    check_dialplan_target,
    check_endpoint,
    check_timeout,
    check_variable_name,
)

_UUID = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]*$")
_CALLER_ID = re.compile(r'^\s*(?:"(?P<qname>[^"]*)"|(?P<name>[^<]*?))\s*<(?P<num>[^>]*)>\s*$')
# How FreeSWITCH's API commands say that a channel does not exist (any more).
_GONE = ("no such channel", "cannot locate session", "does not exist")
UNSET = "_undef_"  # uuid_getvar's answer for a variable that is not set

# eavesdrop's channel variables (mod_dptools): a "whisper" flag sends the supervisor's audio to
# that leg only, "bridge" flags make a full three-way; the target's own leg is the "aleg".
SPY_VARIABLES: dict[SpyMode, dict[str, str]] = {
    SpyMode.LISTEN: {"eavesdrop_whisper_aleg": "false", "eavesdrop_whisper_bleg": "false"},
    SpyMode.WHISPER: {"eavesdrop_whisper_aleg": "true", "eavesdrop_whisper_bleg": "false"},
    SpyMode.BARGE: {"eavesdrop_bridge_aleg": "true", "eavesdrop_bridge_bleg": "true"},
}


def call_uuid(call_id: object) -> str:
    if not isinstance(call_id, str) or not _UUID.match(call_id):
        raise InvalidArgument("call_id", call_id, "a FreeSWITCH channel UUID")
    return call_id


def word(field_name: str, value: object) -> str:
    """One API argument: non-empty, no whitespace."""
    if not isinstance(value, str) or not value or any(c.isspace() for c in value):
        raise InvalidArgument(field_name, value, "a non-empty value without spaces")
    return value


def text(field_name: str, value: object, forbidden: str = "") -> str:
    """A value that ends an API line (may hold spaces, never a line break)."""
    if not isinstance(value, str) or "\n" in value or "\r" in value:
        raise InvalidArgument(field_name, value, "text without line breaks")
    bad = [c for c in forbidden if c in value]
    if bad:
        raise InvalidArgument(field_name, value, f"text without {' '.join(bad)}")
    return value


def variable_value(name: str, value: object) -> str:
    """A value inside ``{a=b,c=d}``; spaces are quoted, separators refused."""
    checked = text(name, value, forbidden=",{}'")
    return f"'{checked}'" if " " in checked else checked


def ring_seconds(ring_timeout: float) -> str:
    check_timeout(ring_timeout, "ring_timeout")
    return str(max(1, math.ceil(ring_timeout)))


def split_caller_id(caller_id: str) -> tuple[str, str]:
    """``"Name" <number>`` / ``Name <number>`` / ``number`` -> (name, number)."""
    text("caller_id", caller_id)
    match = _CALLER_ID.match(caller_id)
    if match:
        name = match.group("qname") if match.group("qname") is not None else match.group("name")
        return (name or "").strip(), match.group("num").strip()
    return "", caller_id.strip()


def transfer(uid: str, context: str, exten: str, dialplan: str, priority: int = 1) -> str:
    check_dialplan_target(context, exten, priority)
    if priority != 1:
        raise InvalidArgument("priority", priority, "1 (FreeSWITCH extensions have no priorities)")
    return f"uuid_transfer {call_uuid(uid)} {exten} {word('dialplan', dialplan)} {context}"


def setvar(uid: str, name: str, value: str) -> str:
    check_variable_name(name)
    return f"uuid_setvar {call_uuid(uid)} {name} {text(name, value)}"


def setvars(uid: str, variables: dict[str, str]) -> list[str]:
    """Lines setting every variable: one ``uuid_setvar_multi <uuid> a=1;b=2`` for the values
    it can carry, one ``uuid_setvar`` for each other. mod_commands splits its argument on
    spaces (exactly two words, or -USAGE) and then on ``;`` and ``=``, so a value with a space
    or ``;`` goes alone; an empty value unsets, as with ``uuid_setvar``."""
    together: list[str] = []
    lines: list[str] = []
    for name, value in variables.items():
        check_variable_name(name)
        checked = text(name, value)
        if any(c in checked for c in " ;="):
            lines.append(setvar(uid, name, checked))
        else:
            together.append(f"{name}={checked}")
    if len(together) == 1:
        name, _, value = together[0].partition("=")
        lines.insert(0, setvar(uid, name, value))
    elif together:
        lines.insert(0, f"uuid_setvar_multi {call_uuid(uid)} {';'.join(together)}")
    return lines


def getvar(uid: str, name: str) -> str:
    return f"uuid_getvar {call_uuid(uid)} {check_variable_name(name)}"


def kill(uid: str, cause: int) -> str:
    name = HangupCause.from_code(cause).freeswitch_name
    return f"uuid_kill {call_uuid(uid)} {name}"


def record_start(uid: str, filename: str) -> str:
    return f"uuid_record {call_uuid(uid)} start {word('filename', filename)}"


def record_stop(uid: str) -> str:
    return f"uuid_record {call_uuid(uid)} stop all"


def originate(
    *,
    endpoint: str,
    context: str,
    exten: str,
    dialplan: str,
    priority: int = 1,
    call_id: str | None = None,
    ring_timeout: float = 30.0,
    caller_id: str | None = None,
    variables: Mapping[str, str] | None = None,
) -> tuple[str, str]:
    """The ``originate`` line and the UUID the new channel will have."""
    check_endpoint(endpoint)
    if any(c in endpoint for c in "{}'"):
        raise InvalidArgument("endpoint", endpoint, "a dial string without { } '")
    check_dialplan_target(context, exten, priority)
    if priority != 1:
        raise InvalidArgument("priority", priority, "1 (FreeSWITCH extensions have no priorities)")
    uid = call_uuid(call_id) if call_id is not None else str(uuid.uuid4())
    channel_vars: dict[str, str] = {
        "origination_uuid": uid,
        "originate_timeout": ring_seconds(ring_timeout),
    }
    if caller_id:
        name, number = split_caller_id(caller_id)
        if number:
            channel_vars["origination_caller_id_number"] = number
        if name:
            channel_vars["origination_caller_id_name"] = name
    for name, value in (variables or {}).items():
        check_variable_name(name)
        channel_vars[name] = value
    spec = ",".join(f"{k}={variable_value(k, v)}" for k, v in channel_vars.items())
    line = f"originate {{{spec}}}{endpoint} {exten} {word('dialplan', dialplan)} {context}"
    return line, uid


def bridge(uid: str, other: str) -> str:
    return f"uuid_bridge {call_uuid(uid)} {call_uuid(other)}"


def broadcast(uid: str, path: str, leg: str) -> str:
    if leg not in ("aleg", "bleg", "both"):
        raise InvalidArgument("leg", leg, "aleg, bleg or both")
    return f"uuid_broadcast {call_uuid(uid)} {word('path', path)} {leg}"


def show_channels() -> str:
    return "show channels as json"


def show_bridged_calls() -> str:
    return "show bridged_calls as json"


def exists(uid: str) -> str:
    return f"uuid_exists {call_uuid(uid)}"


def check_answer(answer: str, command: str, call_id: str | None = None) -> str:
    """Raise for a ``-ERR`` answer (``NoSuchCall`` when the channel is gone); return the rest."""
    stripped = answer.strip()
    if not stripped.startswith("-ERR"):
        return stripped
    detail = stripped[4:].strip() or "refused"
    if call_id is not None and any(marker in detail.lower() for marker in _GONE):
        raise NoSuchCall(call_id, detail)
    raise PbxError(f"{command}: FreeSWITCH answered -ERR {detail}")


def job_cause(answer: str) -> HangupCause:
    """The hang-up cause in a failed originate's answer (``-ERR USER_BUSY``)."""
    words = answer.strip().split()
    name = words[1] if len(words) > 1 and words[0] == "-ERR" else "NONE"
    cause = HangupCause.from_freeswitch(name)
    return cause if cause.code else HangupCause(0, name)
