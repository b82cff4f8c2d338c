"""Loading a config directory: read every file, validate, cross-check, apply overrides.

Environment overrides (applied by ``load_configs`` and ``check_directory`` alike):
``CC_DB_URL`` replaces ``acd.yaml`` ``store.url``; ``CC_REDIS_URL`` replaces
``live_state.redis_url`` (it does not switch the backend).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from cc_core.config.acd_file import AcdFile, RedisUrl, StoreUrl
from cc_core.config.agents_file import AgentsFile
from cc_core.config.centre import CentreConfig
from cc_core.config.channels_file import ChannelsFile
from cc_core.config.file_rules import acd_rules, agents_rules, queues_rules
from cc_core.config.ivr_file import IvrScript, ivr_problems
from cc_core.config.listeners import port_clashes
from cc_core.config.problems import ConfigError, Problem, Severity, did_you_mean, sorted_problems
from cc_core.config.queues_file import QueuesFile
from cc_core.config.references import cross_references
from cc_core.config.sources import Part, Sources
from cc_core.config.validation import validate_document
from cc_core.config.yaml_source import load_document

M = TypeVar("M", bound=BaseModel)

REQUIRED_FILES = ("acd.yaml", "agents.yaml", "queues.yaml")
OPTIONAL_FILES = ("channels.yaml",)
IVR_DIR = "ivr"
ENV_STORE_URL = "CC_DB_URL"
ENV_REDIS_URL = "CC_REDIS_URL"


class Collected:
    """Everything found while loading: the sources, the problems, the files looked at."""

    def __init__(self) -> None:
        self.sources = Sources()
        self.problems: list[Problem] = []
        self.files = 0

    @property
    def has_errors(self) -> bool:
        return any(p.is_error for p in self.problems)


def collect(directory: Path | str, environ: Mapping[str, str] | None = None) -> Collected:
    """Read and check every file of ``directory``; never raises for bad input."""
    found = Collected()
    root = Path(directory)
    if not root.exists():
        found.problems.append(Problem(str(root), None, None, "", "directory not found"))
        return found
    if not root.is_dir():
        found.problems.append(Problem(str(root), None, None, "", "is not a directory "
                                      "(expected a directory holding acd.yaml, agents.yaml, "
                                      "queues.yaml)"))
        return found
    src = found.sources
    src.acd = _part(found, root, "acd.yaml", AcdFile, required=True)
    src.agents = _part(found, root, "agents.yaml", AgentsFile, required=True)
    src.queues = _part(found, root, "queues.yaml", QueuesFile, required=True)
    src.channels = _part(found, root, "channels.yaml", ChannelsFile, required=False)
    src.ivr, src.ivr_unnamed = _ivr_parts(found, root)
    _unknown_files(found, root)
    if src.acd is not None:
        found.problems += acd_rules(src.acd)
    if src.agents is not None:
        found.problems += agents_rules(src.agents.doc)
    if src.queues is not None:
        found.problems += queues_rules(src.queues)
    found.problems += cross_references(src)
    found.problems += port_clashes(src)
    found.problems += ivr_problems([p.doc for p in src.ivr],
                                   src.queues.doc if src.queues else None, root,
                                   src.agents.doc if src.agents else None)
    found.problems += _environment_problems(os.environ if environ is None else environ)
    found.problems = sorted_problems(found.problems)
    return found


def load_configs(directory: Path | str, *, environ: Mapping[str, str] | None = None,
                 base_dir: Path | None = None) -> CentreConfig:
    """Load and check a config directory.

    Raises ``ConfigError`` (carrying every problem, warnings included) when any error is found.
    ``environ`` defaults to ``os.environ``; a relative SQLite path in the store URL is resolved
    against ``base_dir`` (default: the working directory).
    """
    env = os.environ if environ is None else environ
    found = collect(directory, env)
    src = found.sources
    if found.has_errors:
        raise ConfigError(found.problems)
    assert src.acd and src.agents and src.queues  # required files are present when no errors
    acd = _with_overrides(_model(src.acd), env, base_dir or Path.cwd())
    channels = _model(src.channels) if src.channels is not None else ChannelsFile()
    return CentreConfig(
        directory=Path(directory), acd=acd, agents=_model(src.agents),
        queues=_model(src.queues), channels=channels,
        ivr={_model(p).name: _model(p) for p in src.ivr},
        warnings=tuple(found.problems))


def load_acd_settings(directory: Path | str, *, environ: Mapping[str, str] | None = None,
                      base_dir: Path | None = None) -> AcdFile:
    """Only ``acd.yaml`` (for tools that need the store URL while other files are being
    edited). Raises ``ConfigError`` with that file's errors."""
    env = os.environ if environ is None else environ
    found = Collected()
    part = _part(found, Path(directory), "acd.yaml", AcdFile, required=True)
    if part is not None:
        found.problems += acd_rules(part)
    found.problems += _environment_problems(env)
    if part is None or found.has_errors:
        raise ConfigError(found.problems)
    return _with_overrides(_model(part), env, base_dir or Path.cwd())


