"""Phone number and email address normalisation for leads.

Phone numbers are parsed with ``phonenumbers`` (default region US) and
stored in E.164; email addresses are checked for syntax only with
``email-validator`` (no DNS lookup, so this stays offline and fast).
"""

from __future__ import annotations

from typing import Any

import phonenumbers
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email
from phonenumbers import PhoneNumberFormat, PhoneNumberType

__all__ = [
    "EMAIL_JSON_SCHEMA",
    "MAX_PHONE_INPUT_LENGTH",
    "PHONE_JSON_SCHEMA",
    "is_mobile_capable",
    "normalize_email",
    "normalize_phone",
    "validate_phone",
]

#: Longer input is refused before parsing: no real number needs more, and it
#: bounds the work done on hostile form data.
MAX_PHONE_INPUT_LENGTH = 64

#: How the OpenAPI document describes a phone number: JSON Schema cannot say
#: "a number libphonenumber holds valid", so the custom format names the rule.
PHONE_JSON_SCHEMA: dict[str, Any] = {
    "format": "phone",
    "description": "A valid phone number: E.164 (+16785550142) or a US national form; "
    "stored as E.164.",
    "examples": ["+16785550142"],
}


def _any_case(name: str) -> str:
    # JSON Schema patterns have no case-insensitive flag; domains are compared in any case.
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in name)


#: How the OpenAPI document describes an email address: valid syntax whose
#: domain is not a special-use name (.test, .local, .invalid ...), which
#: email-validator refuses as undeliverable.
EMAIL_JSON_SCHEMA: dict[str, Any] = {
    "format": "email",
    "pattern": r"^[^@]+@(?!(?:[^@]*\.)?(?:"
    + "|".join(_any_case(name) for name in SPECIAL_USE_DOMAIN_NAMES)
    + r")\.?$)",
    "examples": ["sarah.mitchell@example.com"],
}

# Types that can receive SMS. US numbers are mostly FIXED_LINE_OR_MOBILE
# because the numbering plan does not tell the two apart.
_MOBILE_CAPABLE_TYPES = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})


def _parse_valid(raw: str, region: str) -> phonenumbers.PhoneNumber:
    text = raw.strip()
    if not text:
        raise ValueError("phone number is empty")
    if len(text) > MAX_PHONE_INPUT_LENGTH:
        raise ValueError(f"phone number is longer than {MAX_PHONE_INPUT_LENGTH} characters")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"phone number {text!r} could not be parsed: {exc}") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"phone number {text!r} is not a valid number (default region {region})")
    return number


# Each created lead's phone and email are checked twice: by the request body
# (raw input) and by scoring (the normalised form). Parsing costs ~0.1 ms, so
# recent valid results are remembered under both forms (the normalised form
# of a valid value is valid and normalises to itself). A result is needed for
# moments only, so a full cache is simply emptied.
_REMEMBER = 2048
_phones: dict[tuple[str, str], tuple[str, bool]] = {}
_emails: dict[str, str] = {}


def _remember(cache: dict[Any, Any], key: Any, value: Any) -> None:
    if len(cache) >= _REMEMBER:
        cache.clear()
    cache[key] = value


def normalize_phone(raw: str, region: str = "US") -> str:
    """Return ``raw`` as an E.164 string (``+16782123434``).

    ``region`` is the ISO 3166 country used when the number has no ``+``
    prefix. Raises ValueError, with a message fit to show to an API client,
    when the input is empty, too long, unparseable or not a valid number.
    """
    return validate_phone(raw, region)[0]


def validate_phone(raw: str, region: str = "US") -> tuple[str, bool]:
    """Return ``(e164, mobile_capable)`` for ``raw``, parsing it only once.

    Same input rules and ValueError as :func:`normalize_phone`; the flag is
    what :func:`is_mobile_capable` would say about the E.164 form.
    """
    known = _phones.get((raw, region))
    if known is not None:
        return known
    number = _parse_valid(raw, region)
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    result = (e164, phonenumbers.number_type(number) in _MOBILE_CAPABLE_TYPES)
    _remember(_phones, (raw, region), result)
    _remember(_phones, (e164, region), result)
    return result


def phone_is_valid(raw: str, region: str = "US") -> bool:
    """Whether `raw` is a valid phone number (as `validate_phone` would accept it)."""
    try:
        validate_phone(raw, region)
    except ValueError:
        return False
    return True


def is_mobile_capable(e164: str) -> bool:
    """Whether an E.164 number can be a mobile line (and so may receive SMS).

    True for numbers of type MOBILE or FIXED_LINE_OR_MOBILE; False for other
    types (toll-free, fixed line, premium rate...) and for anything that is
    not a valid E.164 number.
    """
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return False
    if not phonenumbers.is_valid_number(number):
        return False
    return phonenumbers.number_type(number) in _MOBILE_CAPABLE_TYPES


def normalize_email(raw: str) -> str:
    """Return the normalised form of an email address (domain lower-cased).

    Checks syntax only (no DNS). Raises ValueError with the validator's
    explanation when the address is not valid.
    """
    known = _emails.get(raw)
    if known is not None:
        return known
    text = raw.strip()
    if not text:
        raise ValueError("email address is empty")
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"email address is not valid: {exc}") from exc
    normalized: str = result.normalized
    _remember(_emails, raw, normalized)
    _remember(_emails, normalized, normalized)
    return normalized
