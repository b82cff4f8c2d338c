"""The one error type of the domain: bad input named by field and expectation."""

from __future__ import annotations


class DomainError(ValueError):
    """A domain object was built from values that break its rules.

    ``field`` names the offending field (dotted for nested values) so an adapter that loaded the
    value from a file can prefix file and line.
    """

    def __init__(self, owner: str, field: str, expected: str, got: object) -> None:
        self.owner = owner
        self.field = field
        self.expected = expected
        self.got = got
        super().__init__(f"{owner}: field {field!r}: expected {expected}, got {got!r}")
