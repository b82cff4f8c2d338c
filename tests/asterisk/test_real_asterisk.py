"""Opt-in: the adapter against a real Asterisk.

Set ``CC_TEST_ASTERISK=host:port:user:secret`` (an AMI account with read/write ``all``) on an
Asterisk that runs the recorded test dialplan
(``../shared/pbx-captures/asterisk-22.10.1/conf/extensions.conf``: ``local-test`` context).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest

from pbx.asterisk import AsteriskPort, AsteriskSettings
from pbx.port import (
    CallAnswered,
    CallHungUp,
    ConnectionRestored,
    NoSuchCall,
    PbxEvent,
    Resynced,
)

from .conftest import collect_until

pytestmark = pytest.mark.asterisk

TARGET = os.environ.get("CC_TEST_ASTERISK", "")
if not TARGET:
    pytest.skip(
        "CC_TEST_ASTERISK=host:port:user:secret is not set: no real Asterisk to test against",
        allow_module_level=True,
    )


def real_settings() -> AsteriskSettings:
    parts = TARGET.split(":", 3)
    if len(parts) != 4 or not parts[1].isdigit():
        pytest.fail(f"CC_TEST_ASTERISK={TARGET!r}: expected host:port:user:secret", pytrace=False)
    host, port, user, secret = parts
    return AsteriskSettings(
        host=host, port=int(port), username=user, secret=secret, reconnect_initial=0.2
    )


def of(kind: type[PbxEvent], **match: object):
    return lambda events: any(
        isinstance(e, kind) and all(getattr(e, k) == v for k, v in match.items()) for e in events
    )


@pytest.fixture
async def port() -> AsyncIterator[AsteriskPort]:
    adapter = AsteriskPort(real_settings())
    await adapter.start()
    yield adapter
    await adapter.close()


async def test_ping_and_list(port: AsteriskPort) -> None:
    assert await port.ping() < 1.0
    assert isinstance(await port.list_live_calls(), list)


async def test_originate_variables_redirect_resync_hangup(port: AsteriskPort) -> None:
    sub = port.events()
    call_id = await port.originate(
        "Local/hold@local-test",
        "local-test",
        "hold",
        caller_id='"ACD Test" <5550001>',
        variables={"CC_INTERACTION_ID": "real-1"},
        ring_timeout=10,
    )
    await collect_until(sub, of(CallAnswered, call_id=call_id), within=10)
    assert await port.get_variable(call_id, "CC_INTERACTION_ID") == "real-1"
    assert await port.get_variable(call_id, "CC_NEVER_SET") is None
    await port.set_variable(call_id, "CC_NOTE", "set over AMI")
    assert await port.get_variable(call_id, "CC_NOTE") == "set over AMI"
    await port.redirect(call_id, "local-test", "hold")

    port.drop_link("test: simulated link loss")
    events = await collect_until(sub, of(Resynced), within=10)
    assert ConnectionRestored in [type(e) for e in events]
    resynced = events[-1]
    assert isinstance(resynced, Resynced)
    (call,) = [c for c in resynced.calls if c.call_id == call_id]
    assert call.variables.get("CC_INTERACTION_ID") == "real-1"

    await port.hangup(call_id)
    ended = await collect_until(sub, of(CallHungUp, call_id=call_id), within=10)
    hangup = next(e for e in ended if isinstance(e, CallHungUp) and e.call_id == call_id)
    assert hangup.cause.code == 16


async def test_unknown_channel_is_no_such_call(port: AsteriskPort) -> None:
    with pytest.raises(NoSuchCall):
        await port.hangup("PJSIP/nosuch-00000001")
    with pytest.raises(NoSuchCall):
        await port.redirect("PJSIP/nosuch-00000001", "local-test", "hold")
