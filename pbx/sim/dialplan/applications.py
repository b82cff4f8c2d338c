"""Asterisk's spelling of application names.

Application names are case-insensitive in a dialplan (``Playtones`` runs ``PlayTones``), but
AMI events (``Newexten``'s ``Application``) quote the name the application registered under.
"""

from __future__ import annotations

_REGISTERED = """
AddQueueMember AGI AMD Answer AudioSocket Authenticate BackGround Bridge BridgeWait Busy
ChannelRedirect ChanIsAvail ChanSpy ConfBridge Congestion ContinueWhile ControlPlayback
DeadAGI Dial DumpChan EAGI Echo EndWhile Exec ExecIf ExecIfTime ExitWhile ExtenSpy FollowMe
Gosub GosubIf Goto GotoIf GotoIfTime Hangup ImportVar Log Milliwatt MixMonitor MSet
MusicOnHold NoOp Originate Page Park ParkedCall PauseQueueMember Pickup PickupChan Playback
PlayTones Progress Queue QueueLog Read ReadExten Record RemoveQueueMember Return Ringing
SayAlpha SayDigits SayNumber SayPhonetic SayUnixTime SendDTMF SendText Set SoftHangup
StackPop StartMusicOnHold Stasis StopMixMonitor StopMusicOnHold StopPlayTones System
Transfer TryExec TrySystem UnpauseQueueMember UserEvent Verbose VoiceMail VoiceMailMain Wait
WaitDigit WaitExten WaitForSilence WaitUntil While
"""

REGISTERED_APPLICATIONS: dict[str, str] = {name.lower(): name for name in _REGISTERED.split()}


def canonical_application(name: str) -> str:
    """The registered spelling of a known application, else ``name`` unchanged."""
    return REGISTERED_APPLICATIONS.get(name.lower(), name)
