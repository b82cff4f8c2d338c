"""Who is calling: a voice interaction's caller number resolved to the store's customer.

The customer is found by the caller's E.164 number (`customer_identities`, kind ``phone``) or
created with it, and the interaction's ``customer_id`` is set. That costs the call nothing: the
look-up is one more write in the journal's writer, queued behind the interaction's ``created``
(so the row exists) and committed in the writer's next batch, with its retries. Routing does
not wait for it; the screen-pop and reports read it from the store.

Withheld numbers (empty, ``anonymous``, ``restricted``...) and numbers that do not parse get
no customer: a guessed identity would merge strangers' histories.
"""

from __future__ import annotations

import logging
import weakref
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import select

from cc_core.logs import log_event
from cc_core.store.database import Repositories
from cc_core.store.identities import IdentityKind, InvalidIdentity, normalize_phone
from cc_core.store.models import Interaction

if TYPE_CHECKING:
    from cc_core.acd.service import AcdService

log = logging.getLogger(__name__)

# What PBXs and carriers put in the caller id of a number the caller withheld.
WITHHELD = frozenset(
    {"", "anonymous", "unknown", "restricted", "private", "unavailable", "withheld", "0"}
)
LINKED_EVENT = "customer_linked"
# How far back the start-up load of who served whom looks at most (the longest queue setting
# wins when shorter; see `load_service_history`).
HISTORY_ROWS = 200_000


def routing_key(caller_num: str | None) -> str | None:
    """The routing engine's customer key of a voice caller, for the sticky agent: the caller
    id's digits (with its ``+``), or None when withheld.

    Cheap on purpose (the call's path pays it): the store's customer id arrives later, from
    the journal's writer. A caller who shows up once as ``+4930...`` and once as ``030...``
    counts as two here; the store's E.164 identity still joins them for reports.
    """
    number = (caller_num or "").strip()
    if number.lower() in WITHHELD:
        return None
    digits = "".join(ch for ch in number if ch.isdigit())
    if len(digits) < 3:
        return None
    return f"caller:{'+' if number.startswith('+') else ''}{digits}"


async def load_service_history(acd: AcdService) -> int:
    """Tell the engine who served which caller within the longest sticky window of any
    queue, from the store, so the sticky agent survives an ACD restart. Returns the number of
    services loaded; 0 when no queue is sticky."""
    days = max((q.sticky_days for q in acd.centre.queues), default=0.0)
    if days <= 0:
        return 0
    since = datetime.fromtimestamp(acd.now() - days * 86_400, UTC)
    query = (
        select(Interaction.attributes, Interaction.agent_id, Interaction.answered_at)
        .where(
            Interaction.channel == "voice",
            Interaction.answered_at >= since,
            Interaction.agent_id.is_not(None),
        )
        .order_by(Interaction.answered_at.desc())
        .limit(HISTORY_ROWS)
    )
    async with acd.store.transaction(readonly=True) as repos:
        rows = list(await repos.session.execute(query))
    loaded = 0
    for attributes, agent_id, answered_at in reversed(rows):  # oldest first, as they happened
        key = routing_key((attributes or {}).get("caller"))
        if key is None or agent_id is None or answered_at is None:
            continue
        acd.engine.record_service(key, agent_id, answered_at.timestamp())
        loaded += 1
    log_event(log, "customer.history_loaded", services=loaded, days=days)
    return loaded


def caller_phone(caller_num: str | None, region: str | None = None) -> str | None:
    """The caller's number in E.164, or None when it was withheld or is not a phone number.

    ``region`` (ISO 3166, e.g. ``"US"``) reads national forms such as ``2015550123``; without
    it only international forms (``+12015550123``) are accepted.
    """
    if caller_num is None:
        return None
    number = caller_num.strip()
    if number.lower() in WITHHELD or not any(ch.isdigit() for ch in number):
        return None
    try:
        return normalize_phone(number, region)
    except InvalidIdentity:
        return None


class CustomerLinks:
    """Ties new voice interactions to customers through the ACD's journal writer."""

    def __init__(self, acd: AcdService, region: str | None = None) -> None:
        self.acd = acd
        self.region = region
        self.linked = 0
        self.skipped = 0

    def caller(self, interaction_id: str, caller_num: str | None) -> bool:
        """Queue the link of ``interaction_id`` to the customer of ``caller_num``; False when
        the number is withheld (nothing queued)."""
        number = (caller_num or "").strip()
        if number.lower() in WITHHELD:
            self.skipped += 1
            return False
        region = self.region

        async def write(repos: Repositories) -> None:
            # Parsed here, in the writer: ~0.1 ms of phonenumbers the call's path never pays.
            phone = caller_phone(number, region)
            if phone is None:
                self.skipped += 1
                return
            customer, created = await repos.customers.find_or_create_by_identity(
                IdentityKind.PHONE, phone
            )
            await repos.interactions.set_customer(interaction_id, customer.id)
            self.linked += 1
            log_event(
                log,
                "customer.linked",
                logging.DEBUG,
                interaction=interaction_id,
                customer=customer.id,
                created=created,
            )

        async def refused(repos: Repositories, exc: Exception) -> None:
            # The call goes on without a customer; the interaction's log says why.
            await repos.events.append(
                LINKED_EVENT,
                interaction_id=interaction_id,
                data={"caller": number, "store_refused": f"{type(exc).__name__}: {exc}"},
            )

        # The journal's one writer: after `created` in order, batched, retried while the
        # store is away.
        self.acd.journal.write(f"{interaction_id} customer", write, fallback=refused)
        return True


_links: weakref.WeakKeyDictionary[AcdService, CustomerLinks] = weakref.WeakKeyDictionary()


def links_for(acd: AcdService) -> CustomerLinks:
    """The ACD's one `CustomerLinks` (wiring sets its ``region`` from acd.yaml)."""
    links = _links.get(acd)
    if links is None:
        links = _links[acd] = CustomerLinks(acd)
    return links


def link_caller(acd: AcdService, interaction_id: str, caller_num: str | None) -> None:
    """Called right after ``journal.created``: the caller's customer, without waiting."""
    links_for(acd).caller(interaction_id, caller_num)
