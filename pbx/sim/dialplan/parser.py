"""Reading ``extensions.conf``: Asterisk's config file syntax, then ``pbx_config``'s meaning.

The config layer handles ``;`` comments (``\\;`` is a literal semicolon), ``;-- ... --;`` block
comments, ``[section]`` headers with template options (``(!)`` marks a template,
``(name,...)`` copies a template's lines first, ``(+)`` adds to an earlier section),
``#include``/``#tryinclude`` (relative to the including file, globs allowed) and
``key => value`` / ``key = value`` lines.

The dialplan layer reads ``[general]``, ``[globals]`` (values substituted with the globals
defined so far) and contexts holding ``exten``, ``same``, ``include``, ``ignorepat`` and
``switch`` lines. Every error names the file and line. Where Asterisk only logs a warning and
drops the line (a duplicate priority, a bad label, an unknown keyword), loading fails here, so
that a dialplan that loads is a dialplan that runs as written.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from pbx.sim.dialplan.errors import DialplanError
from pbx.sim.dialplan.model import Context, Dialplan, Extension, Include, Step
from pbx.sim.dialplan.patterns import ExtensionName
from pbx.sim.dialplan.substitution import substitute

_SECTION = re.compile(r"^\[([^\]]*)\]\s*(?:\((.*)\))?\s*$")
_DIRECTIVE = re.compile(r"^#\s*(include|tryinclude|exec)\b\s*(.*)$", re.IGNORECASE)
_APP_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_PRIORITY = re.compile(r"^(?P<base>[^(+]+?)\s*(?:\+\s*(?P<plus>\d+))?\s*(?:\((?P<label>[^)]*)\))?$")
_MAX_INCLUDE_DEPTH = 32


@dataclass(frozen=True, slots=True)
class _Line:
    key: str
    value: str
    file: str
    line: int


@dataclass
class _Section:
    name: str
    file: str
    line: int
    lines: list[_Line] = field(default_factory=list)
    template: bool = False


class _ConfigReader:
    """Turns files into ordered sections of key/value lines (``config.c``)."""

    def __init__(self) -> None:
        self.sections: list[_Section] = []
        self.by_name: dict[str, _Section] = {}
        self.templates: dict[str, _Section] = {}
        self.files: list[str] = []
        self.current: _Section | None = None

    def read_file(self, path: str, stack: tuple[str, ...] = ()) -> None:
        real = os.path.realpath(path)
        if real in stack:
            chain = " -> ".join([*stack, real])
            raise DialplanError(f"#include loop: {chain}", path)
        if len(stack) > _MAX_INCLUDE_DEPTH:
            raise DialplanError("#include nested too deeply", path)
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        except UnicodeDecodeError as exc:
            raise DialplanError(
                f"not UTF-8 text ({exc.reason} at byte {exc.start})", path
            ) from None
        except OSError as exc:
            raise DialplanError(f"cannot read: {exc.strerror}", path) from None
        self.read_text(text, path, (*stack, real))

    def read_text(self, text: str, filename: str, stack: tuple[str, ...] = ()) -> None:
        self.files.append(filename)
        in_block = False
        for number, raw in enumerate(text.splitlines(), start=1):
            line, in_block = _strip_comments(raw, in_block)
            line = line.strip()
            if not line:
                continue
            directive = _DIRECTIVE.match(line)
            if directive:
                self._directive(
                    directive.group(1).lower(), directive.group(2), filename, number, stack
                )
                continue
            if line.startswith("["):
                self._section(line, filename, number)
                continue
            key, sep, value = line.partition("=")
            if not sep or not key.strip():
                raise DialplanError(
                    f"expected [context], #include or 'name => value', got {line!r}",
                    filename,
                    number,
                )
            if value.startswith(">"):
                value = value[1:]
            if self.current is None:
                raise DialplanError(
                    f"{key.strip()!r} outside any [context] (add a [section] header above it)",
                    filename,
                    number,
                )
            self.current.lines.append(_Line(key.strip(), value.strip(), filename, number))
        if in_block:
            raise DialplanError("block comment ';--' never closed with '--;'", filename)

    def _directive(
        self, name: str, arg: str, filename: str, number: int, stack: tuple[str, ...]
    ) -> None:
        if name == "exec":
            raise DialplanError("#exec is not supported by the simulated PBX", filename, number)
        target = arg.strip().strip('"').strip("<>").strip()
        if not target:
            raise DialplanError(f"#{name} needs a file name", filename, number)
        base = os.path.dirname(os.path.abspath(filename)) if filename != "<string>" else "."
        pattern = target if os.path.isabs(target) else os.path.join(base, target)
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        found = [m for m in matches if os.path.exists(m)]
        if not found:
            if name == "tryinclude":
                return
            raise DialplanError(f"#include {target!r}: no such file ({pattern})", filename, number)
        for path in found:
            try:
                self.read_file(path, stack)
            except DialplanError as exc:
                if exc.line is None and exc.file == path and "loop" in exc.message:
                    raise DialplanError(exc.message, filename, number) from None
                raise

    def _section(self, line: str, filename: str, number: int) -> None:
        m = _SECTION.match(line)
        if not m:
            raise DialplanError(f"bad section header {line!r}: expected [name]", filename, number)
        name = m.group(1).strip()
        if not name:
            raise DialplanError("empty section name []", filename, number)
        options = [o.strip() for o in (m.group(2) or "").split(",") if o.strip()]
        template = "!" in options
        append = "+" in options
        if append:
            existing = self.by_name.get(name)
            if existing is None:
                raise DialplanError(
                    f"[{name}](+) adds to a section never defined", filename, number
                )
            self.current = existing
            return
        section = _Section(name, filename, number, template=template)
        for option in options:
            if option in ("!", "+"):
                continue
            parent = self.templates.get(option) or self.by_name.get(option)
            if parent is None:
                raise DialplanError(
                    f"[{name}] inherits unknown template {option!r}", filename, number
                )
            section.lines.extend(parent.lines)
        if template:
            self.templates[name] = section
        else:
            self.sections.append(section)
            self.by_name.setdefault(name, section)
        self.current = section


def _strip_comments(raw: str, in_block: bool) -> tuple[str, bool]:
    """Remove ``;`` comments (not ``\\;``) and ``;-- --;`` blocks from one line."""
    out: list[str] = []
    i = 0
    while i < len(raw):
        if in_block:
            end = raw.find("--;", i)
            if end < 0:
                return "".join(out), True
            i = end + 3
            in_block = False
            continue
        ch = raw[i]
        if ch == "\\" and raw.startswith(";", i + 1):
            out.append(";")
            i += 2
            continue
        if ch == ";":
            if raw.startswith(";--", i):
                in_block = True
                i += 3
                continue
            break
        out.append(ch)
        i += 1
    return "".join(out), in_block


class _Builder:
    """Gives the sections their dialplan meaning (``pbx_config.c``)."""

    def __init__(self, overrides: Mapping[str, str] | None) -> None:
        self.plan = Dialplan()
        self.overrides = dict(overrides or {})

    def build(self, reader: _ConfigReader) -> Dialplan:
        self.plan.files = reader.files
        # Asterisk reads every [globals] entry before any context, wherever it stands.
        for section in reader.sections:
            name = section.name.lower()
            if name == "general":
                for ln in section.lines:
                    self.plan.general[ln.key] = ln.value
            elif name == "globals":
                self._globals(section)
        for section in reader.sections:
            if section.name.lower() not in ("general", "globals"):
                self._context(section)
        for key, value in self.overrides.items():
            self.plan._globals[key] = value
        for ctx in self.plan.contexts.values():
            for inc in ctx.includes:
                if inc.context not in self.plan.contexts:
                    self.plan.warnings.append(
                        f"{inc.file}:{inc.line}: [{ctx.name}] includes unknown context "
                        f"{inc.context!r}"
                    )
        self.plan.invalidate()
        return self.plan

    def _globals(self, section: _Section) -> None:
        g = self.plan._globals
        for ln in section.lines:
            if ln.key in self.overrides:
                g[ln.key] = self.overrides[ln.key]
            else:
                g[ln.key] = substitute(ln.value, g)

    def _globals_in(self, text: str) -> str:
        """Extension names and includes may use globals (``exten => ${OPERATOR},1,...``)."""
        return substitute(text, self.plan._globals) if "$" in text else text

    def _context(self, section: _Section) -> None:
        ctx = self.plan.contexts.get(section.name)
        if ctx is None:
            ctx = Context(section.name, section.file, section.line)
            self.plan.contexts[section.name] = ctx
        ctx._ordered = None
        last_exten: str | None = None
        last_priority: int | None = None
        for ln in section.lines:
            key = ln.key.lower()
            if key in ("exten", "same"):
                last_exten, last_priority = self._exten(ctx, ln, key, last_exten, last_priority)
            elif key == "include":
                name, _, timing = self._globals_in(ln.value).partition(",")
                if not name.strip():
                    raise DialplanError("include => needs a context name", ln.file, ln.line)
                ctx.includes.append(Include(name.strip(), ln.file, ln.line, timing.strip()))
                if timing.strip():
                    self.plan.warnings.append(
                        f"{ln.file}:{ln.line}: time condition {timing.strip()!r} on include "
                        "is ignored"
                    )
            elif key == "ignorepat":
                ctx.ignore_patterns.append(ln.value)
            elif key in ("switch", "lswitch", "eswitch"):
                self.plan.warnings.append(
                    f"{ln.file}:{ln.line}: {ln.key} => {ln.value} is not supported; ignored"
                )
            else:
                raise DialplanError(
                    f"unknown keyword {ln.key!r} in [{ctx.name}]: expected exten, same, "
                    "include, ignorepat or switch",
                    ln.file,
                    ln.line,
                )

    def _exten(
        self,
        ctx: Context,
        ln: _Line,
        key: str,
        last_exten: str | None,
        last_priority: int | None,
    ) -> tuple[str, int | None]:
        if key == "same":
            if last_exten is None:
                raise DialplanError(
                    "same => with no exten => line before it in this context", ln.file, ln.line
                )
            exten_text = last_exten
            parts = ln.value.split(",", 1)
            if len(parts) < 2:
                raise DialplanError(
                    f"expected 'same => priority,Application(args)', got {ln.value!r}",
                    ln.file,
                    ln.line,
                )
            prio_text, app_text = parts
        else:
            parts = _split_exten(ln.value)
            if len(parts) < 3:
                raise DialplanError(
                    f"expected 'exten => extension,priority,Application(args)', got {ln.value!r}",
                    ln.file,
                    ln.line,
                )
            exten_text, prio_text, app_text = parts
            exten_text = self._globals_in(exten_text.strip())
        name_text, _, cid_text = exten_text.partition("/")
        try:
            name = ExtensionName(name_text.strip())
            cid = ExtensionName(cid_text.strip()) if cid_text.strip() else None
        except DialplanError as exc:
            raise DialplanError(exc.message, ln.file, ln.line) from None
        ident = (name.identity, cid.identity if cid else "")
        ext = ctx.extensions.get(ident)
        if ext is None:
            ext = Extension(name, cid)
            ctx.extensions[ident] = ext

        prio_text = prio_text.strip()
        if prio_text == "hint":
            if ext.hint is not None:
                raise DialplanError(f"second hint for {exten_text}@{ctx.name}", ln.file, ln.line)
            ext.hint = app_text.strip()
            return exten_text, last_priority

        m = _PRIORITY.match(prio_text)
        if not m:
            raise DialplanError(
                f"bad priority {prio_text!r}: expected a number, n, n(label) or label+N",
                ln.file,
                ln.line,
            )
        base, plus, label = m.group("base").strip(), m.group("plus"), m.group("label")
        if base in ("n", "next", "s", "same"):
            if last_priority is None:
                raise DialplanError(
                    f"priority {base!r} needs an earlier priority in this context",
                    ln.file,
                    ln.line,
                )
            priority = last_priority + 1 if base in ("n", "next") else last_priority
        elif base.isdigit():
            priority = int(base)
        elif base in ext.labels:
            priority = ext.labels[base]
        else:
            raise DialplanError(
                f"bad priority {prio_text!r}: expected a number, n, n(label) or a known label",
                ln.file,
                ln.line,
            )
        if plus:
            priority += int(plus)
        if priority < 1:
            raise DialplanError(f"priority {prio_text!r} must be >= 1", ln.file, ln.line)

        app, args = _split_application(app_text, ln)
        if name.text in ("_.", "_!"):
            self.plan.warnings.append(
                f"{ln.file}:{ln.line}: extension {name.text!r} also matches h, i, t and other "
                f"special extensions; use '_X{name.text[1]}'"
            )
        if priority in ext.steps:
            other = ext.steps[priority]
            raise DialplanError(
                f"priority {priority} of {exten_text}@{ctx.name} already defined at {other.where}",
                ln.file,
                ln.line,
            )
        if label is not None:
            label = label.strip()
            if not label:
                raise DialplanError("empty label ()", ln.file, ln.line)
            if label in ext.labels:
                raise DialplanError(
                    f"label {label!r} already used in {exten_text}@{ctx.name}", ln.file, ln.line
                )
            ext.labels[label] = priority
        ext.steps[priority] = Step(
            ctx.name, name.text, priority, app, args, label, ln.file, ln.line
        )
        return exten_text, priority


def _split_exten(value: str) -> list[str]:
    """``name,priority,rest``: the name may hold commas inside ``[...]`` (``pbx_strsep``)."""
    square = 0
    for i, ch in enumerate(value):
        if ch == "[":
            square += 1
        elif ch == "]":
            square = max(0, square - 1)
        elif ch == "," and not square:
            return [value[:i], *value[i + 1 :].split(",", 1)]
    return [value]


def _split_application(text: str, ln: _Line) -> tuple[str, str]:
    """``App(args)`` (arguments end at the last ``)``) or ``App``."""
    text = text.strip()
    paren = text.find("(")
    comma = text.find(",")
    if comma >= 0 and (paren < 0 or comma < paren):
        # Asterisk 22 would take the whole text for an application name and fail at run time.
        name = text[:comma].strip()
        raise DialplanError(
            f"{text!r}: the old 'App,args' form is not read by Asterisk; "
            f"write {name}({text[comma + 1 :]})",
            ln.file,
            ln.line,
        )
    if paren >= 0:
        app = text[:paren].strip()
        close = text.rfind(")")
        if close < paren:
            raise DialplanError(f"{app}(: missing closing ')'", ln.file, ln.line)
        args = text[paren + 1 : close]
        if text[close + 1 :].strip():
            raise DialplanError(
                f"unexpected text after {app}(...): {text[close + 1 :].strip()!r}",
                ln.file,
                ln.line,
            )
    else:
        app, args = text, ""
    if not app:
        raise DialplanError("missing application name", ln.file, ln.line)
    if not _APP_NAME.match(app):
        raise DialplanError(
            f"bad application name {app!r}: expected letters, digits and '_'", ln.file, ln.line
        )
    return app, args


def parse_text(
    text: str, filename: str = "<string>", overrides: Mapping[str, str] | None = None
) -> Dialplan:
    reader = _ConfigReader()
    reader.read_text(text, filename, (os.path.realpath(filename),))
    return _Builder(overrides).build(reader)


def load_file(path: str, overrides: Mapping[str, str] | None = None) -> Dialplan:
    reader = _ConfigReader()
    reader.read_file(path)
    return _Builder(overrides).build(reader)
