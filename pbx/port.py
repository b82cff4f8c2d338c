"""The PBX port: the one contract ``cc_core`` uses to talk to any PBX.

Three parts, all PBX-neutral:

* normalized events (frozen dataclasses, subclasses of :class:`PbxEvent`) that every adapter
  (Asterisk AMI, FreeSWITCH ESL, the simulator) produces from its own wire protocol;
* commands (:class:`PbxPort`), coroutines that return a result or raise a typed
  :class:`PbxError`, each bounded by a timeout;
* the IVR media session (:class:`MediaSession`) an IVR interpreter drives for one caller.

Pure helpers live here too (hang-up cause table, argument validation, an event fan-out) so every
adapter behaves the same way. This module imports nothing outside the standard library.
"""

from __future__ import annotations

import abc
import asyncio
import enum
import re
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar, runtime_checkable

T = TypeVar("T")

# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class PbxError(Exception):
    """A PBX command failed. Subclasses say why; the message says what was attempted."""


class NoSuchCall(PbxError):
    """The call (or channel) named in a command does not exist (any more) on the PBX."""

    def __init__(self, call_id: str, detail: str = "") -> None:
        self.call_id = call_id
        super().__init__(f"no such call {call_id!r}" + (f": {detail}" if detail else ""))


class CommandTimeout(PbxError):
    """The PBX did not answer a command within its timeout."""

    def __init__(self, command: str, timeout: float) -> None:
        self.command = command
        self.timeout = timeout
        super().__init__(f"{command}: no answer from the PBX within {timeout:g} s")


class NotConnected(PbxError):
    """The port has no live connection to the PBX (never connected, or lost and not back yet)."""


class InvalidArgument(PbxError, ValueError):
    """A command or a collect spec was given a value outside its domain (field and expectation)."""

    def __init__(self, field_name: str, value: object, expected: str) -> None:
        self.field = field_name
        self.value = value
        self.expected = expected
        super().__init__(f"{field_name}={value!r}: expected {expected}")


class CallerHungUp(PbxError):
    """The caller hung up while an IVR media operation was in progress."""

    def __init__(self, call_id: str, cause: HangupCause | None = None) -> None:
        self.call_id = call_id
        self.cause = cause
        super().__init__(
            f"caller on {call_id!r} hung up" + (f" ({cause.code} {cause.text})" if cause else "")
        )


# --------------------------------------------------------------------------------------------
# Hang-up causes (ITU-T Q.850), named as Asterisk's Cause-txt and FreeSWITCH's Hangup-Cause do
# --------------------------------------------------------------------------------------------

# code: (Asterisk text, FreeSWITCH name)
_Q850: dict[int, tuple[str, str]] = {
    0: ("Unknown", "NONE"),
    1: ("Unallocated (unassigned) number", "UNALLOCATED_NUMBER"),
    2: ("No route to specified transmit network", "NO_ROUTE_TRANSIT_NET"),
    3: ("No route to destination", "NO_ROUTE_DESTINATION"),
    6: ("Channel unacceptable", "CHANNEL_UNACCEPTABLE"),
    16: ("Normal Clearing", "NORMAL_CLEARING"),
    17: ("User busy", "USER_BUSY"),
    18: ("No user responding", "NO_USER_RESPONSE"),
    19: ("User alerting, no answer", "NO_ANSWER"),
    20: ("Subscriber absent", "SUBSCRIBER_ABSENT"),
    21: ("Call Rejected", "CALL_REJECTED"),
    22: ("Number changed", "NUMBER_CHANGED"),
    23: ("Redirected to new destination", "REDIRECTION_TO_NEW_DESTINATION"),
    26: ("Answered elsewhere", "PICKED_OFF"),
    27: ("Destination out of order", "DESTINATION_OUT_OF_ORDER"),
    28: ("Invalid number format", "INVALID_NUMBER_FORMAT"),
    29: ("Facility rejected", "FACILITY_REJECTED"),
    31: ("Normal, unspecified", "NORMAL_UNSPECIFIED"),
    34: ("Circuit/channel congestion", "NORMAL_CIRCUIT_CONGESTION"),
    38: ("Network out of order", "NETWORK_OUT_OF_ORDER"),
    41: ("Temporary failure", "NORMAL_TEMPORARY_FAILURE"),
    42: ("Switching equipment congestion", "SWITCH_CONGESTION"),
    44: ("Requested channel not available", "REQUESTED_CHAN_UNAVAIL"),
    50: ("Facility not subscribed", "FACILITY_NOT_SUBSCRIBED"),
    58: ("Bearer capability not available", "BEARERCAPABILITY_NOTAVAIL"),
    65: ("Bearer capability not implemented", "BEARERCAPABILITY_NOTIMPL"),
    66: ("Channel not implemented", "CHAN_NOT_IMPLEMENTED"),
    69: ("Facility not implemented", "FACILITY_NOT_IMPLEMENTED"),
    81: ("Invalid call reference value", "INVALID_CALL_REFERENCE"),
    88: ("Incompatible destination", "INCOMPATIBLE_DESTINATION"),
    95: ("Invalid message unspecified", "INVALID_MSG_UNSPECIFIED"),
    96: ("Mandatory information element is missing", "MANDATORY_IE_MISSING"),
    102: ("Recovery on timer expiry", "RECOVERY_ON_TIMER_EXPIRE"),
    111: ("Protocol error, unspecified", "PROTOCOL_ERROR"),
    127: ("Interworking, unspecified", "INTERWORKING"),
}
_BY_FS_NAME: dict[str, int] = {name: code for code, (_, name) in _Q850.items()}
# FreeSWITCH-only names that still map onto a Q.850 code.
_BY_FS_NAME.update(
    {
        "ORIGINATOR_CANCEL": 16,
        "LOSE_RACE": 26,
        "MANAGER_REQUEST": 16,
        "ALLOTTED_TIMEOUT": 102,
        "MEDIA_TIMEOUT": 102,
        "USER_NOT_REGISTERED": 3,
        "GATEWAY_DOWN": 27,
    }
)


