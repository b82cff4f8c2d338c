"""Reading one YAML file into plain data while keeping where every key and value came from.

PyYAML's nodes carry marks; pydantic reports error locations as key paths. A ``Document`` maps
each key path to the mark of its value and of its key so any problem can be printed as
``file:line:col``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from cc_core.config.problems import Problem, field_path

Loc = tuple[str | int, ...]

_MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass(frozen=True)
class Mark:
    """1-based position in a file."""

    line: int
    col: int

    @classmethod
    def of(cls, mark: yaml.Mark) -> Mark:
        return cls(mark.line + 1, mark.column + 1)


@dataclass
class Document:
    """Parsed data of one file and the marks of its keys and values, by key path."""

    file: str
    data: Any
    value_marks: dict[Loc, Mark] = field(default_factory=dict)
    key_marks: dict[Loc, Mark] = field(default_factory=dict)

    def resolve(self, loc: Sequence[str | int]) -> Loc:
        """Keep only the parts of a pydantic error location that exist in the data.

        Pydantic adds parts that are not keys (union arm names, ``[key]``); they are dropped.
        A final part naming a missing key is kept, so "missing field" points at its parent.
        """
        node: Any = self.data
        kept: list[str | int] = []
        for i, part in enumerate(loc):
            in_dict = isinstance(node, dict) and part in node
            in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
            if in_dict or in_list:
                node = node[part]
            elif isinstance(part, str) and part != "[key]" and i == len(loc) - 1:
                kept.append(part)
                break
            else:
                continue
            kept.append(part)
        return tuple(kept)

    def mark(self, loc: Sequence[str | int], *, key: bool = False) -> Mark:
        """Mark of the value at ``loc`` (or of its key), else of the nearest enclosing value."""
        path = tuple(loc)
        if key and path in self.key_marks:
            return self.key_marks[path]
        while path and path not in self.value_marks:
            path = path[:-1]
        return self.value_marks.get(path, Mark(1, 1))

    def problem(
        self, loc: Sequence[str | int], message: str, *, key: bool = False, **kw: Any
    ) -> Problem:
        at = self.mark(loc, key=key)
        return Problem(self.file, at.line, at.col, field_path(loc), message, **kw)


def read_text(path: Path, display: str) -> tuple[str | None, list[Problem]]:
    """File contents as text, or the problem that prevented reading it."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None, [Problem(display, None, None, "", "file not found")]
    except IsADirectoryError:
        return None, [Problem(display, None, None, "", "is a directory (expected a YAML file)")]
    except OSError as exc:
        return None, [Problem(display, None, None, "", f"cannot read file: {exc.strerror}")]
    try:
        return raw.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        start = exc.start
        line = raw.count(b"\n", 0, start) + 1
        col = start - (raw.rfind(b"\n", 0, start) + 1) + 1
        bad = raw[start : start + 1].hex()
        message = f"byte 0x{bad} is not valid UTF-8 (expected UTF-8 text; re-save as UTF-8)"
        return None, [Problem(display, line, col, "", message)]


# libyaml parses several times faster and gives the same marks; the pure-Python parser is used
# to describe errors, so messages do not depend on whether libyaml is installed.
_FAST_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_document(path: Path, display: str) -> tuple[Document | None, list[Problem]]:
    """Parse one YAML file. Returns None with problems for unreadable, empty or broken files."""
    text, problems = read_text(path, display)
    if text is None:
        return None, problems
    doc, problems = _parse(_FAST_LOADER, text, display)
    if doc is None and _FAST_LOADER is not yaml.SafeLoader:
        doc, described = _parse(yaml.SafeLoader, text, display)
        problems = described if doc is None else problems
    return doc, problems


