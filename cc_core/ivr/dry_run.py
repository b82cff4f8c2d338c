"""``cc-admin ivr try``: walk a script offline with scripted keys and print the path taken."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from cc_core.config.problems import ConfigError
from cc_core.ivr.interpreter import IvrContext, run_script
from cc_core.ivr.library import load_library
from cc_core.ivr.lookup import LookupClient, OfflineLookup
from cc_core.ivr.outcome import IvrEvent, IvrOutcome, OutcomeKind
from cc_core.ivr.scripted import ScriptedSession, parse_keys

EXIT_OK = 0
EXIT_USAGE = 2


def parse_time(text: str | None, zone: str) -> dt.datetime:
    """ISO date-time; without an offset it is read in ``zone`` (the script's time zone)."""
    if text is None:
        return dt.datetime.now(dt.UTC)
    value = dt.datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=zoneinfo.ZoneInfo(zone))
    return value


def describe(event: IvrEvent) -> str:
    d = event.detail
    match event.kind:
        case "prompt":
            return f'says "{d["text"]}"'
        case "input":
            into = f" -> {d['attribute']}" if "attribute" in d else ""
            return f"caller keys {d['digits']}{into}"
        case "invalid":
            why = f" ({d['why']})" if "why" in d else ""
            return f"rejected {d.get('digits') or d.get('priority') or d.get('number')}{why}"
        case "timeout":
            return f"no input (attempt {d['attempt']})"
        case "fallback":
            return f"retries used up -> {d['target']}"
        case "set":
            return f"{d['attribute']} = {d['value']}"
        case "language":
            return f"language now {d['language']}"
        case "branch":
            return f"case {d['case']} -> {d['target']}"
        case "hours":
            return f"{d['state']} ({d['why']}) -> {d['target']}"
        case "lookup":
            if d["ok"] == "true":
                return f"found {d['found']} -> {d['target']}"
            return f"failed: {d['why']} -> {d['target']}"
    return ", ".join(f"{k}={v}" for k, v in d.items())


def summary(outcome: IvrOutcome) -> str:
    kind = outcome.kind
    if kind is OutcomeKind.QUEUE:
        skills = ", ".join(f"{s}>={n}" for s, n in outcome.skills.items()) or "none"
        text = (f"queue {outcome.queue} (priority {outcome.priority}, language "
                f"{outcome.language}, skills {skills})")
    elif kind is OutcomeKind.TRANSFER:
        text = f"transfer to {outcome.extension}" + (
            f"@{outcome.context}" if outcome.context else "")
    elif kind is OutcomeKind.CALLBACK:
        text = f"callback to {outcome.callback_number} via queue {outcome.queue}"
    elif kind is OutcomeKind.VOICEMAIL:
        text = f"voicemail for {outcome.mailbox}"
    else:
        text = kind.value.replace("_", " ")
        if kind is OutcomeKind.FAILED:
            text += f": {outcome.reason}"
    if outcome.csat_score is not None:
        text += f"; CSAT score {outcome.csat_score}"
    return text


async def dry_run(config_dir: Path, script_name: str, keys: str, out: TextIO, *,
                  at: str | None = None, caller: str = "+4915112345678",
                  called: str | None = None, attributes: Mapping[str, str] | None = None,
                  lookup: LookupClient | None = None) -> int:
    try:
        library = load_library(config_dir)
    except ConfigError as exc:
        print(f"cc-admin: the IVR configuration has errors:\n{exc}", file=out)
        return EXIT_USAGE
    try:
        script = library.script(script_name)
        pressed = parse_keys(keys)
        now = parse_time(at, script.timezone)
    except (KeyError, ValueError) as exc:
        print(f"cc-admin: {exc.args[0] if exc.args else exc}", file=out)
        return EXIT_USAGE
    session = ScriptedSession(pressed, caller_num=caller, called_num=called or "")
    events: list[IvrEvent] = []
    context = IvrContext(prompts=library.prompts, sink=events.append,
                         lookup=lookup or OfflineLookup(), clock=lambda: now,
                         attributes=dict(attributes or {}))
    outcome = await run_script(script, session, context)
    local = now.astimezone(zoneinfo.ZoneInfo(script.timezone))
    print(f"{script.name}: dry run at {local:%Y-%m-%d %H:%M %Z}, caller {caller}, keys "
          f"{','.join(pressed) or '(none)'}", file=out)
    for event in events:
        if event.kind == "node":
            print(f"  {event.node:<18} {event.detail['type']}", file=out)
        elif event.kind not in ("start", "outcome"):
            print(f"  {'':<18}   {describe(event)}", file=out)
    print(f"outcome: {summary(outcome)}", file=out)
    print(f"path: {' -> '.join(outcome.path)}", file=out)
    if session.keys_left:
        print(f"note: {session.keys_left} key(s) not used", file=out)
    return EXIT_OK