class HangupKind(enum.Enum):
    """What a hang-up means for a contact centre: the ACD reacts to the kind, not the code."""

    NORMAL = "normal"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    REJECTED = "rejected"
    UNREACHABLE = "unreachable"
    CONGESTION = "congestion"
    FAILURE = "failure"


_KIND: dict[int, HangupKind] = {
    16: HangupKind.NORMAL,
    31: HangupKind.NORMAL,
    17: HangupKind.BUSY,
    18: HangupKind.NO_ANSWER,
    19: HangupKind.NO_ANSWER,
    21: HangupKind.REJECTED,
    1: HangupKind.UNREACHABLE,
    3: HangupKind.UNREACHABLE,
    20: HangupKind.UNREACHABLE,
    27: HangupKind.UNREACHABLE,
    34: HangupKind.CONGESTION,
    42: HangupKind.CONGESTION,
    44: HangupKind.CONGESTION,
}


@dataclass(frozen=True, slots=True)
class HangupCause:
    """A Q.850 hang-up cause: ``code`` plus the human text the PBX gave (or the standard one)."""

    code: int
    text: str

    @classmethod
    def from_code(cls, code: int | str, text: str | None = None) -> HangupCause:
        """Build from a numeric code (Asterisk ``Cause:``); unknown codes keep their number."""
        try:
            number = int(code)
        except (TypeError, ValueError):
            raise InvalidArgument("cause", code, "an integer Q.850 code 0-127") from None
        if not 0 <= number <= 127:
            raise InvalidArgument("cause", code, "an integer Q.850 code 0-127")
        if text is None or text == "":
            text = _Q850.get(number, ("Unknown", ""))[0]
        return cls(number, text)

    @classmethod
    def from_freeswitch(cls, name: str) -> HangupCause:
        """Build from a FreeSWITCH ``Hangup-Cause`` name such as ``NORMAL_CLEARING``."""
        code = _BY_FS_NAME.get(name.strip().upper())
        if code is None:
            return cls(0, name)
        return cls(code, _Q850.get(code, ("Unknown", ""))[0])

    @property
    def freeswitch_name(self) -> str:
        return _Q850.get(self.code, ("", "NONE"))[1]

    @property
    def kind(self) -> HangupKind:
        return _KIND.get(self.code, HangupKind.FAILURE)


NORMAL_CLEARING = HangupCause(16, "Normal Clearing")


# --------------------------------------------------------------------------------------------
# Shared value types
# --------------------------------------------------------------------------------------------


class SpyMode(enum.Enum):
    """How a supervisor joins an agent's call."""

    LISTEN = "listen"  # hears both sides, heard by nobody
    WHISPER = "whisper"  # heard by the agent only
    BARGE = "barge"  # heard by both sides


class CallState(enum.Enum):
    DOWN = "down"
    RINGING = "ringing"
    UP = "up"
    BUSY = "busy"


