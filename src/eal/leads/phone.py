"""Phone number and email address normalisation for leads.

Phone numbers are parsed with ``phonenumbers`` (default region US) and
stored in E.164; email addresses are checked for syntax only with
``email-validator`` (no DNS lookup, so this stays offline and fast).
"""

from __future__ import annotations

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from phonenumbers import PhoneNumberFormat, PhoneNumberType

__all__ = [
    "MAX_PHONE_INPUT_LENGTH",
    "is_mobile_capable",
    "normalize_email",
    "normalize_phone",
    "validate_phone",
]

#: Longer input is refused before parsing: no real number needs more, and it
#: bounds the work done on hostile form data.
MAX_PHONE_INPUT_LENGTH = 64

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


def normalize_phone(raw: str, region: str = "US") -> str:
    """Return ``raw`` as an E.164 string (``+16782123434``).

    ``region`` is the ISO 3166 country used when the number has no ``+``
    prefix. Raises ValueError, with a message fit to show to an API client,
    when the input is empty, too long, unparseable or not a valid number.
    """
    return phonenumbers.format_number(_parse_valid(raw, region), PhoneNumberFormat.E164)


def validate_phone(raw: str, region: str = "US") -> tuple[str, bool]:
    """Return ``(e164, mobile_capable)`` for ``raw``, parsing it only once.

    Same input rules and ValueError as :func:`normalize_phone`; the flag is
    what :func:`is_mobile_capable` would say about the E.164 form.
    """
    number = _parse_valid(raw, region)
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    return e164, phonenumbers.number_type(number) in _MOBILE_CAPABLE_TYPES


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
    text = raw.strip()
    if not text:
        raise ValueError("email address is empty")
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"email address is not valid: {exc}") from exc
    return result.normalized
