"""``ivr/*.yaml``: IVR scripts. The header (``name``, ``start``) is read here for the numbers
in queues.yaml; the whole language is checked by :mod:`cc_core.ivr.validator` through
:func:`ivr_problems`, which the loader calls for ``cc-admin check``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pydantic import ConfigDict

from cc_core.config.problems import Problem
from cc_core.config.value_types import ConfigModel, Identifier, NonEmpty
from cc_core.config.yaml_source import Document


class IvrScript(ConfigModel):
    model_config = ConfigDict(extra="allow")

    name: Identifier
    start: NonEmpty


def ivr_problems(docs: Sequence[Document], queues: Document | None, root: Path,
                 agents: Document | None = None) -> list[Problem]:
    """Every problem of the scripts and of ``prompts/*.yaml`` in config directory ``root``;
    queue and skill ids are checked against queues.yaml and agents.yaml when readable."""
    # Imported here: cc_core.ivr builds on cc_core.config, not the other way round.
    from cc_core.config.sources import raw_ids
    from cc_core.ivr.validator import PROMPTS_DIR, check_scripts

    queue_ids = list(raw_ids(queues, "queues")) if queues is not None else None
    skill_ids = list(raw_ids(agents, "skills")) if agents is not None else None
    _, problems = check_scripts(docs, queue_ids, root / PROMPTS_DIR, skill_ids)
    return problems