class DialStatus(enum.Enum):
    """How an attempt to ring an agent endpoint ended (Asterisk's DIALSTATUS values)."""

    ANSWER = "ANSWER"
    NOANSWER = "NOANSWER"
    BUSY = "BUSY"
    CHANUNAVAIL = "CHANUNAVAIL"
    CONGESTION = "CONGESTION"
    CANCEL = "CANCEL"


@dataclass(frozen=True, slots=True)
class LiveCall:
    """A call the PBX reports as alive (``CoreShowChannels`` / ``show channels``)."""

    call_id: str
    channel: str
    state: CallState
    caller_num: str = ""
    caller_name: str = ""
    called_num: str = ""
    context: str = ""
    exten: str = ""
    application: str = ""
    bridged_with: str | None = None
    duration_s: float = 0.0
    variables: Mapping[str, str] = field(default_factory=dict)
    # Ringing an agent for us right now (Asterisk: in Dial; FreeSWITCH: in bridge, not yet
    # bridged), so the ACD need not know each PBX's application names.
    ringing: bool = False


# --------------------------------------------------------------------------------------------
# Normalized events
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class PbxEvent:
    """Base of every event a port publishes."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CallEvent(PbxEvent):
    """An event about one call; ``call_id`` is the PBX's id (Asterisk Uniqueid, FS UUID)."""

    call_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CallArrived(CallEvent):
    channel: str
    caller_num: str
    caller_name: str
    called_num: str
    variables: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class CallRinging(CallEvent):
    channel: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CallAnswered(CallEvent):
    channel: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DtmfReceived(CallEvent):
    digit: str
    duration_ms: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class CallBridged(CallEvent):
    other_call_id: str
    bridge_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class CallUnbridged(CallEvent):
    other_call_id: str = ""
    bridge_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class DialEnded(CallEvent):
    """An attempt started by :meth:`PbxPort.connect_agent` finished ringing."""

    endpoint: str
    status: DialStatus


@dataclass(frozen=True, slots=True, kw_only=True)
class CallHungUp(CallEvent):
    cause: HangupCause = NORMAL_CLEARING


@dataclass(frozen=True, slots=True, kw_only=True)
class EndpointRegistered(PbxEvent):
    endpoint: str
    contact: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class EndpointUnregistered(PbxEvent):
    endpoint: str


@dataclass(frozen=True, slots=True, kw_only=True)
class EndpointReachability(PbxEvent):
    """Qualify result for an agent endpoint; ``rtt_ms`` when the PBX measured it."""

    endpoint: str
    reachable: bool
    rtt_ms: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SpyStarted(PbxEvent):
    spy_call_id: str
    target_call_id: str
    mode: SpyMode


@dataclass(frozen=True, slots=True, kw_only=True)
class SpyStopped(PbxEvent):
    spy_call_id: str
    target_call_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionLost(PbxEvent):
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionRestored(PbxEvent):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class Resynced(PbxEvent):
    """After (re)connecting, the port listed what is alive; the ACD re-adopts from this."""

    calls: tuple[LiveCall, ...]


# --------------------------------------------------------------------------------------------
# Argument validation (shared by every adapter so all reject the same input the same way)
# --------------------------------------------------------------------------------------------

_VARIABLE_NAME = re.compile(r"^_{0,2}[A-Za-z][A-Za-z0-9_]*(\([^()]*\))?$")
_DIALPLAN_NAME = re.compile(r"^[^\s,|()]+$")
_ENDPOINT = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*/[^\s,]+$")
DTMF_DIGITS = frozenset("0123456789*#ABCD")


def check_timeout(timeout: float, name: str = "timeout") -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        raise InvalidArgument(name, timeout, "a number of seconds > 0")
    return float(timeout)


def check_variable_name(name: str) -> str:
    """Channel variable or function name (``FOO``, ``__FOO``, ``CALLERID(num)``)."""
    if not isinstance(name, str) or not _VARIABLE_NAME.match(name):
        raise InvalidArgument("variable", name, "a name like FOO, __FOO or FUNC(arg)")
    return name


def check_endpoint(endpoint: str) -> str:
    """Technology/resource, e.g. ``PJSIP/agent1001`` or ``user/1001``."""
    if not isinstance(endpoint, str) or not _ENDPOINT.match(endpoint):
        raise InvalidArgument("endpoint", endpoint, "TECH/resource, e.g. PJSIP/agent1001")
    return endpoint


def check_dialplan_target(context: str, exten: str, priority: int) -> None:
    for label, value in (("context", context), ("exten", exten)):
        if not isinstance(value, str) or not _DIALPLAN_NAME.match(value):
            raise InvalidArgument(label, value, "a non-empty name without spaces, ',' '|' '(' ')'")
    if isinstance(priority, bool) or not isinstance(priority, int) or priority < 1:
        raise InvalidArgument("priority", priority, "an integer >= 1")


