"""The SMS, email and outreach parts of organization settings, as the OpenAPI document shows them.

`eal.outreach.settings` validates `settings.integrations.sms`,
`settings.integrations.email` and `settings.outreach`. The JSON Schema of
those models gives only their types, not what their validators check (a
phone number, a host name, an address, a clock time, one sender of two), so
a client following the document would be refused. These subclasses validate
exactly as their bases and write those rules into the document.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict

from eal.kit.schemas import HTTP_URL_PATTERN, NON_BLANK, stripped_at_least
from eal.leads.phone import EMAIL_JSON_SCHEMA, PHONE_JSON_SCHEMA
from eal.outreach.settings import (
    EmailSettingsIn,
    OutreachSettingsIn,
    QuietHours,
    Secret,
    SmsSettingsIn,
)

SECRET_PATTERN = stripped_at_least(8)
"""A secret of at least 8 characters once surrounding whitespace is stripped."""
VENDOR_URL_PATTERN = HTTP_URL_PATTERN
"""A vendor base URL: a host, no credentials, no whitespace (its addresses are checked on save)."""
CLOCK_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
_LABEL = "[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOST_PATTERN = f"^{_LABEL}(\\.{_LABEL})*$"
"""A host name or an IPv4 address, as `eal.outreach.settings` checks it (up to 253 characters)."""


def _document(schema: dict[str, Any], **fields: dict[str, Any]) -> None:
    """Add keywords to the string form of each named property (nullable or not)."""
    for name, extra in fields.items():
        field = schema["properties"][name]
        branches = field.get("anyOf", [field])
        for branch in branches:
            if branch.get("type") == "string":
                branch.update(extra)


def _sms_schema(schema: dict[str, Any]) -> None:
    _document(
        schema,
        from_number=PHONE_JSON_SCHEMA,
        auth_token={"pattern": SECRET_PATTERN},
        base_url={"pattern": VENDOR_URL_PATTERN, "format": "uri"},
    )
    # Exactly one sender: a number or a messaging service.
    schema["anyOf"] = [
        {
            "required": ["from_number"],
            "properties": {
                "from_number": {"type": "string"},
                "messaging_service_sid": {"type": "null"},
            },
        },
        {
            "required": ["messaging_service_sid"],
            "properties": {
                "messaging_service_sid": {"type": "string"},
                "from_number": {"type": "null"},
            },
        },
    ]
    schema["examples"] = [
        {
            "vendor": "twilio",
            "account_sid": "AC" + "0" * 32,
            "auth_token": "your-twilio-auth-token",
            "from_number": "+16785550142",
        }
    ]


class SmsSettings(SmsSettingsIn):
    """Twilio credentials and sender; the auth token is stored encrypted and never returned."""

    model_config = ConfigDict(json_schema_extra=_sms_schema)


class SmsSettingsCreate(SmsSettings):
    """Twilio settings of a new organization: nothing is stored yet, so the auth token is required."""

    auth_token: Secret  # type: ignore[assignment]


def _email_schema(schema: dict[str, Any]) -> None:
    _document(
        schema,
        # The validator's expression without its length lookahead (maxLength says it).
        host={"pattern": HOST_PATTERN},
        from_address=EMAIL_JSON_SCHEMA,
        reply_to=EMAIL_JSON_SCHEMA,
        username={"pattern": NON_BLANK},
        password={"pattern": NON_BLANK},
    )
    # A password needs a username.
    schema["anyOf"] = [
        {"properties": {"password": {"type": "null"}}},
        {"required": ["username"], "properties": {"username": {"type": "string"}}},
    ]
    schema["examples"] = [
        {
            "vendor": "smtp",
            "host": "smtp.example.com",
            "security": "starttls",
            "username": "outreach@example.com",
            "password": "your-smtp-password",
            "from_address": "outreach@example.com",
            "from_name": "PuroClean of West Cobb",
        }
    ]


class EmailSettings(EmailSettingsIn):
    """An SMTP server and sender; the password is stored encrypted and never returned."""

    model_config = ConfigDict(json_schema_extra=_email_schema)


class ClockHours(QuietHours):
    """No marketing SMS between `start` and `end` (HH:MM) at the recipient, wrapping past midnight."""

    model_config = ConfigDict(
        json_schema_extra=lambda schema: _document(
            schema, start={"pattern": CLOCK_PATTERN}, end={"pattern": CLOCK_PATTERN}
        )
    )


class OutreachSettings(OutreachSettingsIn):
    """`settings.outreach`: daily limits, SMS quiet hours and the HELP reply."""

    model_config = ConfigDict(
        json_schema_extra=lambda schema: _document(schema, sms_help_reply={"pattern": NON_BLANK})
    )

    sms_quiet_hours: ClockHours | None = None
