"""The calls parts of an organization's settings: business hours, dispatch, CallRail, AI.

`settings.business_hours`, `settings.dispatch`, `settings.integrations.callrail` and
`settings.ai` are validated here when an organization saves them; the organizations
domain stores them (the CallRail signing key and API key encrypted) and the calls domain
reads them back with `CallsConfig`.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, field_validator

from eal.kit.schemas import NON_BLANK, StrictBody
from eal.leads.phone import PHONE_JSON_SCHEMA, normalize_phone
from eal.organizations.vendor_settings import CLOCK_PATTERN, SECRET_PATTERN, VENDOR_URL_PATTERN
from eal.outreach.settings import Secret, Url, clock_time

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: Mon-Fri 08:00-18:00 in the organization's time zone.
DEFAULT_BUSINESS_HOURS: dict[str, list[list[str]]] = {
    day: ([["08:00", "18:00"]] if day not in ("sat", "sun") else []) for day in DAYS
}
DEFAULT_MIN_CONFIDENCE = 0.6
DEFAULT_CALLBACK_SMS = (
    "Hi {{caller_name}}, this is {{org_name}}. We got your call and a team member will call "
    "you back within minutes. Reply STOP to opt out."
)
MAX_CALLBACK_SMS = 480
CALLRAIL_API = "https://api.callrail.com/v3"

Interval = Annotated[
    list[Annotated[str, Field(json_schema_extra={"pattern": CLOCK_PATTERN})]],
    Field(min_length=2, max_length=2),
]
#: A day's opening intervals (at most six; none is a closed day).
DayHours = Annotated[list[Interval], Field(max_length=6)]


class BusinessHoursIn(StrictBody):
    """Opening intervals per day, `[["08:00", "18:00"]]`; an empty list is a closed day.

    An interval whose end is before its start runs past midnight ("22:00"-"02:00"); one
    whose end is its start is the whole day ("00:00"-"00:00"). "24:00" is not a time.
    """

    mon: DayHours | None = None
    tue: DayHours | None = None
    wed: DayHours | None = None
    thu: DayHours | None = None
    fri: DayHours | None = None
    sat: DayHours | None = None
    sun: DayHours | None = None

    @field_validator("*")
    @classmethod
    def _intervals(cls, value: list[list[str]] | None) -> list[list[str]] | None:
        if value is None:
            return None
        for start, end in value:
            clock_time(start)
            clock_time(end)
        return value


class DispatchSettingsIn(StrictBody):
    """`settings.dispatch`: what happens to a classified call."""

    auto_dispatch: bool | None = Field(
        default=None, description="Dispatch qualified calls in business hours (default false)."
    )
    after_hours_dispatch: bool | None = Field(
        default=None,
        description="Dispatch urgent qualified calls after hours, texting on_call_phone "
        "(default false).",
    )
    on_call_phone: str | None = Field(
        default=None,
        description="E.164; texted after hours.",
        json_schema_extra=PHONE_JSON_SCHEMA,
    )
    min_confidence: float | None = Field(
        default=None, ge=0, le=1, description=f"Default {DEFAULT_MIN_CONFIDENCE}."
    )
    callback_sms: (
        Annotated[
            str,
            Field(
                min_length=1, max_length=MAX_CALLBACK_SMS, json_schema_extra={"pattern": NON_BLANK}
            ),
        ]
        | None
    ) = Field(
        default=None,
        description="The text sent to the caller; {{caller_name}} and {{org_name}} are filled in.",
    )

    @field_validator("on_call_phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return None if value is None else normalize_phone(value)


class CallRailSettingsIn(StrictBody):
    """CallRail: the webhook signing key, and the API key and account for imports."""

    vendor: Literal["callrail"] = "callrail"
    signing_key: Secret | None = Field(
        default=None,
        json_schema_extra={"pattern": SECRET_PATTERN},
        description="The company's webhook signing key (CallRail: Settings -> Integrations -> "
        "Webhooks); stored encrypted, never returned.",
    )
    api_key: Secret | None = Field(
        default=None,
        description="A CallRail API v3 key, for `eal calls import-callrail`.",
        json_schema_extra={"pattern": SECRET_PATTERN},
    )
    account_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9]{1,64}$")] | None = None
    base_url: Url | None = Field(
        default=None,
        description=f"Default {CALLRAIL_API}.",
        json_schema_extra={"pattern": VENDOR_URL_PATTERN, "format": "uri"},
    )


class AiSettingsIn(StrictBody):
    """`settings.ai`."""

    llm_enabled: bool | None = Field(
        default=None,
        description="Let the server's LLM (EAL_LLM_BASE_URL) read this organization's "
        "transcripts (default true when the server has one); false keeps them on the "
        "embedded model.",
    )


# --- read back -----------------------------------------------------------------------------


def _clock(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


class CallsConfig(BaseModel):
    """The calls settings as dispatch uses them (defaults filled in)."""

    timezone: str
    business_hours: dict[str, list[list[str]]]
    auto_dispatch: bool
    after_hours_dispatch: bool
    on_call_phone: str | None
    min_confidence: float
    callback_sms: str
    llm_enabled: bool

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> CallsConfig:
        """Read the stored (valid) settings; missing parts take their defaults."""
        dispatch = settings.get("dispatch") or {}
        hours = {**DEFAULT_BUSINESS_HOURS, **(settings.get("business_hours") or {})}
        return cls(
            timezone=settings.get("timezone") or "America/New_York",
            business_hours=hours,
            auto_dispatch=bool(dispatch.get("auto_dispatch", False)),
            after_hours_dispatch=bool(dispatch.get("after_hours_dispatch", False)),
            on_call_phone=dispatch.get("on_call_phone"),
            min_confidence=float(dispatch.get("min_confidence", DEFAULT_MIN_CONFIDENCE)),
            callback_sms=dispatch.get("callback_sms") or DEFAULT_CALLBACK_SMS,
            llm_enabled=bool((settings.get("ai") or {}).get("llm_enabled", True)),
        )

    def in_business_hours(self, at: datetime) -> bool:
        """Whether `at` falls in an opening interval, in the organization's time zone.

        An interval that runs past midnight belongs to the day it starts on.
        """
        local = at.astimezone(ZoneInfo(self.timezone))
        clock = local.time().replace(second=0, microsecond=0)
        today = DAYS[local.weekday()]
        yesterday = DAYS[(local.weekday() - 1) % 7]
        for start_text, end_text in self.business_hours.get(today, []):
            start, end = _clock(start_text), _clock(end_text)
            if start == end or (start < end and start <= clock < end):
                return True
            if start > end and clock >= start:  # the evening part of an overnight interval
                return True
        for start_text, end_text in self.business_hours.get(yesterday, []):
            start, end = _clock(start_text), _clock(end_text)
            if start > end and clock < end:  # the morning part of yesterday's overnight one
                return True
        return False