@dataclass(frozen=True, slots=True)
class CollectSpec:
    """How to collect digits after prompts: between ``min_digits`` and ``max_digits`` digits,
    ``timeout`` seconds of silence ends collection, ``terminator`` (not included) ends it early."""

    min_digits: int = 1
    max_digits: int = 1
    timeout: float = 5.0
    terminator: str = "#"

    def __post_init__(self) -> None:
        if isinstance(self.min_digits, bool) or not isinstance(self.min_digits, int):
            raise InvalidArgument("min_digits", self.min_digits, "an integer >= 0")
        if isinstance(self.max_digits, bool) or not isinstance(self.max_digits, int):
            raise InvalidArgument("max_digits", self.max_digits, "an integer >= 1")
        if self.min_digits < 0:
            raise InvalidArgument("min_digits", self.min_digits, "an integer >= 0")
        if self.max_digits < max(1, self.min_digits):
            raise InvalidArgument(
                "max_digits", self.max_digits, f"an integer >= max(1, min_digits={self.min_digits})"
            )
        check_timeout(self.timeout)
        if self.terminator and (len(self.terminator) != 1 or self.terminator not in DTMF_DIGITS):
            raise InvalidArgument("terminator", self.terminator, "'' or one DTMF digit")


class CollectEnd(enum.Enum):
    """Why digit collection stopped."""

    TERMINATOR = "terminator"
    MAX_DIGITS = "max_digits"
    TIMEOUT = "timeout"


@dataclass(frozen=True, slots=True)
class CollectResult:
    digits: str
    ended: CollectEnd

    def satisfies(self, spec: CollectSpec) -> bool:
        """True when enough digits came in (a timeout with enough digits still counts)."""
        return spec.min_digits <= len(self.digits) <= spec.max_digits


# --------------------------------------------------------------------------------------------
# Event fan-out
# --------------------------------------------------------------------------------------------


class EventSubscription:
    """One consumer's view of a port's events: an async iterator that never drops an event.

    Ends (``StopAsyncIteration``) after :meth:`close` once the queued events are drained.
    """

    _END = object()

    def __init__(self, hub: EventHub) -> None:
        self._hub = hub
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._closed = False

    def _put(self, event: PbxEvent) -> None:
        if not self._closed:
            self._queue.put_nowait(event)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._hub._detach(self)
            self._queue.put_nowait(self._END)

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def __aiter__(self) -> EventSubscription:
        return self

    async def __anext__(self) -> PbxEvent:
        item = await self._queue.get()
        if item is self._END:
            raise StopAsyncIteration
        assert isinstance(item, PbxEvent)
        return item

    async def __aenter__(self) -> EventSubscription:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


class EventHub:
    """Fan-out used by adapters: ``publish`` from the adapter, ``subscribe`` per consumer."""

    def __init__(self) -> None:
        self._subs: list[EventSubscription] = []

    def subscribe(self) -> EventSubscription:
        sub = EventSubscription(self)
        self._subs.append(sub)
        return sub

    def _detach(self, sub: EventSubscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)

    def publish(self, event: PbxEvent) -> None:
        for sub in list(self._subs):
            sub._put(event)

    def close(self) -> None:
        for sub in list(self._subs):
            sub.close()


# --------------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------------

DEFAULT_COMMAND_TIMEOUT = 5.0


