"""Who served each customer last, for sticky routing."""

from __future__ import annotations


class ServiceHistory:
    """Per customer, the last few distinct agents who served them, most recent first."""

    __slots__ = ("_by_customer", "_keep")

    def __init__(self, keep: int) -> None:
        self._keep = keep
        self._by_customer: dict[str, list[tuple[str, float]]] = {}

    def record(self, customer_id: str, agent_id: str, at: float) -> None:
        if self._keep == 0:
            return
        by_customer = self._by_customer
        if customer_id not in by_customer:
            by_customer[customer_id] = [(agent_id, at)]  # a first service: nothing to merge
            return
        served = [(a, t) for a, t in self._by_customer.get(customer_id, ()) if a != agent_id]
        served.append((agent_id, at))
        # Most recent first; an older record loaded late must not jump ahead of newer ones.
        served.sort(key=lambda item: -item[1])
        self._by_customer[customer_id] = served[: self._keep]

    def agents_since(self, customer_id: str, since: float) -> list[str]:
        """Agents who served the customer at or after ``since``, most recent first."""
        return [a for a, t in self._by_customer.get(customer_id, ()) if t >= since]
