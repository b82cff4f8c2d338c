"""What an IVR run hands back to the ACD, and the steps it reports on the way."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field


class OutcomeKind(enum.StrEnum):
    QUEUE = "queue"
    TRANSFER = "transfer"
    CALLBACK = "callback"
    VOICEMAIL = "voicemail"
    HANGUP = "hangup"  # the script ended the call
    CALLER_HUNG_UP = "caller_hung_up"
    FAILED = "failed"  # the PBX refused a command or the script ran away: route by fallback


@dataclass(frozen=True)
class IvrOutcome:
    kind: OutcomeKind
    script: str
    node: str  # the node where the run ended
    attributes: Mapping[str, str] = field(default_factory=dict)
    language: str = ""
    queue: str | None = None  # QUEUE and CALLBACK
    skills: Mapping[str, int] = field(default_factory=dict)
    priority: int = 0
    extension: str | None = None  # TRANSFER
    context: str | None = None
    callback_number: str | None = None
    mailbox: str | None = None
    csat_score: int | None = None  # scripts with a survey: the caller's score, when given
    reason: str = ""
    path: tuple[str, ...] = ()  # nodes visited, in order


@dataclass(frozen=True)
class IvrEvent:
    """One step, for the interaction's event log. ``kind``: start, node, prompt, input,
    invalid, timeout, fallback, set, branch, hours, lookup, language, outcome."""

    call_id: str
    script: str
    seq: int
    node: str
    kind: str
    detail: Mapping[str, str] = field(default_factory=dict)
