"""The Asterisk Manager Interface (AMI) side of the simulated PBX."""
