"""The validator never crashes: every value of the shipped scripts replaced by a wrong one, or
removed, still gives located problems (and the untouched scripts none)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from cc_core.config.yaml_source import Document, load_document
from cc_core.ivr.validator import check_documents, load_prompt_sets

from .conftest import SHIPPED

Path_ = tuple[str | int, ...]
WRONG: list[Any] = [None, 7, "zz", [], {"type": "nope"}]


def paths(data: Any, at: Path_ = ()) -> Iterator[Path_]:
    if isinstance(data, dict):
        for key, value in data.items():
            yield (*at, key)
            yield from paths(value, (*at, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield (*at, index)
            yield from paths(value, (*at, index))


def replaced(data: Any, at: Path_, value: Any) -> Any:
    out = copy.deepcopy(data)
    node = out
    for part in at[:-1]:
        node = node[part]
    if value is _REMOVE:
        del node[at[-1]]
    else:
        node[at[-1]] = value
    return out


_REMOVE = object()


@pytest.mark.parametrize("script", ["main_menu", "csat"])
def test_every_value_wrong_or_missing(script: str) -> None:
    path = SHIPPED / "ivr" / f"{script}.yaml"
    doc, _ = load_document(path, str(path))
    assert doc is not None
    queue_ids = ["billing", "billing_es", "tech_support", "tech_de", "sales", "vip"]
    prompts, _ = load_prompt_sets(SHIPPED / "prompts")
    scripts, found = check_documents([doc], queue_ids, prompts)
    assert (list(scripts), found) == ([script], [])
    source = doc.data
    changes = flagged = 0
    for index, at in enumerate(paths(source)):
        # One change per path, rotating through removal and the wrong values; the marks of
        # the parsed file still locate every problem.
        value = [_REMOVE, *WRONG][index % (len(WRONG) + 1)]
        broken = Document(doc.file, replaced(source, at, value), doc.value_marks, doc.key_marks)
        scripts, found = check_documents([broken], queue_ids, prompts)
        assert all(p.file == str(path) and p.line for p in found), (at, value, found)
        changes += 1
        flagged += any(p.is_error for p in found)
    # Only optional fields (a description, a retry count...) may go without complaint.
    assert flagged >= 0.85 * changes, (flagged, changes)
