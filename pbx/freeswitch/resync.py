"""Reading back what FreeSWITCH has alive (``show channels as json``, ``show bridged_calls as
json``) and reconciling it with what the adapter believed. Pure functions over API answers.

``show channels`` is fed by the core's SQL queue: it lags the events and can still list channels
that are gone (flow 02 of the captures lists the previous flow's call and not the parked one).
So the adapter checks every row and every remembered channel with ``uuid_exists`` /
``uuid_getvar`` before trusting it, and adds channels known from this link's events.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import replace

from pbx.freeswitch.channels import call_state, is_ringing
from pbx.port import HangupCause, LiveCall, PbxError

log = logging.getLogger(__name__)

# The cause given to a call that vanished while the link was down: FreeSWITCH no longer says why.
VANISHED = HangupCause(0, "Unknown (hung up while the event socket link was down)")
# A caller an agent answered (the dialplan's served mark says so) that ended while the link was
# down.
SERVED_VANISHED = HangupCause(
    16, "Normal Clearing (answered; ended while the event socket link was down)"
)


def _rows(answer: str, command: str) -> list[dict[str, object]]:
    text = answer.strip()
    if text.startswith("-ERR"):
        raise PbxError(f"{command}: FreeSWITCH answered {text}")
    try:
        data = json.loads(text) if text else {}
    except ValueError as exc:
        raise PbxError(f"{command}: the answer is not JSON ({exc}): {text[:80]!r}") from None
    if not isinstance(data, dict):
        raise PbxError(f"{command}: expected a JSON object, got {type(data).__name__}")
    rows = data.get("rows", [])
    if not isinstance(rows, list):
        raise PbxError(f"{command}: 'rows' is not a list")
    return [row for row in rows if isinstance(row, dict)]


def _field(row: Mapping[str, object], name: str) -> str:
    value = row.get(name)
    return "" if value is None else str(value)


def listed_channels(answer: str, now: float) -> list[LiveCall]:
    """The rows of ``show channels as json`` as live calls (``now``: epoch seconds)."""
    calls: list[LiveCall] = []
    for row in _rows(answer, "show channels"):
        uid = _field(row, "uuid")
        if not uid:
            log.warning("ESL: show channels row without uuid ignored: %r", row)
            continue
        try:
            created = float(_field(row, "created_epoch") or now)
        except ValueError:
            created = now
        calls.append(
            LiveCall(
                call_id=uid,
                channel=_field(row, "name"),
                state=call_state(_field(row, "callstate")),
                caller_num=_field(row, "cid_num"),
                caller_name=_field(row, "cid_name"),
                called_num=_field(row, "dest"),
                context=_field(row, "context"),
                exten=_field(row, "dest"),
                application=_field(row, "application"),
                duration_s=max(0.0, now - created),
                ringing=is_ringing(_field(row, "application"), None),
            )
        )
    return calls


def bridged_pairs(answer: str) -> dict[str, str]:
    """``show bridged_calls as json``: each leg -> the other."""
    pairs: dict[str, str] = {}
    for row in _rows(answer, "show bridged_calls"):
        a, b = _field(row, "uuid"), _field(row, "b_uuid")
        if a and b:
            pairs[a] = b
            pairs[b] = a
    return pairs


def merge(
    listed: list[LiveCall],
    alive: Mapping[str, bool],
    variables: Mapping[str, Mapping[str, str]],
    bridged: Mapping[str, str],
) -> list[LiveCall]:
    """Listed calls FreeSWITCH confirmed alive, with their variables and bridge partner."""
    out: list[LiveCall] = []
    for call in listed:
        if not alive.get(call.call_id, False):
            continue
        partner = bridged.get(call.call_id, call.bridged_with)
        out.append(
            replace(
                call,
                bridged_with=partner,
                variables={**call.variables, **variables.get(call.call_id, {})},
                ringing=is_ringing(call.application, partner),
            )
        )
    return out
