"""The outreach parts of an organization's settings: SMS and email providers, limits, quiet hours.

`settings.integrations.sms` (Twilio), `settings.integrations.email` (SMTP) and
`settings.outreach` are validated here when an organization saves them; the
organizations domain stores them (credentials encrypted) and the sending
path reads them back with `OutreachConfig`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from eal.kit.schemas import NON_BLANK, StrictBody
from eal.leads.phone import normalize_email, normalize_phone

TWILIO_API = "https://api.twilio.com"
DEFAULT_DAILY_LIMITS = {"sms": 1000, "email": 2000}
#: The TCPA's calling window: no marketing SMS from 21:00 to 08:00 at the recipient.
DEFAULT_QUIET_HOURS = {"start": "21:00", "end": "08:00"}
MAX_HELP_REPLY = 320
_CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_HOST = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
_DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}

Url = Annotated[str, Field(pattern=r"^https?://", max_length=500)]
Secret = Annotated[str, Field(min_length=8, max_length=500)]


def clock_time(value: str) -> str:
    """`HH:MM` on a 24-hour clock, or ValueError."""
    if not _CLOCK.match(value):
        raise ValueError(f"{value!r} is not a time of day as HH:MM (e.g. 08:00)")
    return value


class SmsSettingsIn(StrictBody):
    """Twilio credentials and sender; the auth token is stored encrypted and never returned."""

    vendor: Literal["twilio"]
    account_sid: Annotated[str, Field(pattern=r"^AC[0-9a-fA-F]{32}$")]
    auth_token: Secret | None = Field(
        default=None,
        description="Required the first time; omit it to keep the stored token and change the rest.",
    )
    from_number: str | None = Field(default=None, description="E.164 sender number.")
    messaging_service_sid: Annotated[str, Field(pattern=r"^MG[0-9a-fA-F]{32}$")] | None = None
    base_url: Url | None = Field(
        default=None, description=f"Twilio's API base URL (default {TWILIO_API})."
    )

    @field_validator("from_number")
    @classmethod
    def _from_number(cls, value: str | None) -> str | None:
        return None if value is None else normalize_phone(value)

    @model_validator(mode="after")
    def _one_sender(self) -> SmsSettingsIn:
        if (self.from_number is None) == (self.messaging_service_sid is None):
            raise ValueError("give exactly one of from_number and messaging_service_sid")
        return self


class EmailSettingsIn(StrictBody):
    """An SMTP server and sender; the password is stored encrypted and never returned."""

    vendor: Literal["smtp"]
    host: Annotated[str, Field(max_length=253)]
    port: Annotated[int, Field(ge=1, le=65535)] | None = Field(
        default=None, description="Default: 587 for starttls, 465 for tls, 25 for none."
    )
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: (
        Annotated[
            str, Field(min_length=1, max_length=320, json_schema_extra={"pattern": NON_BLANK})
        ]
        | None
    ) = None
    password: (
        Annotated[
            str, Field(min_length=1, max_length=500, json_schema_extra={"pattern": NON_BLANK})
        ]
        | None
    ) = None
    from_address: str
    from_name: Annotated[str, Field(max_length=200)] | None = None
    reply_to: str | None = None

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        if not _HOST.match(value):
            raise ValueError("must be a host name or an IPv4 address")
        return value.lower()

    @field_validator("from_address", "reply_to")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        return None if value is None else normalize_email(value)

    @model_validator(mode="after")
    def _defaults(self) -> EmailSettingsIn:
        if self.port is None:
            self.port = _DEFAULT_PORTS[self.security]
        if self.password is not None and self.username is None:
            raise ValueError("a password needs a username")
        return self


class DailyLimits(StrictBody):
    """Messages an organization may send per 24 hours, per channel."""

    sms: Annotated[int, Field(ge=0, le=1_000_000)] = DEFAULT_DAILY_LIMITS["sms"]
    email: Annotated[int, Field(ge=0, le=1_000_000)] = DEFAULT_DAILY_LIMITS["email"]


class QuietHours(StrictBody):
    """No marketing SMS between `start` and `end` at the recipient (wrapping past midnight)."""

    start: str
    end: str

    @field_validator("start", "end")
    @classmethod
    def _time(cls, value: str) -> str:
        return clock_time(value)


class OutreachSettingsIn(StrictBody):
    """`settings.outreach`."""

    daily_limits: DailyLimits | None = None
    sms_quiet_hours: QuietHours | None = None
    sms_help_reply: (
        Annotated[
            str,
            Field(
                min_length=1, max_length=MAX_HELP_REPLY, json_schema_extra={"pattern": NON_BLANK}
            ),
        ]
        | None
    ) = None


class OutreachConfig(BaseModel):
    """The outreach settings as the sending path uses them (defaults filled in)."""

    daily_limits: dict[str, int]
    quiet_start: str
    quiet_end: str
    help_reply: str | None

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> OutreachConfig:
        """Read `settings.outreach` (stored valid); missing parts take their defaults."""
        outreach = settings.get("outreach") or {}
        limits = {**DEFAULT_DAILY_LIMITS, **(outreach.get("daily_limits") or {})}
        quiet = {**DEFAULT_QUIET_HOURS, **(outreach.get("sms_quiet_hours") or {})}
        return cls(
            daily_limits=limits,
            quiet_start=quiet["start"],
            quiet_end=quiet["end"],
            help_reply=outreach.get("sms_help_reply"),
        )
