"""FreeSWITCH flavour of the simulated PBX: the event socket (inbound and outbound) and an XML
dialplan runner, shaped after the FreeSWITCH 1.10.12 captures."""
