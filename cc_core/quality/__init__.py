"""Real-time voice activity, noise, SNR and quality scoring of call audio (numpy + webrtcvad).

Pure computation: feed bytes, read snapshots. See docs/quality.md for the definitions.
"""

from cc_core.quality.bank import ScorerBank
from cc_core.quality.call import CallScorer, CallSnapshot
from cc_core.quality.frames import AudioFormat, Encoding, Framer
from cc_core.quality.publisher import CallFeed, Publisher, StreamFeed
from cc_core.quality.score import CALL_WEIGHTS, STREAM_WEIGHTS, call_score, stream_score
from cc_core.quality.scorer import ScorerConfig, StreamScorer, StreamSnapshot
from cc_core.quality.vad import ToneDetector, ToneSettings, VoiceDetector

__all__ = [
    "CALL_WEIGHTS",
    "STREAM_WEIGHTS",
    "AudioFormat",
    "CallFeed",
    "CallScorer",
    "CallSnapshot",
    "Encoding",
    "Framer",
    "Publisher",
    "ScorerBank",
    "ScorerConfig",
    "StreamFeed",
    "StreamScorer",
    "StreamSnapshot",
    "ToneDetector",
    "ToneSettings",
    "VoiceDetector",
    "call_score",
    "stream_score",
]
