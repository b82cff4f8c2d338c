"""Loading what the interpreter runs: every script of ``<configs>/ivr`` and the prompt sets."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cc_core.config.problems import ConfigError, Problem
from cc_core.config.sources import raw_ids
from cc_core.config.yaml_source import Document, load_document
from cc_core.ivr.model import Script
from cc_core.ivr.prompts import PromptCatalog
from cc_core.ivr.validator import PROMPTS_DIR, check_scripts, load_prompt_sets

IVR_DIR = "ivr"


@dataclass(frozen=True)
class IvrLibrary:
    scripts: dict[str, Script]
    prompts: PromptCatalog
    warnings: tuple[Problem, ...] = ()

    def script(self, name: str) -> Script:
        """The script called ``name``; KeyError naming the known ones otherwise."""
        try:
            return self.scripts[name]
        except KeyError:
            known = ", ".join(sorted(self.scripts)) or "none"
            raise KeyError(f"no IVR script '{name}' (known: {known})") from None


def script_documents(config_dir: Path) -> tuple[list[Document], list[Problem]]:
    folder = config_dir / IVR_DIR
    docs: list[Document] = []
    problems: list[Problem] = []
    if not folder.is_dir():
        return docs, problems
    for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
        doc, found = load_document(path, str(path))
        problems += found
        if doc is not None:
            docs.append(doc)
    return docs, problems


def written_ids(config_dir: Path, file: str, section: str) -> list[str] | None:
    """Ids written in ``section`` of a config file (queues of queues.yaml, skills of
    agents.yaml), or None when it cannot be read (they are not checked then)."""
    path = config_dir / file
    if not path.exists():
        return None
    doc, _ = load_document(path, str(path))
    return list(raw_ids(doc, section)) if doc is not None else None


def load_library(config_dir: Path | str) -> IvrLibrary:
    """Scripts and prompts of a config directory; ConfigError listing every problem."""
    root = Path(config_dir)
    docs, problems = script_documents(root)
    scripts, found = check_scripts(docs, written_ids(root, "queues.yaml", "queues"),
                                   root / PROMPTS_DIR,
                                   written_ids(root, "agents.yaml", "skills"))
    problems += found
    if any(p.is_error for p in problems):
        raise ConfigError(problems)
    prompts, _ = load_prompt_sets(root / PROMPTS_DIR)
    return IvrLibrary(scripts, PromptCatalog(prompts), tuple(problems))
