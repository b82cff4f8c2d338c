"""[cc-exit]: the ACD's Redirect of a caller who waited too long (cc-exit,<exit>,1) records
the exit on the channel, plays that exit's prompt and ends the call."""

from __future__ import annotations

import pytest

from cc_core.domain import ExitKind
from tests.dialplan.conftest import Centre, applications, event


@pytest.mark.parametrize("exit_kind", list(ExitKind))
async def test_each_exit_plays_its_prompt_and_hangs_up(centre: Centre, exit_kind: ExitKind) -> None:
    caller = centre.call_in("+4930901821", caller_num="4930555777")
    await centre.held(caller.name)
    ami = centre.ami
    mark = ami.mark()
    await ami.redirect(caller.name, "cc-exit", exit_kind.value)
    chosen = await ami.wait_for(event("VarSet", caller.name, Variable="CC_EXIT"), since=mark)
    assert chosen["Value"] == exit_kind.value
    await ami.wait_for(event("Hangup", caller.name), since=mark)
    steps = [(ctx, app, data) for ctx, app, data in applications(ami.of(caller.name, mark))
             if ctx == "cc-exit"]
    prompt = centre.sim.pbx.globals[f"CC_EXIT_{exit_kind.name}_PROMPT"]
    assert prompt
    assert [app for _, app, _ in steps][-2:] == ["Playback", "Hangup"]
    assert steps[-2][2] == prompt
    numbers = [e["Value"] for e in ami.of(caller.name, mark)
               if e.get("Event") == "VarSet" and e.get("Variable") == "CC_CALLBACK_NUMBER"]
    assert numbers == (["4930555777"] if exit_kind is ExitKind.CALLBACK else [])

