"""`PortWrapper`: a PBX port in front of another one, forwarding what it does not handle.

A wrapper (the callback port) changes a few commands and passes the rest on. Forwarding by
hand drifts: a method added to :class:`~pbx.port.PbxPort`, or a parameter added to one,
is silently dropped or answered by the wrong port. Here every abstract member of
``PbxPort`` that a subclass does not define itself is generated from ``PbxPort``'s own
declaration: same name, signature, annotations and docstring (so ``inspect.signature`` and
``help`` show the real thing, and type checkers read ``PbxPort``'s hints), calling ``inner``
with every argument passed on (bound to that signature), except that a parameter whose name
ends in ``call_id`` goes through :meth:`PortWrapper.real_call` first (a wrapper's own call
ids stand for real calls).
Attributes ``PbxPort`` does not declare (an adapter's settings, counters) are read from
``inner`` too.
"""

from __future__ import annotations

import abc
import functools
import inspect
from collections.abc import Callable
from typing import Any

from pbx.port import PbxPort

# Parameters holding a call id, by the port's naming (call_id, target_call_id).
CALL_ID_SUFFIX = "call_id"


class PortWrapper(PbxPort):
    """Forwards every ``PbxPort`` member a subclass does not define to ``inner``."""

    def __init__(self, inner: PbxPort) -> None:
        self.inner = inner

    def real_call(self, call_id: str) -> str:
        """The inner port's call for one of this port's call ids (the same by default)."""
        return call_id

    def __getattr__(self, name: str) -> Any:
        # Only for names not found on the wrapper: an adapter's own attributes.
        if name == "inner":  # not set yet (during __init__ or unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.inner, name)


def _call_id_parameters(signature: inspect.Signature) -> tuple[str, ...]:
    return tuple(name for name in signature.parameters if name.endswith(CALL_ID_SUFFIX))


def _forwarder(name: str, declared: Callable[..., Any]) -> Callable[..., Any]:
    signature = inspect.signature(declared)
    call_ids = _call_id_parameters(signature)

    def arguments(
        self: PortWrapper, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        if not call_ids:
            return args, kwargs
        bound = signature.bind(self, *args, **kwargs)
        for parameter in call_ids:
            if isinstance(bound.arguments.get(parameter), str):
                bound.arguments[parameter] = self.real_call(bound.arguments[parameter])
        return bound.args[1:], bound.kwargs

    forward: Callable[..., Any]
    if inspect.iscoroutinefunction(declared):

        async def forward(self: PortWrapper, *args: Any, **kwargs: Any) -> Any:
            args, kwargs = arguments(self, args, kwargs)
            return await getattr(self.inner, name)(*args, **kwargs)

    else:

        def forward(self: PortWrapper, *args: Any, **kwargs: Any) -> Any:
            args, kwargs = arguments(self, args, kwargs)
            return getattr(self.inner, name)(*args, **kwargs)

    functools.update_wrapper(forward, declared)
    # update_wrapper copied the declaration's __isabstractmethod__: this one is concrete.
    forward.__isabstractmethod__ = False  # type: ignore[attr-defined]
    return forward


def _forwarding_property(name: str, declared: property) -> property:
    def get(self: PortWrapper) -> Any:
        return getattr(self.inner, name)

    if declared.fget is not None:
        functools.update_wrapper(get, declared.fget)
        get.__isabstractmethod__ = False  # type: ignore[attr-defined]
    return property(get, doc=declared.__doc__)


def _members() -> frozenset[str]:
    """What ``PbxPort`` declares: its abstract members and those with a default body (a
    port without, say, served marks answers the default; a wrapper must still ask its
    inner port)."""
    return frozenset(
        name
        for name, value in vars(PbxPort).items()
        if not name.startswith("_") and (inspect.isfunction(value) or isinstance(value, property))
    )


def _fill(cls: type[PortWrapper]) -> None:
    for name in sorted(_members()):
        declared = inspect.getattr_static(PbxPort, name)
        if isinstance(declared, property):
            setattr(cls, name, _forwarding_property(name, declared))
        else:
            setattr(cls, name, _forwarder(name, declared))
    abc.update_abstractmethods(cls)


_fill(PortWrapper)


def forwarded(cls: type[PortWrapper]) -> frozenset[str]:
    """The ``PbxPort`` members ``cls`` passes to its inner port unchanged (not its own)."""
    own = {
        name
        for klass in cls.__mro__
        if klass is not PortWrapper and issubclass(klass, PortWrapper)
        for name in vars(klass)
    }
    return frozenset(_members() - own)
