"""Repositories: small async classes over one `AsyncSession` (one transaction)."""

from cc_core.store.repos.audit import AuditLog
from cc_core.store.repos.customers import Customers
from cc_core.store.repos.events import EventLog
from cc_core.store.repos.interactions import Interactions
from cc_core.store.repos.messages import Messages
from cc_core.store.repos.tickets import Tickets

__all__ = ["AuditLog", "Customers", "EventLog", "Interactions", "Messages", "Tickets"]
