"""Errors the store raises for input it cannot accept; each says what was expected."""

from __future__ import annotations


class StoreError(Exception):
    """Base of the store's own errors."""


class NotFound(StoreError, LookupError):
    def __init__(self, what: str, key: str) -> None:
        super().__init__(f"{what} {key!r} not found")
        self.what = what
        self.key = key


class InvalidValue(StoreError, ValueError):
    """A field holds a value outside what the store accepts."""

    def __init__(self, field: str, value: object, expected: str) -> None:
        super().__init__(f"{field}: got {value!r}, expected {expected}")
        self.field = field
        self.value = value
        self.expected = expected


class Conflict(StoreError):
    """The change contradicts what is stored (e.g. an identity owned by another customer)."""


class StoreFenced(StoreError):
    """The store has seen a newer fencing token for `lease` than `token` (None: this node
    holds none): another node is active, and this transaction wrote nothing. Not transient:
    the same write can never pass again."""

    def __init__(self, lease: str, token: int | None, current: int | None) -> None:
        held = "this node holds no token" if token is None else f"token {token} refused"
        seen = "" if current is None else f", the store has seen token {current}"
        super().__init__(f"lease {lease!r}: {held}{seen} (another node is active)")
        self.lease = lease
        self.token = token
        self.current = current
