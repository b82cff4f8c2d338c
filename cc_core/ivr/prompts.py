"""Prompt sets per language (``configs/prompts/<lang>.yaml``) and the sounds a prompt plays.

A prompt is either a recording the PBX already has (``{audio: custom/welcome}``) or text. Text
is rendered by ``cc-admin prompts build`` into ``<out>/<lang>/<id>.wav``, played as
``ccplane/<lang>/<id>`` once ``<out>`` is copied to the PBX's sound folder as ``ccplane``. Text
with ``{attr}`` placeholders is rendered piece by piece (``<id>/1``, ``<id>/2``...) and the
values are spoken between the pieces with the PBX's own ``digits/`` and ``letters/`` sounds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator, PlainValidator
from pydantic_core import PydanticCustomError

from cc_core.config.value_types import ConfigModel, Identifier, LanguageCode, in_range, pattern
from cc_core.ivr.fields import SoundName, check_template
from cc_core.ivr.templates import render, split

SOUND_PREFIX = "ccplane"
Voice = Annotated[str, AfterValidator(pattern(
    r"[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)?", "an espeak-ng voice such as 'en-us' or 'de'"))]
Speed = Annotated[int, AfterValidator(in_range(80, 300, "words per minute"))]


class Audio(ConfigModel):
    audio: SoundName


def _prompt_value(value: Any) -> str | Audio:
    # One validator for both forms, so a mistake gets one message, not one per union arm.
    if isinstance(value, dict):
        return Audio.model_validate(value)
    if isinstance(value, str) and value.strip():
        return check_template(value)
    raise PydanticCustomError(
        "invalid", "got {value} (expected text, or {{audio: name}} for a recording)",
        {"value": repr(value) if isinstance(value, str) else str(value)})


PromptValue = Annotated[str | Audio, PlainValidator(_prompt_value)]


class PromptSet(ConfigModel):
    language: LanguageCode
    voice: Voice  # espeak-ng voice for the text prompts
    speed: Speed = 150
    prompts: dict[Identifier, PromptValue]


@dataclass(frozen=True)
class Piece:
    """One file to render: sound name, text, and the language's voice settings."""

    language: str
    sound: str  # ccplane/en/welcome or ccplane/en/balance/1
    text: str
    voice: str
    speed: int

    @property
    def relative_path(self) -> str:
        """Path below the build folder, without extension: ``en/welcome``."""
        return self.sound.removeprefix(SOUND_PREFIX + "/")


def sound_name(language: str, prompt_id: str, piece: int | None = None) -> str:
    base = f"{SOUND_PREFIX}/{language}/{prompt_id}"
    return base if piece is None else f"{base}/{piece}"


def spoken_value(value: str) -> list[str]:
    """The PBX's own sounds that say a value character by character (as SayAlphaNumeric)."""
    sounds = []
    for char in value.lower():
        if char.isdigit():
            sounds.append(f"digits/{char}")
        elif "a" <= char <= "z":
            sounds.append(f"letters/{char}")
    return sounds


class PromptCatalog:
    """Every prompt set, by language."""

    def __init__(self, sets: Mapping[str, PromptSet]) -> None:
        self.sets = dict(sets)

    def has(self, prompt_id: str, language: str) -> bool:
        prompt_set = self.sets.get(language)
        return prompt_set is not None and prompt_id in prompt_set.prompts

    def sounds(self, prompt_id: str, language: str, attributes: Mapping[str, str]) -> list[str]:
        """What to play for a prompt; KeyError when the language lacks it."""
        value = self.sets[language].prompts[prompt_id]
        if isinstance(value, Audio):
            return [value.audio]
        parts = split(value)
        if all(name is None for _, name in parts):
            return [sound_name(language, prompt_id)]
        sounds: list[str] = []
        piece = 0
        for text, name in parts:
            if name is not None:
                sounds += spoken_value(attributes.get(name, ""))
                continue
            piece += 1  # numbered as pieces() numbers them; blank ones are not rendered
            if text.strip():
                sounds.append(sound_name(language, prompt_id, piece))
        return sounds

    def text(self, prompt_id: str, language: str, attributes: Mapping[str, str]) -> str:
        """What a listener hears, for logs and ``cc-admin ivr try``."""
        value = self.sets[language].prompts[prompt_id]
        if isinstance(value, Audio):
            return f"<{value.audio}>"
        return render(value, attributes)

    def pieces(self) -> list[Piece]:
        """Every text piece to render, in a stable order."""
        found: list[Piece] = []
        for language in sorted(self.sets):
            prompt_set = self.sets[language]
            for prompt_id in sorted(prompt_set.prompts):
                value = prompt_set.prompts[prompt_id]
                if isinstance(value, Audio):
                    continue
                parts = split(value)
                if all(name is None for _, name in parts):
                    found.append(Piece(language, sound_name(language, prompt_id), value,
                                       prompt_set.voice, prompt_set.speed))
                    continue
                piece = 0
                for text, name in parts:
                    if name is not None:
                        continue
                    piece += 1
                    if text.strip():
                        found.append(Piece(language, sound_name(language, prompt_id, piece),
                                           text.strip(), prompt_set.voice, prompt_set.speed))
        return found
