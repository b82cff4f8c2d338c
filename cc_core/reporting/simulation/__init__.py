"""Discrete-event simulation of a contact centre around the real routing engine.

traffic (seeded callers), driver (the event loop around `cc_core.routing.Engine`), metrics
(SLA, ASA, abandonment, occupancy), centre (configs or a built-in example), experiments
(strategies, staffing sweep, Erlang C check), tables and chart (output). See docs/simulation.md.
"""
