"""``ivr/*.yaml``: IVR scripts. Only the header is checked here; the IVR language has its own
validator. Any further keys are accepted."""

from __future__ import annotations

from pydantic import ConfigDict

from cc_core.config.value_types import ConfigModel, Identifier, NonEmpty


class IvrScript(ConfigModel):
    model_config = ConfigDict(extra="allow")

    name: Identifier
    start: NonEmpty
