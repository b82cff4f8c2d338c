"""What an agent (or a supervisor, or a chat/email desk) sees about one interaction: the
customer, the IVR path and what the caller entered, and the customer's previous contacts
across channels. Read from the store only; `build_context` itself is pure.

    {
      "interaction": {id, channel, queue, state, agent_id, created_at, caller, attributes},
      "customer": {id, name, identities: [{kind, value}], attributes} | null,
      "ivr": {script, path: [node...], inputs: [{node, kind, attribute, digits, value}],
              outcome},
      "previous_contacts": [{interaction_id, channel, queue, agent_id, state, outcome, csat,
                             created_at, ended_at}]   newest first, at most PREVIOUS_CONTACTS
    }
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from cc_core.store.database import Repositories
from cc_core.store.models import Customer, CustomerIdentity, Interaction, InteractionEvent

PREVIOUS_CONTACTS = 5
# IVR steps that record what the caller entered or the script learned.
_INPUT_STEPS = {"ivr_input": "input", "ivr_set": "set", "ivr_lookup": "lookup"}


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _outcome(row: Interaction) -> str:
    """How a contact ended, in one word: an IVR exit (callback, voicemail...) when it left
    there, else its state (ended, abandoned, or still open)."""
    attributes = row.attributes or {}
    exit_kind = attributes.get("ivr_outcome")
    if isinstance(exit_kind, str) and exit_kind not in ("queue", "failed"):
        return exit_kind
    return row.state


def previous_contact(row: Interaction) -> dict[str, Any]:
    attributes = row.attributes or {}
    return {
        "interaction_id": row.id,
        "channel": row.channel,
        "queue": row.queue,
        "agent_id": row.agent_id,
        "state": row.state,
        "outcome": _outcome(row),
        "csat": attributes.get("csat_score"),
        "created_at": _time(row.created_at),
        "ended_at": _time(row.ended_at),
    }


def ivr_summary(events: Sequence[InteractionEvent]) -> dict[str, Any] | None:
    """The IVR's steps from the event log: the nodes in order and what was entered."""
    script: str | None = None
    path: list[str] = []
    inputs: list[dict[str, Any]] = []
    outcome: str | None = None
    for event in events:
        if not event.event.startswith("ivr_"):
            continue
        data = event.data or {}
        script = data.get("script") or script
        if event.event == "ivr_node":
            path.append(str(data.get("node")))
        elif event.event in _INPUT_STEPS:
            if event.event == "ivr_lookup" and not data.get("ok"):
                continue
            inputs.append(
                {
                    "node": data.get("node"),
                    "kind": _INPUT_STEPS[event.event],
                    "attribute": data.get("attribute"),
                    "digits": data.get("digits"),
                    "value": data.get("value", data.get("found")),
                }
            )
        elif event.event == "ivr_outcome":
            outcome = data.get("outcome")
    if script is None:
        return None
    return {"script": script, "path": path, "inputs": inputs, "outcome": outcome}


def build_context(
    row: Interaction,
    events: Sequence[InteractionEvent],
    customer: Customer | None,
    identities: Sequence[CustomerIdentity],
    previous: Sequence[Interaction],
) -> dict[str, Any]:
    attributes = dict(row.attributes or {})
    return {
        "interaction": {
            "id": row.id,
            "channel": row.channel,
            "queue": row.queue,
            "state": row.state,
            "agent_id": row.agent_id,
            "created_at": _time(row.created_at),
            "caller": attributes.get("caller"),
            "attributes": attributes,
        },
        "customer": None
        if customer is None
        else {
            "id": customer.id,
            "name": customer.display_name,
            "identities": [{"kind": i.kind, "value": i.value} for i in identities],
            "attributes": dict(customer.attributes or {}),
        },
        "ivr": ivr_summary(events),
        "previous_contacts": [previous_contact(p) for p in previous if p.id != row.id][
            :PREVIOUS_CONTACTS
        ],
    }


async def read_context(repos: Repositories, interaction_id: str) -> dict[str, Any]:
    """The context of ``interaction_id`` (`NotFound` if the store has no such interaction)."""
    row = await repos.interactions.get(interaction_id)
    events = await repos.events.for_interaction(row.id)
    customer: Customer | None = None
    identities: list[CustomerIdentity] = []
    previous: list[Interaction] = []
    if row.customer_id is not None:
        customer = await repos.customers.get(row.customer_id)
        identities = await repos.customers.identities(customer.id)
        # A merged customer's contacts moved to the kept one: read them from there.
        previous = await repos.interactions.for_customer(customer.id, limit=PREVIOUS_CONTACTS + 1)
    return build_context(row, events, customer, identities, previous)
