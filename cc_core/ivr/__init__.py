"""IVR scripts in YAML: the language (:mod:`.model`), its validator, and the interpreter that
runs a script for one caller over the PBX port's media session.

For the ACD::

    library = load_library("configs")
    outcome = await run_script(library.script("main_menu"), session,
                               IvrContext(prompts=library.prompts, sink=log_step,
                                          lookup=HttpLookupClient()))
"""

from cc_core.ivr.interpreter import EventSink, IvrContext, run_script
from cc_core.ivr.library import IvrLibrary, load_library
from cc_core.ivr.lookup import HttpLookupClient, LookupClient, LookupFailed, OfflineLookup
from cc_core.ivr.model import Script
from cc_core.ivr.outcome import IvrEvent, IvrOutcome, OutcomeKind
from cc_core.ivr.prompts import PromptCatalog
from cc_core.ivr.scripted import ScriptedSession, parse_keys

__all__ = [
    "EventSink",
    "HttpLookupClient",
    "IvrContext",
    "IvrEvent",
    "IvrLibrary",
    "IvrOutcome",
    "LookupClient",
    "LookupFailed",
    "OfflineLookup",
    "OutcomeKind",
    "PromptCatalog",
    "Script",
    "ScriptedSession",
    "load_library",
    "parse_keys",
    "run_script",
]
