"""The agent's SIP softphone and edge probe (optional extra ``softphone``)."""
