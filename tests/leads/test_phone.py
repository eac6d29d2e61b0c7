"""Phone and email normalisation (eal.leads.phone), on the real phonenumbers metadata."""

from __future__ import annotations

import pytest

from eal.leads.phone import (
    MAX_PHONE_INPUT_LENGTH,
    is_mobile_capable,
    normalize_email,
    normalize_phone,
    validate_phone,
)


@pytest.mark.parametrize(
    "raw",
    [
        "(678) 212-3434",
        "678-212-3434",
        "678.212.3434",
        "6782123434",
        "1-678-212-3434",
        "+1 678 212 3434",
        "  +16782123434  ",
        "tel:+16782123434",
    ],
)
def test_normalize_phone_us_formats_to_e164(raw: str) -> None:
    assert normalize_phone(raw) == "+16782123434"


def test_normalize_phone_uses_the_region_for_national_numbers() -> None:
    assert normalize_phone("07911 123456", region="GB") == "+447911123456"
    assert normalize_phone("+44 7911 123456") == "+447911123456"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "phone number is empty"),
        ("   ", "phone number is empty"),
        ("abc", "could not be parsed"),
        ("555-0100", "is not a valid number"),
        ("123", "is not a valid number"),
        ("1" * (MAX_PHONE_INPUT_LENGTH + 1), "longer than"),
    ],
)
def test_normalize_phone_rejects_invalid_input(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        normalize_phone(raw)


@pytest.mark.parametrize(
    ("e164", "expected"),
    [
        ("+16782123434", True),  # US numbers are FIXED_LINE_OR_MOBILE
        ("+447911123456", True),  # UK mobile
        ("+442079460958", False),  # UK fixed line
        ("+18005551212", False),  # US toll-free
        ("+1123", False),  # not a valid number
        ("6782123434", False),  # not E.164: no region to parse it with
        ("garbage", False),
    ],
)
def test_is_mobile_capable(e164: str, expected: bool) -> None:
    assert is_mobile_capable(e164) is expected


@pytest.mark.parametrize(
    "raw", ["(678) 212-3434", "800-555-1212", "+44 20 7946 0958", "+44 7911 123456"]
)
def test_validate_phone_agrees_with_the_two_single_purpose_helpers(raw: str) -> None:
    e164 = normalize_phone(raw)
    assert validate_phone(raw) == (e164, is_mobile_capable(e164))


def test_validate_phone_raises_like_normalize_phone() -> None:
    with pytest.raises(ValueError, match="is not a valid number"):
        validate_phone("555-0100")


def test_normalize_email_lowercases_the_domain_only() -> None:
    assert normalize_email(" Sarah.Mitchell@Example.COM ") == "Sarah.Mitchell@example.com"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "email address is empty"),
        ("sarah", "must have an @-sign"),
        ("sarah@localhost", "not valid"),
        ("sarah@@example.com", "not valid"),
    ],
)
def test_normalize_email_rejects_invalid_addresses(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        normalize_email(raw)
