"""Port commands -> AMI actions. Pure builders: validate, then return the action's headers.

Every value that reaches the wire is checked here, before anything is sent: a CR or LF inside a
header value would let a caller-controlled string inject headers or whole actions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from pbx.port import (
    InvalidArgument,
    SpyMode,
    check_dialplan_target,
    check_endpoint,
    check_timeout,
    check_variable_name,
)

Action = dict[str, Any]

# ChanSpy options per mode: q = no beep/announcement; w = whisper to the agent; B = barge
# (talk to both); E = leave when the spied-on call hangs up, so the supervisor is not stuck.
SPY_OPTIONS: Mapping[SpyMode, str] = {
    SpyMode.LISTEN: "qE",
    SpyMode.WHISPER: "qwE",
    SpyMode.BARGE: "qBE",
}


def clean(field: str, value: object, *, allow_comma: bool = True) -> str:
    """A header value: text without CR/LF (and without ',' where Asterisk splits on it)."""
    if not isinstance(value, str):
        raise InvalidArgument(field, value, "text")
    if "\r" in value or "\n" in value or "\0" in value:
        raise InvalidArgument(field, value, "text without CR, LF or NUL")
    if not allow_comma and "," in value:
        raise InvalidArgument(field, value, "text without ',' (Asterisk splits the list on it)")
    return value


def redirect(channel: str, context: str, exten: str, priority: int = 1) -> Action:
    check_dialplan_target(context, exten, priority)
    return {
        "Action": "Redirect",
        "Channel": clean("channel", channel),
        "Context": context,
        "Exten": exten,
        "Priority": str(priority),
    }


def hangup(channel: str, cause: int) -> Action:
    if isinstance(cause, bool) or not isinstance(cause, int) or not 0 <= cause <= 127:
        raise InvalidArgument("cause", cause, "an integer Q.850 code 0-127")
    return {"Action": "Hangup", "Channel": clean("channel", channel), "Cause": str(cause)}


def setvar(channel: str, name: str, value: str) -> Action:
    check_variable_name(name)
    return {
        "Action": "Setvar",
        "Channel": clean("channel", channel),
        "Variable": name,
        "Value": clean("value", value),
    }


def getvar(channel: str, name: str) -> Action:
    check_variable_name(name)
    return {"Action": "Getvar", "Channel": clean("channel", channel), "Variable": name}


def get_global(name: str) -> Action:
    """Getvar without a channel reads a global variable (set with ``Set(GLOBAL(...))``)."""
    return {"Action": "Getvar", "Variable": clean("variable", name, allow_comma=False)}


def ring_seconds(ring_timeout: float) -> str:
    """Dial's timeout argument: whole seconds, rounded up so a short timeout still rings."""
    return str(max(1, math.ceil(check_timeout(ring_timeout, "ring_timeout"))))


def originate(
    *,
    endpoint: str,
    context: str,
    exten: str,
    priority: int,
    channel_id: str,
    ring_timeout: float,
    caller_id: str | None = None,
    variables: Mapping[str, str] | None = None,
) -> Action:
    """Async Originate whose channel gets ``channel_id`` as its Uniqueid (Asterisk >= 13)."""
    check_endpoint(endpoint)
    check_dialplan_target(context, exten, priority)
    check_timeout(ring_timeout, "ring_timeout")
    action: Action = {
        "Action": "Originate",
        "Channel": endpoint,
        "Context": context,
        "Exten": exten,
        "Priority": str(priority),
        "Timeout": str(int(ring_timeout * 1000)),
        "Async": "true",
        "ChannelId": clean("channel_id", channel_id),
    }
    if caller_id:
        action["CallerID"] = clean("caller_id", caller_id)
    pairs = []
    for name, value in (variables or {}).items():
        check_variable_name(name)
        pairs.append(f"{name}={clean(f'variables[{name}]', value, allow_comma=False)}")
    if pairs:
        action["Variable"] = pairs  # panoramisk writes one Variable header per item
    return action


def mixmonitor(channel: str, filename: str) -> Action:
    if not filename:
        raise InvalidArgument("filename", filename, "a file name such as calls/abc.wav")
    return {
        "Action": "MixMonitor",
        "Channel": clean("channel", channel),
        "File": clean("filename", filename, allow_comma=False),
    }


def stop_mixmonitor(channel: str) -> Action:
    return {"Action": "StopMixMonitor", "Channel": clean("channel", channel)}


def core_show_channels() -> Action:
    return {"Action": "CoreShowChannels"}
