"""What ``${...}`` sees on a channel: builtins, then channel variables, then globals.

This is Asterisk's lookup order (``pbx_retrieve_variable``): ``${EXTEN}`` is always the current
extension even if a channel variable of that name was set. :func:`channel_scope` builds that
chain for any object shaped like :class:`ChannelInfo`; :func:`channel_functions` gives the
``CALLERID()`` and ``CHANNEL()`` readers over the same object.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Callable, Mapping
from typing import Protocol

from pbx.sim.dialplan.errors import DialplanError
from pbx.sim.dialplan.substitution import Function, callerid_value


class ChannelInfo(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def uniqueid(self) -> str: ...

    @property
    def context(self) -> str: ...

    @property
    def exten(self) -> str: ...

    @property
    def priority(self) -> int: ...

    @property
    def caller_num(self) -> str: ...

    @property
    def caller_name(self) -> str: ...

    @property
    def language(self) -> str: ...

    @property
    def accountcode(self) -> str: ...


def builtin_variables(chan: ChannelInfo) -> dict[str, str]:
    return {
        "EXTEN": chan.exten,
        "CONTEXT": chan.context,
        "PRIORITY": str(chan.priority),
        "CHANNEL": chan.name,
        "UNIQUEID": chan.uniqueid,
        "LANGUAGE": chan.language,
        "ACCOUNTCODE": chan.accountcode,
    }


def channel_scope(
    chan: ChannelInfo, variables: Mapping[str, str], globals_: Mapping[str, str]
) -> ChainMap[str, str]:
    """A read-only view for :func:`~pbx.sim.dialplan.substitute`, in Asterisk's order."""
    return ChainMap(builtin_variables(chan), dict(variables), dict(globals_))


_CHANNEL_FIELDS: dict[str, Callable[[ChannelInfo], str]] = {
    "name": lambda c: c.name,
    "uniqueid": lambda c: c.uniqueid,
    "context": lambda c: c.context,
    "exten": lambda c: c.exten,
    "priority": lambda c: str(c.priority),
    "language": lambda c: c.language,
    "accountcode": lambda c: c.accountcode,
    "channeltype": lambda c: c.name.split("/", 1)[0],
}


def channel_value(chan: ChannelInfo, item: str) -> str:
    """``CHANNEL(item)`` read for the items a channel object can answer."""
    getter = _CHANNEL_FIELDS.get(item.strip().lower())
    if getter is None:
        raise DialplanError(
            f"CHANNEL({item}): expected one of {', '.join(sorted(_CHANNEL_FIELDS))}"
        )
    return getter(chan)


def channel_functions(chan: ChannelInfo) -> dict[str, Function]:
    return {
        "CALLERID": lambda args: callerid_value(args, chan.caller_num, chan.caller_name),
        "CHANNEL": lambda args: channel_value(chan, args),
    }
