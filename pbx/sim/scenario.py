"""The YAML scenario file: simulator settings, agent phones and call traffic.

Problems are reported as `file:line: field: what was expected`, from the YAML node marks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError


class ScenarioError(Exception):
    pass


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AmiSettings(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(0, ge=0, le=65535)
    accounts: dict[str, str] = Field(default_factory=lambda: {"acd": "acdsecret"})
    # A manager.conf-style file (relative to the scenario file), e.g. the shipped
    # dialplan/asterisk/manager_cc.conf: its users log in too, with their read classes and
    # eventfilter lines applied as Asterisk applies them.
    manager_conf: str | None = None


class FreeswitchSettings(_Strict):
    """`cc-sim --pbx freeswitch`: the event socket and the XML dialplan it runs."""

    host: str = "127.0.0.1"
    port: int = Field(8021, ge=0, le=65535)
    password: str = Field("cc-change-me", min_length=1)
    # Relative to the scenario file; the shipped ccplane dialplan by default.
    dialplan: list[str] = Field(
        default_factory=lambda: [
            "../../dialplan/freeswitch/vars_cc.xml",
            "../../dialplan/freeswitch/dialplan/ccplane.xml",
        ]
    )
    context: str = "ccplane"  # where generated calls enter
    preprocess: dict[str, str] = Field(default_factory=dict)  # e.g. cc_ivr_socket


class AgentPhone(_Strict):
    endpoint: str
    context: str = "agents"
    registered: bool = True  # registers when the simulator starts
    ring_delay: float = Field(0.2, ge=0)
    answer_delay: float = Field(2.0, ge=0)
    no_answer_probability: float = Field(0.0, ge=0, le=1)
    talk_time_mean: float | None = Field(180.0, gt=0)
    talk_time_min: float = Field(5.0, ge=0)
    # A WAV (mono 16-bit 8 kHz; relative to the scenario file) this phone says on every call,
    # heard by the dialplan's media fork (ChanSpy + AudioSocket).
    audio: str | None = None


class Key(_Strict):
    after: float = Field(ge=0)
    digits: str = Field(pattern=r"^[0-9*#A-D]+$")


class Number(_Strict):
    number: str = Field(min_length=1)
    calls_per_minute: float = Field(ge=0)
    keys: list[Key] = Field(default_factory=list)
    patience_mean: float = Field(120.0, ge=0)
    audio: str | None = None  # a WAV every caller of this number says (as AgentPhone.audio)


class Traffic(_Strict):
    seed: int = 1
    context: str = "from-pstn"
    trunk: str = "caller"
    duration: float | None = Field(None, gt=0)
    max_calls: int | None = Field(None, ge=0)
    numbers: list[Number] = Field(default_factory=list)


class Scenario(_Strict):
    dialplan: str
    time_scale: float = Field(1.0, gt=0)
    globals: dict[str, str] = Field(default_factory=dict)
    ami: AmiSettings = Field(default_factory=AmiSettings)
    agents: list[AgentPhone] = Field(default_factory=list)
    traffic: Traffic = Field(default_factory=Traffic)
    freeswitch: FreeswitchSettings = Field(default_factory=FreeswitchSettings)
    # The PBX's sound directory: prompts under it must exist and play for their length.
    sounds: str | None = None

    def dialplan_path(self, base: Path) -> Path:
        p = Path(self.dialplan)
        return p if p.is_absolute() else (base / p)

    def manager_conf_path(self, base: Path) -> Path | None:
        if self.ami.manager_conf is None:
            return None
        p = Path(self.ami.manager_conf)
        return p if p.is_absolute() else (base / p)

    def sound_dir(self, base: Path) -> Path | None:
        if self.sounds is None:
            return None
        p = Path(self.sounds)
        return p if p.is_absolute() else (base / p)


def load(path: Path) -> Scenario:
    text = path.read_text()
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"{mark.line + 1}" if mark else "?"
        raise ScenarioError(f"{path}:{line}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}:1: expected a mapping at the top level")
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = err["loc"]
            where = ".".join(str(p) for p in loc)
            lines.append(f"{path}:{_line(node, loc)}: {where}: {err['msg']}")
        raise ScenarioError("\n".join(lines)) from None


def _line(node: Any, loc: tuple[Any, ...]) -> int:
    """Line of the deepest YAML node the error path reaches."""
    line = node.start_mark.line + 1 if node is not None else 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = next((v for k, v in node.value if k.value == part), None)
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            nxt = node.value[part]
        else:
            nxt = None
        if nxt is None:
            break
        node = nxt
        line = node.start_mark.line + 1
    return line
