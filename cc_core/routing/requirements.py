"""What an interaction needs from an agent at a given routing step, as a hashable class.

Interactions that need the same thing (channel, language, skills, primary skill) share one
eligibility class: an agent either fits every member of a class or none, so the engine keeps one
ordered line per class and checks an agent against a class once.
"""

from __future__ import annotations

from typing import NamedTuple

from cc_core.domain import Agent, ChannelKind, Interaction, Queue

Requirements = tuple[tuple[str, int], ...]  # ((skill, min_level), ...) sorted by skill


class EligibilityClass(NamedTuple):
    channel: ChannelKind
    language: str | None
    skills: Requirements
    primary: str | None  # the skill that BEST_SKILL ranks by: first listed at this step


def eligibility_class(queue: Queue, step: int, interaction: Interaction) -> EligibilityClass:
    """The requirements in force at ``step``: the step's skills plus (unless the step says
    otherwise) the interaction's own, keeping the higher minimum for a skill named twice, and
    the interaction's language unless the step accepts any language."""
    routing_step = queue.steps[step]
    levels: dict[str, int] = {}
    primary: str | None = None
    sources = [routing_step.requirements]
    if routing_step.include_interaction_skills:
        sources.append(interaction.skills)
    for source in sources:
        for req in source:
            if primary is None:
                primary = req.skill
            if levels.get(req.skill, 0) < req.min_level:
                levels[req.skill] = req.min_level
    language = None if routing_step.any_language else interaction.language
    return EligibilityClass(interaction.channel, language, tuple(sorted(levels.items())), primary)


def fits(agent: Agent, cls: EligibilityClass) -> bool:
    """Language and skills only; channel capacity and presence are checked by the caller."""
    if cls.language is not None and cls.language not in agent.languages:
        return False
    skills = agent.skills
    # A plain loop, not all(generator): this runs for every class an agent meets.
    for skill, level in cls.skills:  # noqa: SIM110
        if skills.get(skill, 0) < level:
            return False
    return True


def describe(cls: EligibilityClass) -> str:
    parts = [f"{skill}>={level}" for skill, level in cls.skills]
    if cls.language is not None:
        parts.append(f"lang={cls.language}")
    return ", ".join(parts) or "any member"
