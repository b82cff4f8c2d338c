"""Pydantic validation of one document, with every error turned into a located ``Problem``.

Besides the verdict, ``validate_document`` returns a *partial* model holding every part of the
document that is valid on its own (list items and mapping entries one by one), so that
cross-file checks still run on a file that has errors elsewhere.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Generic, TypeVar, get_args, get_origin

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from cc_core.config.problems import Problem, did_you_mean, quoted_list
from cc_core.config.yaml_source import Document, Loc

M = TypeVar("M", bound=BaseModel)

_STRICT = ConfigDict(strict=True)

_EXPECTED_BY_TYPE = {
    "int_type": "an integer",
    "float_type": "a number",
    "string_type": "a string",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "none_required": "nothing (null)",
}


@dataclass
class Validated(Generic[M]):
    """``model`` is set only when the whole document is valid; ``partial`` always is.

    In ``partial`` an invalid list item is None and an invalid section is None, whatever the
    field's declared type says; code reading it must check.
    """

    model: M | None
    partial: M
    problems: list[Problem]


def validate_document(doc: Document, model: type[M]) -> Validated[M]:
    if not isinstance(doc.data, dict):
        keys = quoted_list(_aliases(model))
        got = _kind(doc.data)
        problem = doc.problem((), f"top level is {got} (expected a mapping with keys {keys})")
        return Validated(None, model.model_construct(), [problem])
    try:
        valid = model.model_validate(doc.data)
    except ValidationError as exc:
        problems = [_problem(doc, model, error) for error in exc.errors(include_url=False)]
        return Validated(None, salvage(model, doc.data), problems)
    return Validated(valid, valid, [])


def salvage(model: type[M], data: dict[Any, Any]) -> M:
    """Build ``model`` from the parts of ``data`` that validate on their own."""
    parts: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        key = info.alias or name
        if key not in data:
            continue
        value = data[key]
        try:
            parts[name] = _field_adapter(model, name).validate_python(value)
            continue
        except ValidationError:
            pass
        annotation = info.annotation
        if get_origin(annotation) is list and isinstance(value, list):
            item = _adapter(get_args(annotation)[0])
            parts[name] = [_or_none(item, v) for v in value]
        elif get_origin(annotation) is dict and isinstance(value, dict):
            entry = _adapter(get_args(annotation)[1])
            checked = {k: _or_none(entry, v) for k, v in value.items()}
            parts[name] = {k: v for k, v in checked.items() if v is not None}
        else:
            parts[name] = None
    return model.model_construct(**parts)


def _or_none(adapter: TypeAdapter[Any], value: Any) -> Any:
    try:
        return adapter.validate_python(value)
    except ValidationError:
        return None


@cache
def _field_adapter(model: type[BaseModel], name: str) -> TypeAdapter[Any]:
    info = model.model_fields[name]
    if not info.metadata:
        return _adapter(info.annotation)
    return _adapter(Annotated[info.annotation, *info.metadata])


@cache
def _adapter(annotation: Any) -> TypeAdapter[Any]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return TypeAdapter(annotation)  # a model brings its own (strict) config
    return TypeAdapter(annotation, config=_STRICT)


def _problem(doc: Document, model: type[BaseModel], error: Any) -> Problem:
    raw_loc: tuple[str | int, ...] = tuple(error["loc"])
    loc = doc.resolve(raw_loc)
    kind: str = error["type"]
    value = error.get("input")
    if kind == "missing":
        expected = _describe(_type_at(model, loc))
        return doc.problem(loc, f"required field is missing (expected {expected})")
    if kind == "extra_forbidden":
        name = loc[-1] if loc else ""
        allowed = _aliases_at(model, loc[:-1])
        hint = did_you_mean(name, allowed)
        text = f"unknown field '{name}'"
        text += hint if hint else f" (expected one of {quoted_list(allowed)})"
        return doc.problem(loc, text, key=True)
    on_key = raw_loc[-1:] == ("[key]",)
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        choices = [c.strip("'") for c in expected.replace(" or ", ", ").split(", ")]
        hint = did_you_mean(value, choices)
        hint = f"; {hint.strip()[1:-1]}" if hint else ""
        return doc.problem(loc, f"got {_show(value)} (expected {expected}{hint})", key=on_key)
    if kind in _EXPECTED_BY_TYPE:
        hint = ""
        if kind == "string_type" and isinstance(value, bool):
            hint = "; quote it: YAML reads yes/no/on/off as true/false"
        elif kind == "string_type" and isinstance(value, int | float):
            hint = "; quote it: YAML reads digits as a number"
        text = f"got {_show(value)} (expected {_EXPECTED_BY_TYPE[kind]}{hint})"
        return doc.problem(loc, text, key=on_key)
    return doc.problem(loc, _strip_prefix(error["msg"]), key=on_key)


def _strip_prefix(message: str) -> str:
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            return message[len(prefix) :]
    return message


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict | list):
        return _kind(value)
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _kind(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    return f"a {type(value).__name__}"


def _aliases(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def _unwrap(annotation: Any) -> Any:
    """Strip ``Annotated`` and ``| None`` to the type that describes the value."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            arms = [a for a in get_args(annotation) if a is not type(None)]
            if len(arms) != 1:
                return annotation
            annotation = arms[0]
        else:
            return annotation


def _type_at(model: type[BaseModel], loc: Sequence[str | int]) -> Any:
    """The declared type of the value at ``loc`` below ``model``, or None if unknown."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        origin = get_origin(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            by_alias = {info.alias or n: info for n, info in current.model_fields.items()}
            info = by_alias.get(str(part))
            if info is None:
                return None
            current = info.annotation
        elif origin is list:
            current = get_args(current)[0]
        elif origin is dict:
            current = get_args(current)[1]
        else:
            return None
    return _unwrap(current)


def _aliases_at(model: type[BaseModel], loc: Loc) -> list[str]:
    found = _type_at(model, loc)
    if isinstance(found, type) and issubclass(found, BaseModel):
        return _aliases(found)
    return []


def _describe(annotation: Any) -> str:
    annotation = _unwrap(annotation)
    origin = get_origin(annotation)
    if annotation is None:
        return "a value"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"a mapping with keys {quoted_list(_aliases(annotation))}"
    if origin is typing.Literal:
        return "one of " + quoted_list(str(a) for a in get_args(annotation))
    if origin is list:
        return "a list"
    if origin is dict:
        return "a mapping"
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}
    return names.get(annotation, "a value")

