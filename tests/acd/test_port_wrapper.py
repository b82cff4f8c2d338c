"""`PortWrapper`: every `PbxPort` member a wrapper does not define reaches the inner port,
with the port's own signature, every argument, and call ids mapped to the real call."""

from __future__ import annotations

import abc
import inspect
from typing import Any

from cc_core.acd.callback import CallbackPort
from cc_core.acd.port_wrapper import PortWrapper, forwarded
from pbx.port import PbxPort


def test_every_port_member_is_handled_or_forwarded() -> None:
    own = {"start", "close", "events", "connect_agent", "hold", "redirect", "hangup"}
    own |= {"set_variable", "get_variable", "list_live_calls"}
    # Abstract members and those with a default body (a wrapper must still ask its port).
    assert forwarded(CallbackPort) == (PbxPort.__abstractmethods__ | {"served_by"}) - own
    assert not CallbackPort.__abstractmethods__
    for name in forwarded(CallbackPort):
        mine, declared = getattr(CallbackPort, name), getattr(PbxPort, name)
        if isinstance(declared, property):
            assert isinstance(mine, property)
            continue
        # The forwarded ones carry the port's own signature and hints.
        assert inspect.signature(mine) == inspect.signature(declared), name


class _Recorder(PbxPort):
    """A port that records each command reaching it (for the wrapper's forwarding)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self.extra = "adapter attribute"

    @property
    def connected(self) -> bool:
        return True


def _recording(name: str) -> Any:
    async def command(self: _Recorder, *args: Any, **kwargs: Any) -> str:
        self.seen.append((name, args, kwargs))
        return "ok"

    return command


for _name in PbxPort.__abstractmethods__ - {"connected"}:
    setattr(_Recorder, _name, _recording(_name))
abc.update_abstractmethods(_Recorder)


class _Mapping(PortWrapper):
    def real_call(self, call_id: str) -> str:
        return f"real-{call_id}"


async def test_the_wrapper_passes_every_argument_and_maps_call_ids() -> None:
    inner = _Recorder()
    port = _Mapping(inner)
    assert port.connected is True and port.extra == "adapter attribute"
    await port.spy("PJSIP/1005", "v1", mode="listen", timeout_s=2)  # type: ignore[arg-type]
    await port.start_recording("v2", "/tmp/x.wav")
    await port.originate("PJSIP/1", "ctx", "s", caller_id="x", variables={"A": "1"})
    assert inner.seen == [
        ("spy", ("PJSIP/1005", "real-v1", "listen"), {"timeout_s": 2}),
        ("start_recording", ("real-v2", "/tmp/x.wav"), {}),
        ("originate", ("PJSIP/1", "ctx", "s"), {"caller_id": "x", "variables": {"A": "1"}}),
    ]
