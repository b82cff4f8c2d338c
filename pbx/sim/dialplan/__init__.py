"""The dialplan language of the simulated PBX: Asterisk's ``extensions.conf``.

Load with :meth:`Dialplan.load`; step through it with :meth:`Dialplan.find`,
:meth:`Dialplan.next_priority` and :meth:`Dialplan.find_label`; expand arguments with
:func:`substitute` (or :func:`expand` over callables); evaluate ``$[...]`` with :func:`evaluate`.
See ``docs/pbx-port.md`` for the supported subset.
"""

from pbx.sim.dialplan.applications import REGISTERED_APPLICATIONS, canonical_application
from pbx.sim.dialplan.args import (
    GotoTarget,
    check_condition,
    parse_goto,
    split_args,
    split_assignment,
    split_condition,
)
from pbx.sim.dialplan.errors import DialplanError, ExpressionError
from pbx.sim.dialplan.expressions import evaluate
from pbx.sim.dialplan.model import Context, Dialplan, Extension, Include, Step
from pbx.sim.dialplan.patterns import ExtensionName
from pbx.sim.dialplan.scope import (
    ChannelInfo,
    builtin_variables,
    channel_functions,
    channel_scope,
    channel_value,
)
from pbx.sim.dialplan.substitution import (
    STANDARD_FUNCTIONS,
    callerid_value,
    expand,
    split_function,
    substitute,
    substring,
)
from pbx.sim.dialplan.variables import ChannelVariables, Inheritance, split_name

__all__ = [
    "REGISTERED_APPLICATIONS",
    "STANDARD_FUNCTIONS",
    "ChannelInfo",
    "ChannelVariables",
    "Context",
    "Dialplan",
    "DialplanError",
    "ExpressionError",
    "Extension",
    "ExtensionName",
    "GotoTarget",
    "Include",
    "Inheritance",
    "Step",
    "builtin_variables",
    "callerid_value",
    "canonical_application",
    "channel_functions",
    "channel_scope",
    "channel_value",
    "check_condition",
    "evaluate",
    "expand",
    "parse_goto",
    "split_args",
    "split_assignment",
    "split_condition",
    "split_function",
    "split_name",
    "substitute",
    "substring",
]
