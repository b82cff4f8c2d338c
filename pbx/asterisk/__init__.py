"""Asterisk adapter: AMI (panoramisk) for call control and events, FastAGI for the IVR."""

from pbx.asterisk.adapter import AsteriskPort
from pbx.asterisk.ami import AuthenticationFailed
from pbx.asterisk.fastagi import AgiSession, FastAgiServer
from pbx.asterisk.settings import AsteriskSettings

__all__ = [
    "AgiSession",
    "AsteriskPort",
    "AsteriskSettings",
    "AuthenticationFailed",
    "FastAgiServer",
]
