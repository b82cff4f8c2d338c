"""Argument checks and the JSON form of events, shared by both backends so they agree."""

from __future__ import annotations

import json
import math
from typing import Any

from cc_core.store.live.port import LeaseFence, LiveStateDataError, check_id


def encode_event(channel: str, data: dict[str, Any]) -> str:
    check_id("channel", channel)
    if not isinstance(data, dict):
        raise LiveStateDataError(
            f"event on {channel!r}: got {type(data).__name__}, expected a dict (a JSON object)"
        )
    try:
        # NaN and Infinity are not JSON; other languages' clients would choke on them.
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise LiveStateDataError(
            f"event on {channel!r}: not JSON-serialisable ({exc}); send str, int, float, bool, "
            "None, list and dict only"
        ) from exc


def encode_quality(interaction_id: str, data: dict[str, Any]) -> str:
    """A call's quality figures as stored: a JSON object, checked like an event."""
    check_id("interaction_id", interaction_id)
    if not isinstance(data, dict):
        raise LiveStateDataError(
            f"quality of {interaction_id!r}: got {type(data).__name__}, expected a dict"
        )
    try:
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise LiveStateDataError(
            f"quality of {interaction_id!r}: not JSON-serialisable ({exc})"
        ) from exc


def decode_event(raw: str | bytes) -> dict[str, Any] | None:
    """The event's dict, or None when the payload is not a JSON object (it is then skipped)."""
    try:
        data = json.loads(raw)
    except (TypeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def check_fence(fence: object) -> LeaseFence | None:
    if fence is None or isinstance(fence, LeaseFence):
        return fence
    raise LiveStateDataError(f"fence: got {type(fence).__name__}, expected LeaseFence or None")


def check_transition_args(
    expected_state: str,
    new_state: str,
    reason: str,
    add_interaction: str | None,
    remove_interaction: str | None,
    max_interactions: int | None,
) -> None:
    check_id("expected_state", expected_state)
    check_id("new_state", new_state)
    if not isinstance(reason, str) or not reason.isprintable():
        raise LiveStateDataError(f"reason: got {reason!r}, expected printable text")
    if add_interaction is not None:
        check_id("add_interaction", add_interaction)
    if remove_interaction is not None:
        check_id("remove_interaction", remove_interaction)
    if max_interactions is not None and (
        isinstance(max_interactions, bool)
        or not isinstance(max_interactions, int)
        or max_interactions < 1
    ):
        raise LiveStateDataError(
            f"max_interactions: got {max_interactions!r}, expected an int >= 1 or None"
        )


def check_amount(what: str, by: int) -> int:
    if isinstance(by, bool) or not isinstance(by, int) or by < 0:
        raise LiveStateDataError(f"{what}: got {by!r}, expected an int >= 0")
    return by


def check_since(since: float | None) -> float | None:
    if since is None:
        return None
    if isinstance(since, bool) or not isinstance(since, int | float) or not math.isfinite(since):
        raise LiveStateDataError(f"since: got {since!r}, expected epoch seconds or None")
    return float(since)