class PbxPort(abc.ABC):
    """Commands over one PBX. Every method raises :class:`NotConnected` while disconnected,
    :class:`NoSuchCall` for an unknown ``call_id``, :class:`CommandTimeout` when the PBX does not
    answer within ``timeout_s`` seconds (``None``: the port's default), :class:`InvalidArgument` on
    bad input (before anything is sent) and :class:`PbxError` for any other refusal."""

    @abc.abstractmethod
    async def start(self) -> None:
        """Connect (and keep reconnecting); publish :class:`Resynced` once connected."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Disconnect and end every event subscription."""

    @abc.abstractmethod
    def events(self) -> EventSubscription:
        """A new subscription to every event published from now on."""

    @property
    @abc.abstractmethod
    def connected(self) -> bool: ...

    @abc.abstractmethod
    async def hold(
        self, call_id: str, *, moh_class: str = "default", timeout_s: float | None = None
    ) -> None:
        """Park the call in the PBX holding area (music on hold) until connected elsewhere."""

    @abc.abstractmethod
    async def connect_agent(
        self,
        call_id: str,
        endpoint: str,
        *,
        ring_timeout: float,
        caller_id: str | None = None,
        timeout_s: float | None = None,
    ) -> None:
        """Ring ``endpoint`` for up to ``ring_timeout`` s and bridge it to the call on answer.
        Returns once the PBX accepted the command; the outcome arrives as :class:`DialEnded`
        (and :class:`CallBridged` on answer)."""

    @abc.abstractmethod
    async def redirect(
        self,
        call_id: str,
        context: str,
        exten: str,
        priority: int = 1,
        *,
        timeout_s: float | None = None,
    ) -> None: ...

    @abc.abstractmethod
    async def hangup(
        self, call_id: str, *, cause: int = 16, timeout_s: float | None = None
    ) -> None: ...

    @abc.abstractmethod
    async def originate(
        self,
        endpoint: str,
        context: str,
        exten: str,
        priority: int = 1,
        *,
        caller_id: str | None = None,
        variables: Mapping[str, str] | None = None,
        ring_timeout: float = 30.0,
        timeout_s: float | None = None,
    ) -> str:
        """Call ``endpoint``; once answered it runs ``context,exten,priority``. Returns the new
        call id as soon as the PBX created the channel."""

    @abc.abstractmethod
    async def spy(
        self,
        supervisor_endpoint: str,
        target_call_id: str,
        mode: SpyMode,
        *,
        timeout_s: float | None = None,
    ) -> str:
        """Ring the supervisor and join them to the target call in ``mode``; returns the spy
        call id. :class:`SpyStarted` / :class:`SpyStopped` follow."""

    @abc.abstractmethod
    async def start_recording(
        self, call_id: str, filename: str, *, timeout_s: float | None = None
    ) -> None: ...

    @abc.abstractmethod
    async def stop_recording(self, call_id: str, *, timeout_s: float | None = None) -> None: ...

    @abc.abstractmethod
    async def set_variable(
        self, call_id: str, name: str, value: str, *, timeout_s: float | None = None
    ) -> None: ...

    @abc.abstractmethod
    async def get_variable(
        self, call_id: str, name: str, *, timeout_s: float | None = None
    ) -> str | None:
        """The variable's value, ``None`` when it is not set."""

    @abc.abstractmethod
    async def list_live_calls(self, *, timeout_s: float | None = None) -> list[LiveCall]: ...

    async def served_by(
        self, endpoints: Sequence[str], *, timeout_s: float | None = None
    ) -> dict[str, str]:
        """The dialplan's served marks: for each of ``endpoints``, the call id of the last
        caller it answered (set as the agent answers, so whichever side hangs up first: the
        one trace of a call served while nobody watched that outlives the caller's channel).
        A mark that is not set or cannot be read is left out. A port whose dialplan keeps no
        marks answers ``{}``."""
        return {}


async def with_timeout(command: str, seconds: float, awaitable: Awaitable[T]) -> T:
    """Await ``awaitable`` for at most ``seconds``, raising :class:`CommandTimeout` instead of
    :class:`TimeoutError` so callers handle one error family."""
    try:
        return await asyncio.wait_for(awaitable, seconds)
    except TimeoutError:
        raise CommandTimeout(command, seconds) from None


# --------------------------------------------------------------------------------------------
# IVR media session
# --------------------------------------------------------------------------------------------


@runtime_checkable
class MediaSession(Protocol):
    """One caller in an IVR (a FastAGI session on Asterisk, an outbound socket on FreeSWITCH).

    Every coroutine raises :class:`CallerHungUp` when the caller hangs up before or during it.
    Prompts are sound names the PBX resolves (``welcome``, ``digits/1``), without extension.
    """

    @property
    def call_id(self) -> str: ...

    @property
    def caller_num(self) -> str: ...

    @property
    def called_num(self) -> str: ...

    async def answer(self) -> None: ...

    async def play(self, prompts: Sequence[str], *, interrupt_digits: str = "") -> str:
        """Play the prompts in order; returns the digit that interrupted them or ``""``."""
        ...

    async def play_and_collect(self, prompts: Sequence[str], spec: CollectSpec) -> CollectResult:
        """Play prompts (a digit interrupts and counts), then collect digits per ``spec``."""
        ...

    async def get_variable(self, name: str) -> str | None: ...

    async def set_variable(self, name: str, value: str) -> None: ...

    async def hangup(self) -> None: ...


E = TypeVar("E", bound=PbxEvent)


def events_of(events: Sequence[PbxEvent], kind: type[E]) -> list[E]:
    """The events of one type, in order (handy for consumers and tests)."""
    return [e for e in events if isinstance(e, kind)]
