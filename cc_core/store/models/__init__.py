"""Every table of the durable store; importing this package fills `Base.metadata`."""

# The row checks register on Base; importing them here means every user of the models has them.
from cc_core.store import checks as _checks  # noqa: F401
from cc_core.store.models.audit import AuditEntry
from cc_core.store.models.customers import Customer, CustomerIdentity
from cc_core.store.models.fences import LeaseToken
from cc_core.store.models.interactions import (
    AppendOnlyViolation,
    Interaction,
    InteractionEvent,
    InteractionState,
)
from cc_core.store.models.messages import Direction, Message
from cc_core.store.models.tickets import Ticket, TicketStatus, ticket_interactions

__all__ = [
    "AppendOnlyViolation",
    "AuditEntry",
    "Customer",
    "CustomerIdentity",
    "Direction",
    "Interaction",
    "InteractionEvent",
    "InteractionState",
    "LeaseToken",
    "Message",
    "Ticket",
    "TicketStatus",
    "ticket_interactions",
]
