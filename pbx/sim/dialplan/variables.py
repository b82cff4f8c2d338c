"""Channel variables with Asterisk's inheritance prefixes.

``Set(_FOO=1)`` sets ``FOO`` and marks it to be copied once to channels this one creates;
``Set(__FOO=1)`` marks it to be copied to every descendant. Reads use the bare name
(``${FOO}``); the prefix is the inheritance flag and is what AMI ``VarSet`` events show.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass


class Inheritance(enum.IntEnum):
    NONE = 0
    ONCE = 1  # "_FOO": the child gets FOO without the flag
    ALWAYS = 2  # "__FOO": every descendant gets __FOO


def split_name(name: str) -> tuple[str, Inheritance]:
    """``"__FOO"`` -> ``("FOO", ALWAYS)``; ``"_FOO"`` -> ``("FOO", ONCE)``."""
    if name.startswith("__"):
        return name[2:], Inheritance.ALWAYS
    if name.startswith("_"):
        return name[1:], Inheritance.ONCE
    return name, Inheritance.NONE


def prefixed(name: str, inheritance: Inheritance) -> str:
    return "_" * int(inheritance) + name


@dataclass(slots=True)
class Variable:
    value: str
    inheritance: Inheritance = Inheritance.NONE


class ChannelVariables(MutableMapping[str, str]):
    """A channel's variables: a ``str -> str`` mapping keyed by bare name.

    ``store["__FOO"] = "1"`` sets ``FOO`` with the ALWAYS flag; ``store["FOO"]`` reads it.
    Setting a variable to ``""`` keeps it (set but empty), as Asterisk does; ``del`` unsets it.
    """

    def __init__(self, initial: MutableMapping[str, str] | None = None) -> None:
        self._vars: dict[str, Variable] = {}
        for key, value in (initial or {}).items():
            self[key] = value

    def __getitem__(self, name: str) -> str:
        bare, _ = split_name(name)
        return self._vars[bare].value

    def __setitem__(self, name: str, value: str) -> None:
        bare, inheritance = split_name(name)
        if not bare:
            raise KeyError(f"empty variable name {name!r}")
        self._vars[bare] = Variable(str(value), inheritance)

    def __delitem__(self, name: str) -> None:
        bare, _ = split_name(name)
        del self._vars[bare]

    def __iter__(self) -> Iterator[str]:
        return iter(self._vars)

    def __len__(self) -> int:
        return len(self._vars)

    def flag(self, name: str) -> Inheritance:
        bare, _ = split_name(name)
        return self._vars[bare].inheritance

    def full_name(self, name: str) -> str:
        """The name with its inheritance prefix, as ``VarSet`` reports it."""
        bare, _ = split_name(name)
        return prefixed(bare, self._vars[bare].inheritance)

    def inherited(self) -> ChannelVariables:
        """The variables a channel created by this one starts with."""
        child = ChannelVariables()
        for bare, var in self._vars.items():
            if var.inheritance is Inheritance.ALWAYS:
                child._vars[bare] = Variable(var.value, Inheritance.ALWAYS)
            elif var.inheritance is Inheritance.ONCE:
                child._vars[bare] = Variable(var.value, Inheritance.NONE)
        return child
