"""The post-call satisfaction survey: ``ivr/csat`` with the interaction id as its argument.

Queues with ``csat_survey: true`` get CC_SURVEY=1 on the call when an agent is rung
(:mod:`cc_core.acd.offers`); once the agent hangs up the dialplan's ``cc-survey`` context runs
the survey script here. Its steps go to the interaction's event log; a score becomes a
``csat`` event (score, agent) and the interaction's ``csat_score`` / ``csat_agent``
attributes, so reports can rate both the contact and the agent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cc_core.acd.ivr_log import step_sink
from cc_core.ivr import HttpLookupClient, IvrContext, run_script
from cc_core.ivr.model import Script
from cc_core.logs import log_event
from cc_core.store.errors import NotFound, StoreError
from pbx.port import MediaSession, PbxError

if TYPE_CHECKING:
    from cc_core.acd.service import AcdService

log = logging.getLogger(__name__)

ERROR_VARIABLE = "CC_AGI_ERROR"


@dataclass(frozen=True, slots=True)
class Surveyed:
    """The interaction a survey is about, as far as the ACD knows it."""

    interaction_id: str
    queue: str | None
    agent_id: str | None


async def find(acd: AcdService, interaction_id: str) -> Surveyed | None:
    """The interaction in memory (usually still in wrap-up) or in the store; None if unknown.

    A store that cannot be read is not the caller's problem: the survey still runs, its score
    then carries no agent."""
    record = acd.calls.get(interaction_id)
    if record is not None:
        return Surveyed(interaction_id, record.queue, record.agent_id)
    try:
        async with acd.store.transaction(readonly=True) as repos:
            row = await repos.interactions.get(interaction_id)
    except NotFound:
        return None
    except (StoreError, OSError) as exc:
        log_event(log, "survey.store_unreadable", logging.WARNING, interaction=interaction_id,
                  error=str(exc))
        return Surveyed(interaction_id, None, None)
    return Surveyed(row.id, row.queue, row.agent_id)


async def run_survey(acd: AcdService, session: MediaSession, script: Script,
                     argument: str) -> None:
    """``argument``: the AGI argument, the interaction id the dialplan passes along."""
    interaction_id = argument.strip()
    about = await find(acd, interaction_id) if interaction_id else None
    if about is None:
        # A score nobody can attribute is worth nothing; do not ask for it.
        why = (f"survey {script.name}: unknown interaction {interaction_id!r}" if interaction_id
               else f"survey {script.name}: expected the interaction id as the AGI argument")
        log_event(log, "survey.unknown_interaction", logging.WARNING, call=session.call_id,
                  error=why)
        try:
            await session.set_variable(ERROR_VARIABLE, why)
        except PbxError:
            pass  # the caller is gone: nothing to tell the dialplan
        return
    async with HttpLookupClient() as lookups:
        outcome = await run_script(script, session, IvrContext(
            prompts=acd.centre.ivr.prompts,
            sink=step_sink(acd, about.interaction_id, about.queue, about.agent_id),
            lookup=lookups,
            attributes={"interaction_id": about.interaction_id}))
    score = outcome.csat_score
    log_event(log, "survey.done", interaction=about.interaction_id, agent=about.agent_id or "",
              score="" if score is None else score, outcome=outcome.kind.value)
    if score is None:
        return
    acd.journal.fact("csat", {"score": score, "agent": about.agent_id, "script": script.name},
                     interaction_id=about.interaction_id, queue=about.queue,
                     agent_id=about.agent_id, at=acd.now())
    acd.journal.attributes(about.interaction_id,
                           {"csat_score": score, "csat_agent": about.agent_id})
