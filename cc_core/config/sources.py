"""The parsed files of one config directory, as the rule modules see them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from cc_core.config.acd_file import AcdFile
from cc_core.config.agents_file import AgentsFile
from cc_core.config.channels_file import ChannelsFile
from cc_core.config.ivr_file import IvrScript
from cc_core.config.queues_file import QueuesFile
from cc_core.config.validation import Validated
from cc_core.config.yaml_source import Document, Loc

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


@dataclass
class Part(Generic[M]):
    """One file: its document (for marks and raw ids) and its validation result."""

    doc: Document
    result: Validated[M]

    @property
    def partial(self) -> M:
        return self.result.partial


@dataclass
class Sources:
    acd: Part[AcdFile] | None = None
    agents: Part[AgentsFile] | None = None
    queues: Part[QueuesFile] | None = None
    channels: Part[ChannelsFile] | None = None
    ivr: list[Part[IvrScript]] = field(default_factory=list)
    # File stems of IVR scripts whose name could not be read; references to them are let pass.
    ivr_unnamed: list[str] = field(default_factory=list)


def present(items: list[T | None] | None) -> Iterator[tuple[int, T]]:
    """(index, item) for the items that validated; invalid ones are None in a partial model."""
    for index, item in enumerate(items or []):
        if item is not None:
            yield index, item


def raw_ids(doc: Document | None, section: str, key: str = "id") -> dict[str, Loc]:
    """Ids written in ``section`` (a list of mappings), valid or not, first occurrence kept.

    References are checked against these, so an item with an unrelated error does not also
    make every reference to it "unknown".
    """
    found: dict[str, Loc] = {}
    if doc is None or not isinstance(doc.data, dict):
        return found
    items = doc.data.get(section)
    if not isinstance(items, list):
        return found
    for index, item in enumerate(items):
        if isinstance(item, dict) and isinstance(item.get(key), str):
            found.setdefault(item[key], (section, index, key))
    return found


def raw_items(doc: Document, section: str) -> Iterator[tuple[int, dict[Any, Any]]]:
    data = doc.data if isinstance(doc.data, dict) else {}
    items = data.get(section)
    for index, item in enumerate(items if isinstance(items, list) else []):
        if isinstance(item, dict):
            yield index, item
