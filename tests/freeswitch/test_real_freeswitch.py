"""Opt-in: the adapter against a real FreeSWITCH.

Set ``CC_TEST_FREESWITCH=host:port:password`` on a FreeSWITCH whose ``default`` context has the
recorded test extensions (``../shared/pbx-captures/freeswitch-1.10.12/conf/default.xml``:
``9999`` answers and parks, ``park`` parks).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest

from pbx.freeswitch import FreeSwitchPort, FreeSwitchSettings
from pbx.port import (
    CallAnswered,
    CallArrived,
    CallHungUp,
    ConnectionRestored,
    NoSuchCall,
    PbxEvent,
    Resynced,
)

from .conftest import collect_until

pytestmark = pytest.mark.freeswitch

TARGET = os.environ.get("CC_TEST_FREESWITCH", "")
if not TARGET:
    pytest.skip(
        "CC_TEST_FREESWITCH=host:port:password is not set: no real FreeSWITCH to test against",
        allow_module_level=True,
    )


def real_settings() -> FreeSwitchSettings:
    parts = TARGET.split(":", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        pytest.fail(f"CC_TEST_FREESWITCH={TARGET!r}: expected host:port:password", pytrace=False)
    host, port, password = parts
    return FreeSwitchSettings(
        host=host,
        port=int(port),
        password=password,
        inbound_contexts=("default",),
        reconnect_initial=0.2,
    )


def of(kind: type[PbxEvent], **match: object):  # type: ignore[no-untyped-def]
    return lambda events: any(
        isinstance(e, kind) and all(getattr(e, k) == v for k, v in match.items()) for e in events
    )


@pytest.fixture
async def port() -> AsyncIterator[FreeSwitchPort]:
    adapter = FreeSwitchPort(real_settings())
    await adapter.start()
    yield adapter
    await adapter.close()


async def test_originate_park_variables_list_and_kill(port: FreeSwitchPort) -> None:
    sub = port.events()
    assert (await port.api("status")).startswith("UP ")
    call = await port.originate("loopback/9999/default", "default", "park", caller_id="5551234")
    await collect_until(
        sub,
        lambda ev: of(CallAnswered, call_id=call)(ev) and of(CallArrived, caller_num="5551234")(ev),
    )
    await port.set_variable(call, "CC_INTERACTION_ID", "real-1")
    assert await port.get_variable(call, "CC_INTERACTION_ID") == "real-1"
    calls = {c.call_id: c for c in await port.list_live_calls()}
    assert calls[call].variables.get("CC_INTERACTION_ID") == "real-1"
    await port.hangup(call)
    await collect_until(sub, of(CallHungUp, call_id=call))
    with pytest.raises(NoSuchCall):
        await port.hangup(call)


async def test_link_drop_and_resync(port: FreeSwitchPort) -> None:
    sub = port.events()
    call = await port.originate("loopback/9999/default", "default", "park")
    await collect_until(sub, of(CallAnswered, call_id=call))
    await port.set_variable(call, "CC_INTERACTION_ID", "real-2")
    port.drop_link("test drop")
    events = await collect_until(sub, of(Resynced))
    assert ConnectionRestored() in events
    (resynced,) = [e for e in events if isinstance(e, Resynced)]
    assert any(
        c.call_id == call and c.variables.get("CC_INTERACTION_ID") == "real-2"
        for c in resynced.calls
    )
    await port.hangup(call)
