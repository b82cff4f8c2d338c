"""Normalisation of customer identities (pure, no database)."""

from __future__ import annotations

import phonenumbers
import pytest
from phonenumbers import PhoneNumberFormat as F

from cc_core.store.identities import IdentityKind, InvalidIdentity, normalize_identity


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+1 (201) 555-0123", None, "+12015550123"),
        ("+12015550123", None, "+12015550123"),
        ("  +44 20 7946 0958 ", None, "+442079460958"),
        ("01 42 68 53 00", "FR", "+33142685300"),
        ("+33 1 42 68 53 00", "US", "+33142685300"),  # international form wins over the region
    ],
)
def test_phone_is_stored_in_e164(raw: str, region: str | None, expected: str) -> None:
    assert normalize_identity("phone", raw, default_region=region) == (
        IdentityKind.PHONE,
        expected,
    )


@pytest.mark.parametrize(
    ("raw", "region", "reason"),
    [
        ("0142685300", None, "international form"),  # national number without a region
        ("+1 555", None, "not a valid number"),
        ("+999 1234567", None, "not a phone number"),
        ("hello", None, "not a phone number"),
        ("", None, "non-empty"),
    ],
)
def test_bad_phone_numbers_are_refused_clearly(raw: str, region: str | None, reason: str) -> None:
    with pytest.raises(InvalidIdentity) as caught:
        normalize_identity("phone", raw, default_region=region)
    message = str(caught.value)
    assert "phone" in message
    assert repr(raw) in message
    assert reason in message


def test_email_is_lower_cased_and_trimmed() -> None:
    assert normalize_identity("email", "  Ana.Maria@Example.COM ") == (
        IdentityKind.EMAIL,
        "ana.maria@example.com",
    )


@pytest.mark.parametrize("raw", ["ana@", "@example.com", "ana example.com", "a b@example.com"])
def test_bad_email_addresses_are_refused(raw: str) -> None:
    with pytest.raises(InvalidIdentity) as caught:
        normalize_identity("email", raw)
    assert caught.value.kind == "email"
    assert caught.value.value == raw
    assert caught.value.reason


def test_chat_and_user_ids_are_trimmed_tokens() -> None:
    assert normalize_identity("chat_visitor", " v-42 ") == (IdentityKind.CHAT_VISITOR, "v-42")
    assert normalize_identity("user", "Crm:ABC") == (IdentityKind.USER, "Crm:ABC")
    with pytest.raises(InvalidIdentity, match="whitespace or control"):
        normalize_identity("user", "a b")
    with pytest.raises(InvalidIdentity, match="longer than 255"):
        normalize_identity("chat_visitor", "x" * 256)


def test_unknown_kind_lists_the_accepted_ones() -> None:
    with pytest.raises(InvalidIdentity, match="phone, email, chat_visitor, user"):
        normalize_identity("fax", "+12015550123")


def test_every_region_s_number_forms_normalise_to_one_e164() -> None:
    """National, international and E.164 spellings of one number are one identity, and
    normalising is idempotent, for the example number of every region the library knows."""
    checked = 0
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        example = phonenumbers.example_number(region)
        if example is None:
            continue
        e164 = phonenumbers.format_number(example, F.E164)
        forms = [
            (phonenumbers.format_number(example, F.INTERNATIONAL), None),
            (phonenumbers.format_number(example, F.NATIONAL), region),
            (e164, None),
        ]
        for raw, default_region in forms:
            _, value = normalize_identity("phone", raw, default_region=default_region)
            assert value == e164, (region, raw)
            assert normalize_identity("phone", value)[1] == value
        checked += 1
    assert checked > 200