def resolve_sqlite_path(url: str, base_dir: Path) -> str:
    """Make the file of a relative SQLite URL absolute; other URLs are returned unchanged."""
    from sqlalchemy.engine import make_url  # imported here: only loading needs SQLAlchemy

    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return url
    if database.startswith("file:") or Path(database).is_absolute():
        return url
    absolute = (base_dir / database).resolve()
    return parsed.set(database=str(absolute)).render_as_string(hide_password=False)


def _model(part: Part[M]) -> M:
    model = part.result.model
    assert model is not None  # callers only reach here when the file had no errors
    return model


def _part(found: Collected, root: Path, name: str, model: type[M],
          *, required: bool) -> Part[M] | None:
    path = root / name
    if not required and not path.exists():
        return None
    found.files += 1
    doc, problems = load_document(path, str(path))
    if doc is None and required and not path.exists():
        problems = [Problem(str(path), None, None, "", "file not found (a config directory "
                            f"needs {', '.join(REQUIRED_FILES)})")]
    found.problems += problems
    if doc is None:
        return None
    result = validate_document(doc, model)
    found.problems += result.problems
    return Part(doc, result)


def _ivr_parts(found: Collected, root: Path) -> tuple[list[Part[IvrScript]], list[str]]:
    """Valid or not, every script; and the file stems of those whose name is unreadable."""
    folder = root / IVR_DIR
    if not folder.is_dir():
        return [], []
    parts: list[Part[IvrScript]] = []
    unnamed: list[str] = []
    first: dict[str, Part[IvrScript]] = {}
    for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
        part = _part(found, folder, path.name, IvrScript, required=True)
        data = part.doc.data if part is not None else None
        name = data.get("name") if isinstance(data, dict) else None
        if part is None or not isinstance(name, str):
            unnamed.append(path.stem)
        if part is None:
            continue
        parts.append(part)
        if not isinstance(name, str):
            continue
        if name in first:
            message = (f"duplicate IVR script name '{name}' (first defined in "
                       f"{first[name].doc.file}; expected unique)")
            found.problems.append(part.doc.problem(("name",), message))
        else:
            first[name] = part
    return parts, unnamed


def _unknown_files(found: Collected, root: Path) -> None:
    known = (*REQUIRED_FILES, *OPTIONAL_FILES)
    for path in sorted([*root.glob("*.yaml"), *root.glob("*.yml")]):
        if path.name not in known:
            hint = did_you_mean(path.name, known)
            found.problems.append(Problem(str(path), None, None, "", "not a config file this "
                                          f"version reads; ignored{hint}",
                                          severity=Severity.WARNING))


def _environment_problems(env: Mapping[str, str]) -> list[Problem]:
    problems = []
    for name, kind in ((ENV_STORE_URL, StoreUrl), (ENV_REDIS_URL, RedisUrl)):
        value = env.get(name)
        if value is None:
            continue
        try:
            TypeAdapter(kind).validate_python(value)
        except ValidationError as exc:
            problems.append(Problem("environment", None, None, name, exc.errors()[0]["msg"]))
    return problems


def _with_overrides(acd: AcdFile, env: Mapping[str, str], base_dir: Path) -> AcdFile:
    store_url = env.get(ENV_STORE_URL) or acd.store.url
    redis_url = env.get(ENV_REDIS_URL) or acd.live_state.redis_url
    update: dict[str, Any] = {
        "store": acd.store.model_copy(update={"url": resolve_sqlite_path(store_url, base_dir)}),
        "live_state": acd.live_state.model_copy(update={"redis_url": redis_url}),
    }
    return acd.model_copy(update=update)
