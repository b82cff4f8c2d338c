"""The post-call survey: the score travels in the outcome; anything else gives no score."""

from __future__ import annotations

import pytest

from cc_core.ivr import IvrContext, IvrLibrary, OutcomeKind, ScriptedSession, run_script

from .conftest import walk


@pytest.mark.parametrize("score", [1, 2, 3, 4, 5])
async def test_a_score_ends_the_call_with_thanks(score: int, library: IvrLibrary) -> None:
    done = await walk(library, "csat", str(score), attributes={"interaction_id": "i-9"})
    outcome = done.outcome
    assert (outcome.kind, outcome.csat_score) == (OutcomeKind.HANGUP, score)
    assert outcome.attributes["interaction_id"] == "i-9"
    assert done.session.played[-1] == "ccplane/en/csat_thanks"
    assert done.session.hung_up


@pytest.mark.parametrize(("keys", "score", "why"), [
    ("0,4", 4, ["does not match [1-5]"]),
    ("9,#", None, ["does not match [1-5]", "does not match [1-5]"]),
    ("T,3", 3, []),
    ("T,T", None, []),
])
async def test_wrong_keys_and_silence(keys: str, score: int | None, why: list[str],
                                      library: IvrLibrary) -> None:
    done = await walk(library, "csat", keys)
    assert done.outcome.csat_score == score
    assert [e.detail["why"] for e in done.kinds("invalid")] == why
    assert done.outcome.path[-1] == ("thanks" if score else "no_score")


async def test_survey_speaks_the_callers_language(library: IvrLibrary) -> None:
    done = await walk(library, "csat", "5", attributes={"language": "es"})
    assert done.session.played == ["ccplane/es/csat_question", "ccplane/es/csat_thanks"]
    assert done.outcome.language == "es"


async def test_an_unknown_language_falls_back_to_the_default(library: IvrLibrary) -> None:
    done = await walk(library, "csat", "5", attributes={"language": "fr"})
    assert done.session.played[0] == "ccplane/en/csat_question"


async def test_hanging_up_before_scoring_gives_no_score(library: IvrLibrary) -> None:
    done = await walk(library, "csat", "H")
    assert (done.outcome.kind, done.outcome.csat_score) == (OutcomeKind.CALLER_HUNG_UP, None)


async def test_hanging_up_during_the_thanks_keeps_the_score(library: IvrLibrary) -> None:
    done = await walk(library, "csat", "2,H")
    assert (done.outcome.kind, done.outcome.csat_score) == (OutcomeKind.CALLER_HUNG_UP, 2)
    assert done.outcome.node == "thanks"


async def test_the_channel_language_is_kept_when_the_acd_gives_none(
        library: IvrLibrary) -> None:
    session = ScriptedSession(["3"], variables={"CHANNEL(language)": "es"})
    outcome = await run_script(library.script("csat"), session,
                               IvrContext(prompts=library.prompts))
    assert (outcome.language, outcome.csat_score) == ("es", 3)
    assert session.played[0] == "ccplane/es/csat_question"
    # An attribute from the ACD wins over the channel.
    session = ScriptedSession(["3"], variables={"CHANNEL(language)": "es"})
    outcome = await run_script(library.script("csat"), session,
                               IvrContext(prompts=library.prompts,
                                          attributes={"language": "de"}))
    assert outcome.language == "de"
