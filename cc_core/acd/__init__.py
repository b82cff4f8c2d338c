"""The ACD service: PBX events in, routing engine decisions out, every step recorded.

`AcdService` (service.py) runs one event loop over a `pbx.port.PbxPort`, the pure routing
engine, the durable store and the live state; `wiring.py` picks the concrete adapters from
acd.yaml. See docs/acd.md.
"""

from cc_core.acd.service import AcdService

__all__ = ["AcdService"]
