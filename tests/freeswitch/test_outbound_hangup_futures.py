"""A caller who hangs up while an IVR application is being sent leaves no "Future exception
was never retrieved" behind (at a mass hang-up that was one log line per such command)."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import pytest

from pbx.freeswitch.outbound import OutboundSession
from pbx.port import PbxError


class _Writer:
    def write(self, data: bytes) -> None:
        pass

    async def drain(self) -> None:
        pass

    def is_closing(self) -> bool:
        return False


async def test_hang_up_before_the_reply_leaves_no_unretrieved_error() -> None:
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    try:
        session = OutboundSession(asyncio.StreamReader(), _Writer())  # type: ignore[arg-type]
        playing = asyncio.ensure_future(session._execute("playback", "goodbye"))
        await asyncio.sleep(0)  # the sendmsg is written; its reply is awaited
        # The caller goes: the application's completion will never come ...
        session._dispatch(
            {"Content-Type": "text/disconnect-notice", "Content-Disposition": "linger"}, ""
        )
        # ... and FreeSWITCH refuses the command sent to a channel that is gone.
        session._dispatch(
            {"Content-Type": "command/reply", "Reply-Text": "-ERR invalid session id"}, ""
        )
        with pytest.raises(PbxError):
            await playing
        del playing, session
        for _ in range(3):
            gc.collect()
            await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(previous)
    assert [c for c in reported if "never retrieved" in str(c.get("message"))] == []
