"""Where tests find reference data kept outside the repository."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The recorded PBX transcripts live in the shared folder beside the repository (a CI clone
# gets it there too); CC_PBX_CAPTURES points elsewhere when needed.
PBX_CAPTURES = Path(os.environ.get("CC_PBX_CAPTURES") or ROOT.parent / "shared" / "pbx-captures")
ASTERISK_CAPTURES = PBX_CAPTURES / "asterisk-22.10.1"
FREESWITCH_CAPTURES = PBX_CAPTURES / "freeswitch-1.10.12"
