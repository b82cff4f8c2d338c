"""The IVR script language as pydantic models: what ``configs/ivr/*.yaml`` may say.

A script is a set of named nodes; each node has a ``type`` and names the node(s) that follow.
Per-field rules (ranges, regexes that compile, ``{attr}`` templates, time ranges) are checked
here so pydantic reports them with the field's location; rules across nodes and files (unknown
targets, loops, prompts per language, queue ids) live in :mod:`cc_core.ivr.validator`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    Discriminator,
    Field,
    PlainValidator,
    Tag,
    model_validator,
)
from pydantic_core import PydanticCustomError

from cc_core.config.value_types import (
    ConfigModel,
    Identifier,
    LanguageCode,
    NonEmpty,
    TimeZoneName,
    in_range,
    pattern,
)
from cc_core.ivr.fields import (
    AttrName,
    Date,
    Digit,
    DigitCount,
    NodeId,
    PromptId,
    Regex,
    Retries,
    Template,
    Timeout,
    TimeRange,
    Weekday,
    queue_priority,
    skill_level,
)

NODE_TYPES = ("play", "menu", "collect", "set", "branch", "hours", "lookup", "queue",
              "transfer", "callback", "voicemail", "hangup", "goto")

# -- conditions -------------------------------------------------------------------------------

_OPERATORS = ("equals", "not_equals", "in", "matches", "exists", "gt", "ge", "lt", "le")
Scalar = str | int | bool


class Condition(ConfigModel):
    """One test. Either ``attr`` with exactly one operator, ``time``/``days`` (in the script's
    time zone), or one of ``all``/``any``/``not`` over nested conditions."""

    attr: AttrName | None = None
    equals: Scalar | None = None
    not_equals: Scalar | None = None
    in_: list[Scalar] | None = Field(None, alias="in")
    matches: Regex | None = None
    exists: bool | None = None
    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None
    time: TimeRange | None = None
    days: list[Weekday] | None = None
    all: list[Condition] | None = None
    any: list[Condition] | None = None
    not_: Condition | None = Field(None, alias="not")

    @model_validator(mode="after")
    def _one_shape(self) -> Condition:
        operators = [op for op in _OPERATORS if getattr(self, _field(op)) is not None]
        groups = [g for g in ("all", "any", "not") if getattr(self, _field(g)) is not None]
        timed = self.time is not None or self.days is not None
        shapes = (self.attr is not None) + bool(groups) + timed
        if shapes != 1 or len(groups) > 1:
            raise PydanticCustomError(
                "invalid", "expected exactly one of: 'attr' with an operator, 'time'/'days', "
                "'all', 'any' or 'not'", {})
        if self.attr is not None and len(operators) != 1:
            raise PydanticCustomError(
                "invalid", "expected 'attr' with exactly one operator of {ops}",
                {"ops": ", ".join(_OPERATORS)})
        if self.attr is None and operators:
            raise PydanticCustomError(
                "invalid", "operator '{op}' needs 'attr' (the attribute it tests)",
                {"op": operators[0]})
        return self

    @property
    def operator(self) -> str | None:
        for op in _OPERATORS:
            if getattr(self, _field(op)) is not None:
                return op
        return None


def _field(name: str) -> str:
    return {"in": "in_", "not": "not_"}.get(name, name)


class Case(ConfigModel):
    when: Condition
    next: NodeId


# -- calendars --------------------------------------------------------------------------------


class Holiday(ConfigModel):
    """A date the centre keeps other hours (``hours: []``, the default, means closed)."""

    date: Date
    name: NonEmpty
    hours: list[TimeRange] = []


class Calendar(ConfigModel):
    timezone: TimeZoneName
    weekly: dict[Weekday, list[TimeRange]]
    holidays: list[Holiday] = []


# -- nodes ------------------------------------------------------------------------------------


class _Node(ConfigModel):
    type: str
    description: str | None = None


class PlayNode(_Node):
    type: Literal["play"]
    prompts: list[PromptId]
    next: NodeId


class MenuNode(_Node):
    """One key picks the next node; a wrong key or silence replays, then ``fallback``."""

    type: Literal["menu"]
    prompts: list[PromptId]
    options: dict[Digit, NodeId]
    timeout: Timeout = 5.0
    retries: Retries = 2
    invalid: list[PromptId] = []
    no_input: list[PromptId] = []
    fallback: NodeId


class Validation(ConfigModel):
    regex: Regex | None = None
    check: Literal["luhn"] | None = None


class CollectNode(_Node):
    """Digits into attribute ``into``; rejected input is asked again up to ``retries`` times."""

    type: Literal["collect"]
    prompts: list[PromptId]
    into: AttrName
    min_digits: DigitCount = 1
    max_digits: DigitCount
    terminator: Literal["#", "*", ""] = "#"
    timeout: Timeout = 5.0
    retries: Retries = 2
    validate_: Validation | None = Field(None, alias="validate")
    invalid: list[PromptId] = []
    no_input: list[PromptId] = []
    next: NodeId
    fallback: NodeId

    @model_validator(mode="after")
    def _digits(self) -> CollectNode:
        if self.max_digits < self.min_digits:
            raise PydanticCustomError(
                "invalid", "max_digits {max} is below min_digits {min} (expected max >= min)",
                {"max": self.max_digits, "min": self.min_digits})
        return self


class SetNode(_Node):
    type: Literal["set"]
    values: dict[AttrName, Template | int | bool]
    next: NodeId


class BranchNode(_Node):
    """The first case whose condition holds picks the next node, else ``default``."""

    type: Literal["branch"]
    cases: list[Case]
    default: NodeId


class HoursNode(_Node):
    type: Literal["hours"]
    calendar: Identifier
    open: NodeId
    closed: NodeId
    holiday: NodeId | None = None  # None: holidays go to ``closed``


class LookupNode(_Node):
    """HTTP JSON request; ``results`` maps attributes to dotted paths in the answer."""

    type: Literal["lookup"]
    url: Annotated[Template, AfterValidator(pattern(
        r"https?://\S+", "an http:// or https:// URL (placeholders allowed)"))]
    method: Literal["GET", "POST"] = "GET"
    body: dict[str, Template] | None = None
    timeout: Annotated[float, AfterValidator(in_range(0.1, 30, "a number of seconds"))] = 2.0
    results: dict[AttrName, NonEmpty]
    next: NodeId
    fallback: NodeId


class QueueNode(_Node):
    """Enter a queue. ``priority`` may be a number or one ``{attr}`` placeholder."""

    type: Literal["queue"]
    queue: Identifier
    prompts: list[PromptId] = []
    skills: dict[Identifier, Annotated[int | str, PlainValidator(skill_level)]] = {}
    priority: Annotated[int | str, PlainValidator(queue_priority)] = 0
    attributes: list[AttrName] | None = None  # None: every attribute goes along


class TransferNode(_Node):
    type: Literal["transfer"]
    extension: Template
    context: Identifier | None = None
    prompts: list[PromptId] = []


class CallbackNode(_Node):
    type: Literal["callback"]
    queue: Identifier
    number: Template = "{caller}"
    prompts: list[PromptId] = []


class VoicemailNode(_Node):
    type: Literal["voicemail"]
    mailbox: Template
    prompts: list[PromptId] = []


class HangupNode(_Node):
    type: Literal["hangup"]
    prompts: list[PromptId] = []


class GotoNode(_Node):
    type: Literal["goto"]
    next: NodeId


def _node_type(value: Any) -> str | None:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    # The tag shows up in error locations; "type=queue" cannot be mistaken for a field name.
    return f"type={kind}" if kind in NODE_TYPES else None


Node = Annotated[
    Annotated[PlayNode, Tag("type=play")] | Annotated[MenuNode, Tag("type=menu")]
    | Annotated[CollectNode, Tag("type=collect")] | Annotated[SetNode, Tag("type=set")]
    | Annotated[BranchNode, Tag("type=branch")] | Annotated[HoursNode, Tag("type=hours")]
    | Annotated[LookupNode, Tag("type=lookup")] | Annotated[QueueNode, Tag("type=queue")]
    | Annotated[TransferNode, Tag("type=transfer")] | Annotated[CallbackNode, Tag("type=callback")]
    | Annotated[VoicemailNode, Tag("type=voicemail")] | Annotated[HangupNode, Tag("type=hangup")]
    | Annotated[GotoNode, Tag("type=goto")],
    Discriminator(
        _node_type, custom_error_type="invalid",
        custom_error_message="expected a mapping with 'type' one of " + ", ".join(NODE_TYPES)),
]

INPUT_NODES = (MenuNode, CollectNode)
EXIT_NODES = (QueueNode, TransferNode, CallbackNode, VoicemailNode, HangupNode)


class Survey(ConfigModel):
    """A post-call survey: the attribute holding the score and its scale."""

    score: AttrName
    min: int = 1
    max: int = 5


class Script(ConfigModel):
    name: Identifier
    description: str | None = None
    languages: list[LanguageCode]
    language: LanguageCode  # the default until the caller chooses
    timezone: TimeZoneName = "UTC"
    start: NodeId
    calendars: dict[Identifier, Calendar] = {}
    survey: Survey | None = None
    max_steps: Annotated[int, AfterValidator(in_range(10, 10000, "a number of steps"))] = 500
    nodes: dict[NodeId, Node]


def successors(node: Any) -> list[tuple[tuple[str | int, ...], str]]:
    """(location inside the node, target) for every node a node can lead to."""
    found: list[tuple[tuple[str | int, ...], str]] = []
    for name in ("next", "fallback", "default", "open", "closed", "holiday"):
        target = getattr(node, name, None)
        if isinstance(target, str):
            found.append(((name,), target))
    if isinstance(node, MenuNode):
        found += [(("options", digit), target) for digit, target in node.options.items()]
    if isinstance(node, BranchNode):
        found += [(("cases", i, "next"), case.next) for i, case in enumerate(node.cases)]
    return found


def node_prompts(node: Any) -> list[tuple[str, int, str]]:
    """(field, index, prompt id) of every prompt a node plays."""
    found = []
    for name in ("prompts", "invalid", "no_input"):
        for index, prompt in enumerate(getattr(node, name, None) or []):
            found.append((name, index, prompt))
    return found