def _parse(
    loader_class: type[yaml.SafeLoader], text: str, display: str
) -> tuple[Document | None, list[Problem]]:
    try:
        loader = loader_class(text)
    except yaml.YAMLError as exc:  # the reader rejects control characters up front
        return None, [_reader_problem(exc, text, display)]
    try:
        node = loader.get_single_node()
        if node is None:
            return None, [Problem(display, 1, 1, "", "file is empty (expected a YAML mapping)")]
        duplicates = _duplicate_keys(loader, node, display)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        return None, [_syntax_problem(exc, display)]
    except yaml.YAMLError as exc:
        return None, [_reader_problem(exc, text, display)]
    except RecursionError:
        return None, [Problem(display, None, None, "", "YAML nesting is too deep")]
    finally:
        loader.dispose()
    doc = Document(display, data)
    _record_marks(loader, node, (), doc, set())
    return doc, duplicates


def _syntax_problem(exc: yaml.MarkedYAMLError, display: str) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
    what = exc.problem or "invalid YAML"
    if exc.context and exc.context_mark and exc.context_mark is not mark:
        what = f"{what} ({exc.context} at line {exc.context_mark.line + 1})"
    return Problem(display, line, col, "", f"YAML syntax: {what}")


def _reader_problem(exc: yaml.YAMLError, text: str, display: str) -> Problem:
    position = getattr(exc, "position", None)
    character = getattr(exc, "character", None)
    what = f"character #x{character:04x}" if isinstance(character, int) else "a character"
    message = f"YAML syntax: {what} is not allowed in YAML (expected printable text)"
    if not isinstance(position, int):
        return Problem(display, None, None, "", message)
    line = text.count("\n", 0, position) + 1
    col = position - (text.rfind("\n", 0, position) + 1) + 1
    return Problem(display, line, col, "", message)


def _key_value(loader: yaml.SafeLoader, key: Node) -> Any:
    if isinstance(key, ScalarNode):
        return loader.construct_object(key, deep=True)
    return None


def _duplicate_keys(loader: yaml.SafeLoader, root: Node, display: str) -> list[Problem]:
    """PyYAML silently keeps the last of two equal keys; a config must not lose data that way."""
    found: list[Problem] = []
    seen_nodes: set[int] = set()
    stack: list[tuple[Node, Loc]] = [(root, ())]
    while stack:
        node, loc = stack.pop()
        if id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        if isinstance(node, MappingNode):
            first: dict[Any, Node] = {}
            for key, value in node.value:
                if key.tag == _MERGE_TAG:
                    continue
                name = _key_value(loader, key)
                stack.append((value, (*loc, name)))
                try:
                    earlier = first.get(name)
                except TypeError:  # unhashable keys are reported by the constructor
                    continue
                if earlier is not None:
                    at, was = Mark.of(key.start_mark), Mark.of(earlier.start_mark)
                    message = (f"duplicate key '{name}' (first at line {was.line} column "
                               f"{was.col}; expected each key once)")
                    found.append(Problem(display, at.line, at.col, field_path((*loc, name)),
                                         message))
                else:
                    first[name] = key
        elif isinstance(node, SequenceNode):
            stack.extend((item, (*loc, i)) for i, item in enumerate(node.value))
    return found


def _record_marks(
    loader: yaml.SafeLoader, node: Node, loc: Loc, doc: Document, active: set[int]
) -> None:
    doc.value_marks[loc] = Mark.of(node.start_mark)
    if id(node) in active:  # a recursive alias: stop rather than loop
        return
    active.add(id(node))
    if isinstance(node, MappingNode):
        # After construction merge keys are flattened: merged pairs first, own pairs last,
        # so later entries win exactly as they do in the data.
        for key, value in node.value:
            name = _key_value(loader, key)
            if isinstance(name, str | int | float | bool) or name is None:
                doc.key_marks[(*loc, name)] = Mark.of(key.start_mark)
                _record_marks(loader, value, (*loc, name), doc, active)
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            _record_marks(loader, item, (*loc, index), doc, active)
    active.discard(id(node))
