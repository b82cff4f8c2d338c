"""The contact centre: domain, routing, IVR, quality, channels, reporting, store and API."""
