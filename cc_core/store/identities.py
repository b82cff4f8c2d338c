"""Normalised customer identities: the keys that tie one person's calls, chats and emails together.

A value is normalised before it is stored or looked up, so ``+1 (415) 555-0100`` and
``+14155550100`` are one identity, and so are ``Ana@Example.COM`` and ``ana@example.com``.
"""

from __future__ import annotations

import enum
import unicodedata

import phonenumbers
from email_validator import EmailNotValidError, validate_email

MAX_IDENTITY_LENGTH = 255


class IdentityKind(enum.StrEnum):
    PHONE = "phone"  # E.164, e.g. +14155550100
    EMAIL = "email"  # lower-cased address
    CHAT_VISITOR = "chat_visitor"  # anonymous web chat visitor id (cookie)
    USER = "user"  # id of a logged-in user of the customer's own site or app


class InvalidIdentity(ValueError):
    """A customer identity that cannot be normalised; says which kind, which value and why."""

    def __init__(self, kind: str, value: object, reason: str) -> None:
        super().__init__(f"invalid {kind} identity {value!r}: {reason}")
        self.kind = kind
        self.value = value
        self.reason = reason


def parse_kind(kind: str | IdentityKind) -> IdentityKind:
    try:
        return IdentityKind(kind)
    except ValueError:
        expected = ", ".join(k.value for k in IdentityKind)
        raise InvalidIdentity("unknown", kind, f"kind must be one of: {expected}") from None


def normalize_phone(value: str, default_region: str | None = None) -> str:
    """Return the number in E.164.

    Without ``default_region`` the number must be international (start with ``+``); with it
    (an ISO 3166 code such as ``"FR"``) national forms are read as numbers of that country.
    """
    kind = IdentityKind.PHONE.value
    if not isinstance(value, str) or not value.strip():
        raise InvalidIdentity(kind, value, "expected a non-empty phone number")
    try:
        number = phonenumbers.parse(value, default_region)
    except phonenumbers.NumberParseException as exc:
        hint = "" if default_region else " (international form with a leading +, e.g. +14155550100)"
        raise InvalidIdentity(kind, value, f"not a phone number{hint}: {exc}") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidIdentity(
            kind, value, "not a valid number for its country code (wrong length or prefix)"
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(value: str) -> str:
    """Return the address, syntax-checked and lower-cased (no DNS look-up is made)."""
    kind = IdentityKind.EMAIL.value
    if not isinstance(value, str) or not value.strip():
        raise InvalidIdentity(kind, value, "expected a non-empty email address")
    try:
        checked = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidIdentity(kind, value, str(exc)) from None
    # Mailbox parts are case-sensitive by the RFC but not in practice; one person, one identity.
    return checked.normalized.lower()


def normalize_token(kind: IdentityKind, value: str) -> str:
    """Chat visitor and user ids: opaque tokens, trimmed, printable, bounded in length."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidIdentity(kind.value, value, "expected a non-empty id")
    token = value.strip()
    if len(token) > MAX_IDENTITY_LENGTH:
        raise InvalidIdentity(kind.value, value, f"longer than {MAX_IDENTITY_LENGTH} characters")
    if any(ch.isspace() or unicodedata.category(ch).startswith("C") for ch in token):
        raise InvalidIdentity(kind.value, value, "contains whitespace or control characters")
    return token


def normalize_identity(
    kind: str | IdentityKind, value: str, *, default_region: str | None = None
) -> tuple[IdentityKind, str]:
    """Check ``kind`` and return it with the normalised ``value``; raises `InvalidIdentity`."""
    parsed = parse_kind(kind)
    if parsed is IdentityKind.PHONE:
        return parsed, normalize_phone(value, default_region)
    if parsed is IdentityKind.EMAIL:
        return parsed, normalize_email(value)
    return parsed, normalize_token(parsed, value)
