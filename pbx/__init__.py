"""One asyncio API over any PBX. Knows nothing of contact centres (see ``pbx.port``)."""
