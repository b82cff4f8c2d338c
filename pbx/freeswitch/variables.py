"""Channel variable names: the port's spelling <-> the dialplan's.

The port speaks of the contact centre's variables as ``CC_INTERACTION_ID``, ``CC_DNIS``... (the
Asterisk dialplan's names); the shipped FreeSWITCH dialplan names them in lower case, and the
dialled number is ``cc_entry_number`` there. FreeSWITCH itself is case-blind about variable
names (``switch_event_get_header`` compares with ``strcasecmp``), but an event carries a
variable under the spelling used when it was set, and other tools (a dialplan condition in a
simulator, a CDR template) may not be as forgiving: so the adapter always writes and reads the
dialplan's spelling, and reports the port's.
"""

from __future__ import annotations

from collections.abc import Mapping

# The contact centre's own variables: a port name with this prefix is lower-cased.
PORT_PREFIX = "CC_"
# Names that differ beyond case (port name -> dialplan name).
DEFAULT_ALIASES: tuple[tuple[str, str], ...] = (("CC_DNIS", "cc_entry_number"),)


class VariableNames:
    """Translates variable names between the port and one FreeSWITCH dialplan."""

    def __init__(self, aliases: tuple[tuple[str, str], ...] = DEFAULT_ALIASES) -> None:
        self._to_fs: Mapping[str, str] = dict(aliases)
        self._from_fs: Mapping[str, str] = {fs.lower(): port for port, fs in aliases}

    def to_freeswitch(self, name: str) -> str:
        """``CC_INTERACTION_ID`` -> ``cc_interaction_id``, ``CC_DNIS`` -> ``cc_entry_number``;
        names outside the contact centre's (``hangup_after_bridge``) pass unchanged."""
        if not isinstance(name, str):
            return name  # the command's own check names the bad value
        alias = self._to_fs.get(name)
        if alias is not None:
            return alias
        return name.lower() if name.startswith(PORT_PREFIX) else name

    def to_port(self, name: str) -> str:
        """The reverse: ``cc_entry_number`` -> ``CC_DNIS``, ``cc_queue`` -> ``CC_QUEUE``."""
        alias = self._from_fs.get(name.lower())
        if alias is not None:
            return alias
        return name.upper() if name.upper().startswith(PORT_PREFIX) else name

    def lookup(self, variables: Mapping[str, str], name: str) -> str | None:
        """The value of port variable ``name`` among FreeSWITCH ``variable_*`` headers, under
        the dialplan's spelling or the port's (whichever set it)."""
        fs = self.to_freeswitch(name)
        for spelling in (fs, name, fs.upper()):
            value = variables.get(f"variable_{spelling}")
            if value is not None:
                return value
        return None
