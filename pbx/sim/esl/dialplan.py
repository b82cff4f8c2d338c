"""The XML dialplan (mod_dialplan_xml): contexts, extensions, conditions, actions.

Files are read with expat so every error names file and line. `<include>` wrappers and
`<X-PRE-PROCESS cmd="include" data="...">` of sibling files (glob) are followed; other
pre-processing commands are ignored with a warning, and one inside a comment is refused
(FreeSWITCH would run it).
"""

from __future__ import annotations

import re
import xml.parsers.expat
from dataclasses import dataclass, field
from pathlib import Path


class XmlDialplanError(ValueError):
    def __init__(self, path: Path | str, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path, self.line, self.message = str(path), line, message


@dataclass(slots=True)
class Action:
    application: str
    data: str
    line: int
    anti: bool = False


@dataclass(slots=True)
class Condition:
    field: str
    expression: re.Pattern[str] | None
    line: int
    actions: list[Action] = field(default_factory=list)
    anti_actions: list[Action] = field(default_factory=list)


@dataclass(slots=True)
class Extension:
    name: str
    line: int
    continue_: bool = False
    conditions: list[Condition] = field(default_factory=list)


@dataclass
class XmlDialplan:
    contexts: dict[str, list[Extension]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # X-PRE-PROCESS set: substituted as $${name} while loading, as FreeSWITCH does.
    preprocess: dict[str, str] = field(default_factory=dict)
    # Values that win over the files' own `set` (the scenario points cc_ivr_socket elsewhere).
    overrides: dict[str, str] = field(default_factory=dict)

    def hunt(self, context: str, fields: dict[str, str]) -> list[tuple[Action, tuple[str, ...]]]:
        """Actions to run, each with the captures of the condition that matched it."""
        out: list[tuple[Action, tuple[str, ...]]] = []
        for ext in self.contexts.get(context, []):
            matched = True
            for cond in ext.conditions:
                value = fields.get(cond.field, "")
                if cond.field.startswith("${") and cond.field.endswith("}"):
                    value = fields.get(cond.field[2:-1], "")
                m = cond.expression.search(value) if cond.expression else True
                if m:
                    groups = (value, *m.groups()) if m is not True else (value,)
                    out += [(a, tuple(g or "" for g in groups)) for a in cond.actions]
                else:
                    out += [(a, ()) for a in cond.anti_actions]
                    matched = False
                    break
            if matched and not ext.continue_:
                break
        return out


_KNOWN_PREPROCESS = {"include", "set"}


def load(path: Path | str, dp: XmlDialplan | None = None) -> XmlDialplan:
    """Load one file (and what it includes) into `dp` (a new dialplan when None)."""
    dp = dp if dp is not None else XmlDialplan()
    _load_file(Path(path), dp, set())
    return dp


_PRE_VAR = re.compile(r"\$\$\{([^}]+)\}")
_PRE_TAG = re.compile(r"<X-PRE-PROCESS", re.IGNORECASE)


def _load_file(path: Path, dp: XmlDialplan, seen: set[Path]) -> None:
    path = path.resolve()
    if path in seen:
        return
    seen.add(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise XmlDialplanError(path, 0, f"cannot read: {e.strerror}") from e
    parser = xml.parsers.expat.ParserCreate()
    stack: list[str] = []
    state: dict[str, object] = {"context": None, "ext": None, "cond": None}

    def line() -> int:
        return parser.CurrentLineNumber

    def need(attrs: dict[str, str], name: str, tag: str) -> str:
        v = attrs.get(name)
        if v is None or v == "":
            raise XmlDialplanError(path, line(), f"<{tag}> needs a {name!r} attribute")
        return v

    def start(tag: str, attrs: dict[str, str]) -> None:
        stack.append(tag)
        attrs = {
            k: _PRE_VAR.sub(lambda m: dp.preprocess.get(m.group(1), ""), v)
            for k, v in attrs.items()
        }
        if tag == "X-PRE-PROCESS":
            cmd = attrs.get("cmd", "")
            if cmd == "set":
                name, _, value = attrs.get("data", "").partition("=")
                name = name.strip()
                dp.preprocess[name] = dp.overrides.get(name, value.strip())
            elif cmd == "include":
                for inc in sorted(path.parent.glob(attrs.get("data", ""))):
                    _load_file(inc, dp, seen)
            elif cmd not in _KNOWN_PREPROCESS:
                dp.warnings.append(f"{path}:{line()}: X-PRE-PROCESS cmd {cmd!r} ignored")
        elif tag == "context":
            name = need(attrs, "name", tag)
            state["context"] = dp.contexts.setdefault(name, [])
        elif tag == "extension":
            ctx = state["context"]
            if ctx is None:
                raise XmlDialplanError(path, line(), "<extension> outside a <context>")
            ext = Extension(
                attrs.get("name", f"line {line()}"),
                line(),
                attrs.get("continue", "false") == "true",
            )
            ctx.append(ext)  # type: ignore[attr-defined]
            state["ext"] = ext
        elif tag == "condition":
            ext = state["ext"]
            if ext is None:
                raise XmlDialplanError(path, line(), "<condition> outside an <extension>")
            expr = attrs.get("expression")
            fld = attrs.get("field", "")
            pattern = None
            if fld:
                try:
                    pattern = re.compile(expr or "")
                except re.error as e:
                    raise XmlDialplanError(
                        path, line(), f"expression {expr!r} is not a valid regex: {e}"
                    ) from e
            cond = Condition(fld, pattern, line())
            ext.conditions.append(cond)  # type: ignore[attr-defined]
            state["cond"] = cond
        elif tag in ("action", "anti-action"):
            cond = state["cond"]
            if cond is None:
                raise XmlDialplanError(path, line(), f"<{tag}> outside a <condition>")
            act = Action(need(attrs, "application", tag), attrs.get("data", ""), line())
            if tag == "action":
                cond.actions.append(act)  # type: ignore[attr-defined]
            else:
                act.anti = True
                cond.anti_actions.append(act)  # type: ignore[attr-defined]

    def end(tag: str) -> None:
        stack.pop()
        if tag == "context":
            state["context"] = None
        elif tag == "extension":
            state["ext"] = None
        elif tag == "condition":
            state["cond"] = None

    def comment(text: str) -> None:
        # FreeSWITCH pre-processes lines before it parses XML, so a directive inside a comment
        # runs all the same (one including its own file stops FreeSWITCH from starting).
        # Refused here rather than run, so a dialplan that would misbehave there fails here.
        if m := _PRE_TAG.search(text):
            at = line() + text.count("\n", 0, m.start())
            raise XmlDialplanError(
                path,
                at,
                "<X-PRE-PROCESS> inside <!-- -->: FreeSWITCH runs it anyway (its pre-processor "
                "reads lines, not XML); take it out of the comment",
            )

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CommentHandler = comment
    try:
        parser.Parse(data, True)
    except xml.parsers.expat.ExpatError as e:
        raise XmlDialplanError(path, e.lineno, f"not well-formed XML: {e}") from e


_VAR = re.compile(r"\$\{([^}]+)\}")
_GROUP = re.compile(r"\$(\d)")


def expand(text: str, variables: dict[str, str], groups: tuple[str, ...] = ()) -> str:
    """`$1` regex captures then `${var}` channel variables, as the XML dialplan does."""
    if groups:
        text = _GROUP.sub(
            lambda m: groups[int(m.group(1))] if int(m.group(1)) < len(groups) else "", text
        )
    return _VAR.sub(lambda m: variables.get(m.group(1), ""), text)
