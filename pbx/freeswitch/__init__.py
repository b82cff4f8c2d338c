"""FreeSWITCH adapter: the PBX port over the inbound event socket (greenswitch, in its own
gevent thread) and an outbound event socket server for the IVR. See docs/freeswitch.md."""

from pbx.freeswitch.adapter import FreeSwitchPort
from pbx.freeswitch.connection import AuthenticationFailed
from pbx.freeswitch.settings import FreeSwitchSettings

__all__ = ["AuthenticationFailed", "FreeSwitchPort", "FreeSwitchSettings"]
