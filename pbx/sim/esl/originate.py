"""`originate` and dial strings: `{var=value,...}endpoint[,endpoint][|endpoint] target`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pbx.sim.esl.channel import FsChannel
from pbx.sim.esl.switch import FsSwitch, OriginateError

DEFAULT_CID_NUMBER = "0000000000"


def parse_dial(dial: str) -> tuple[dict[str, str], str]:
    """Leading `{a=b,c=d}` (or `[...]`) variables and the rest of the dial string."""
    variables: dict[str, str] = {}
    dial = dial.strip()
    while dial[:1] in ("{", "["):
        end = _end_bracket(dial)
        if end == -1:
            raise ValueError(f"unterminated {dial[0]!r} in dial string")
        for item in _split_vars(dial[1:end]):
            k, _, v = item.partition("=")
            if k.strip():
                variables[k.strip()] = v.strip().strip("'")
        dial = dial[end + 1 :]
    return variables, dial


def _end_bracket(dial: str) -> int:
    """Index of the bracket closing ``dial[0]``, nesting counted (switch_find_end_paren), so
    a value such as ``${uuid}`` inside ``{...}`` stays whole; -1 when it is not closed."""
    open_, close = dial[0], "}" if dial[0] == "{" else "]"
    depth = 0
    for i, c in enumerate(dial):
        if c == open_:
            depth += 1
        elif c == close:
            depth -= 1
            if depth == 0:
                return i
    return -1


def _split_vars(text: str) -> list[str]:
    # Commas inside single quotes belong to the value (origination_caller_id_name='A, B').
    out, cur, quoted = [], "", False
    for c in text:
        if c == "'":
            quoted = not quoted
        if c == "," and not quoted:
            out.append(cur)
            cur = ""
        else:
            cur += c
    out.append(cur)
    return out


@dataclass(slots=True)
class OriginateResult:
    reply: str
    start: Callable[[], None] | None = None


async def originate(sw: FsSwitch, args: str) -> OriginateResult:
    """`originate <dial> <&app(arg) | exten [dialplan] [context] [name] [number] [timeout]>`."""
    text = args.strip()
    if not text:
        return OriginateResult(
            "-ERR originate <call url> <exten>|&<application_name>(<app_args>)\n"
        )
    # The dial string ends at the first blank outside {...}.
    depth, cut = 0, len(text)
    for i, c in enumerate(text):
        if c in "{[":
            depth += 1
        elif c in "}]":
            depth -= 1
        elif c == " " and depth <= 0:
            cut = i
            break
    dial, rest = text[:cut], text[cut:].strip()
    try:
        variables, target = parse_dial(dial)
    except ValueError as e:
        return OriginateResult(f"-ERR {e}\n")
    if not rest:
        return OriginateResult(
            "-ERR originate <call url> <exten>|&<application_name>(<app_args>)\n"
        )
    ring = variables.get("originate_timeout", "")
    words = rest.split()
    if not rest.startswith("&") and len(words) > 5 and words[5].isdigit():
        ring = words[5]
    seconds = float(ring) if ring.isdigit() else 60.0
    try:
        leg = await sw.originate_leg(target, variables, ring_seconds=seconds)
    except OriginateError as e:
        return OriginateResult(f"-ERR {e}\n")
    if leg.loopback_peer is not None:
        sw.flip_cid(leg)
    body = _target_body(sw, leg, rest)
    return OriginateResult(f"+OK {leg.uuid}\n", lambda: sw.adopt(leg, body))


def _target_body(sw: FsSwitch, leg: FsChannel, rest: str) -> Callable[[FsChannel], Awaitable[None]]:
    if rest.startswith("&"):
        app, _, arg = rest[1:].partition("(")
        arg = arg.rsplit(")", 1)[0] if arg else ""

        async def run_app(ch: FsChannel) -> None:
            sw.set_state(ch, "CS_EXECUTE")
            await sw.execute(ch, app.strip(), arg)
            # A channel that leaves its application without a transfer is hung up.
            if await sw.redirected(ch):
                await sw.run_dialplan(ch)

        return run_app
    words = rest.split()
    exten = words[0]
    context = words[2] if len(words) > 2 else "default"

    async def run_exten(ch: FsChannel) -> None:
        ch.profile["Destination-Number"] = exten
        ch.profile["Context"] = context
        await sw.run_dialplan(ch)

    return run_exten
