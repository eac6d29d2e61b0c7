"""Request and response bodies of the organizations endpoints."""

from __future__ import annotations

import re
import uuid
from functools import cache
from typing import Annotated, Any, Literal, get_args
from zoneinfo import available_timezones

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict, Field, field_validator

from eal.apikeys.schemas import ApiKeyCreated
from eal.auth.scopes import GrantScope
from eal.calls.settings import (
    AiSettingsIn,
    BusinessHoursIn,
    CallRailSettingsIn,
    DispatchSettingsIn,
)
from eal.claims.settings import ClaimsSettingsIn, CompanyCamSettingsCreate, CompanyCamSettingsIn
from eal.content.settings import (
    GoogleBusinessSettingsCreate,
    GoogleBusinessSettingsIn,
    ProfileSettingsIn,
    ReviewsSettingsIn,
    WordPressSettingsCreate,
    WordPressSettingsIn,
)
from eal.geo import ServiceArea
from eal.kit.paging import Page
from eal.kit.schemas import NON_BLANK, StrictBody, Timestamp, TimestampIn, omittable
from eal.leads.phone import EMAIL_JSON_SCHEMA
from eal.leads.scoring_weights import MAX_SOURCE_WEIGHT
from eal.organizations.vendor_settings import (
    SECRET_PATTERN,
    VENDOR_URL_PATTERN,
    EmailSettings,
    OutreachSettings,
    SmsSettings,
    SmsSettingsCreate,
)

Name = Annotated[str, Field(min_length=1, max_length=200, json_schema_extra={"pattern": NON_BLANK})]
LOCALE_PATTERN = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"
_LOCALE = re.compile(LOCALE_PATTERN)
Industry = Literal[
    "restoration",
    "water_damage",
    "fire_damage",
    "mold",
    "biohazard",
    "general_contractor",
]
INDUSTRIES: tuple[str, ...] = get_args(Industry)


@cache
def _iana_zones() -> frozenset[str]:
    # The tz database's names only: ZoneInfo alone would also open files such as
    # "posix/America/New_York" or "right/UTC" that are not zone names.
    return frozenset(available_timezones())


def check_timezone(value: str) -> str:
    """A real IANA time zone name: an Area/Location name such as America/New_York, or UTC.

    Legacy names without a '/' (EST5EDT, EST, GMT) are refused: they carry no
    location, and several ignore daylight saving time.
    """
    if value != "UTC" and ("/" not in value or value not in _iana_zones()):
        raise ValueError(f"'{value}' is not an IANA time zone (e.g. America/New_York)")
    return value


# An explicit null for a field that must always have a value is refused rather
# than silently dropping the field (omit a field to leave it unchanged).
NOT_NULL = "may not be null (omit the field to leave it unchanged)"


class LeadScoringSettings(StrictBody):
    """Per-organization lead scoring overrides."""

    source_weights: (
        dict[
            Annotated[str, Field(max_length=64)],
            Annotated[float, Field(ge=-MAX_SOURCE_WEIGHT, le=MAX_SOURCE_WEIGHT)],
        ]
        | None
    ) = None


CrmApiKey = Annotated[
    str, Field(min_length=8, max_length=500, json_schema_extra={"pattern": SECRET_PATTERN})
]


class CrmSettingsIn(StrictBody):
    """CRM credentials; the api_key is stored encrypted and never returned."""

    vendor: Literal["jobnimbus"]
    api_key: CrmApiKey | None = Field(
        default=None,
        description="Required the first time; omit it to keep the stored key and change the rest.",
    )
    base_url: (
        Annotated[
            str,
            Field(
                pattern=r"^https?://",
                max_length=500,
                json_schema_extra={"pattern": VENDOR_URL_PATTERN, "format": "uri"},
            ),
        ]
        | None
    ) = Field(
        default=None,
        description="The vendor's API base URL (tests, sandboxes); checked like webhook URLs.",
    )
    lead_id_field: Annotated[str, Field(pattern=r"^cf_string_\d{1,3}$")] | None = Field(
        default=None,
        description="JobNimbus custom text field (e.g. cf_string_7) that holds eal's lead id, "
        "used to find a contact again instead of creating a duplicate.",
    )
    call_id_field: Annotated[str, Field(pattern=r"^cf_string_\d{1,3}$")] | None = Field(
        default=None,
        description="JobNimbus custom text job field (default cf_string_2) that holds eal's "
        "call id, used to find a dispatched call's job again instead of creating a twin.",
    )
    job_record_type_name: (
        Annotated[
            str, Field(min_length=1, max_length=100, json_schema_extra={"pattern": NON_BLANK})
        ]
        | None
    ) = Field(
        default=None, description='The JobNimbus job workflow of dispatched calls ("Residential").'
    )
    job_status_name: (
        Annotated[
            str, Field(min_length=1, max_length=100, json_schema_extra={"pattern": NON_BLANK})
        ]
        | None
    ) = Field(default=None, description='The status of that workflow new jobs get ("Lead").')


class CrmSettingsCreate(CrmSettingsIn):
    """CRM credentials of a new organization: nothing is stored yet, so the api_key is required."""

    api_key: CrmApiKey  # type: ignore[assignment]


class IntegrationsIn(StrictBody):
    """Integration settings (each may be null to remove it)."""

    crm: CrmSettingsIn | None = None
    sms: SmsSettings | None = None
    email: EmailSettings | None = None
    callrail: CallRailSettingsIn | None = None
    wordpress: WordPressSettingsIn | None = None
    google_business: GoogleBusinessSettingsIn | None = None
    companycam: CompanyCamSettingsIn | None = None


class IntegrationsCreate(IntegrationsIn):
    """Integration settings of a new organization: each one's secret is required."""

    crm: CrmSettingsCreate | None = None
    sms: SmsSettingsCreate | None = None
    wordpress: WordPressSettingsCreate | None = None
    google_business: GoogleBusinessSettingsCreate | None = None
    companycam: CompanyCamSettingsCreate | None = None


TIME_ZONE_SCHEMA = {
    # JSON Schema cannot list the tz database; the format names the rule.
    "format": "time-zone",
    "description": "An IANA time zone name: Area/Location (America/New_York), or UTC.",
    "examples": ["America/New_York"],
}


class SettingsIn(StrictBody):
    """Organization settings accepted on create and PATCH (merged key by key).

    `timezone` and `default_locale` always have a value: leave them out to keep
    them. The other parts may be null to remove them.
    """

    timezone: str | None = omittable(schema=TIME_ZONE_SCHEMA)
    default_locale: str | None = omittable(
        schema={"pattern": LOCALE_PATTERN, "examples": ["en-US"]}
    )
    service_area: ServiceArea | None = None
    lead_scoring: LeadScoringSettings | None = None
    integrations: IntegrationsIn | None = None
    outreach: OutreachSettings | None = None
    business_hours: BusinessHoursIn | None = Field(
        default=None,
        description="Opening hours per day in the organization's time zone "
        "(default Mon-Fri 08:00-18:00); calls are dispatched by them.",
    )
    dispatch: DispatchSettingsIn | None = None
    ai: AiSettingsIn | None = None
    profile: ProfileSettingsIn | None = Field(
        default=None, description="The business's phone and website, as content names them."
    )
    reviews: ReviewsSettingsIn | None = None
    claims: ClaimsSettingsIn | None = None

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str:
        if value is None:
            raise ValueError(NOT_NULL)
        return check_timezone(value)

    @field_validator("default_locale")
    @classmethod
    def _locale(cls, value: str | None) -> str:
        if value is None:
            raise ValueError(NOT_NULL)
        if not _LOCALE.match(value):
            raise ValueError("must be a BCP 47 locale such as en-US")
        return value


class SettingsCreate(SettingsIn):
    """The settings of a new organization."""

    integrations: IntegrationsCreate | None = None


class OrganizationCreate(StrictBody):
    """POST /organizations: a child of the calling organization."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "PuroClean of West Cobb",
                    "industry": "restoration",
                    "settings": {"timezone": "America/New_York"},
                    "primary_admin_email": "owner@example.com",
                }
            ]
        }
    )

    name: Name
    industry: Industry = "restoration"
    settings: SettingsCreate | None = None
    primary_admin_email: Annotated[str, Field(json_schema_extra=EMAIL_JSON_SCHEMA)] | None = None

    @field_validator("primary_admin_email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return validate_email(value, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            raise ValueError(str(exc)) from exc


class OrganizationUpdate(StrictBody):
    """PATCH /organizations/{id}: `name` and `settings` may be left out, not null."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"settings": {"timezone": "America/New_York", "default_locale": "en-US"}},
                {
                    "settings": {
                        "integrations": {
                            "crm": {
                                "vendor": "jobnimbus",
                                "api_key": "jn_live_0123456789abcdef",
                                "lead_id_field": "cf_string_7",
                            }
                        }
                    }
                },
            ]
        }
    )

    name: Name | None = omittable()
    settings: SettingsIn | None = omittable()

    @field_validator("name", "settings")
    @classmethod
    def _present(cls, value: object) -> object:
        if value is None:
            raise ValueError(NOT_NULL)
        return value


class GrantCreate(StrictBody):
    """POST /organizations/{id}/grants: the parent must be this organization's parent."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "parent_organization_id": "ab12c3d4-e5f6-7890-abcd-ef1234567890",
                    "scopes": ["leads.read", "calls.read", "audit_log.read"],
                    "expires_at": "2027-04-27T00:00:00.000Z",
                }
            ]
        }
    )

    parent_organization_id: uuid.UUID
    scopes: list[GrantScope] = Field(
        min_length=1, max_length=len(GrantScope), json_schema_extra={"uniqueItems": True}
    )
    expires_at: TimestampIn = Field(description="In the future.")

    @field_validator("scopes")
    @classmethod
    def _unique(cls, value: list[GrantScope]) -> list[GrantScope]:
        if len(set(value)) != len(value):
            raise ValueError("scopes must not repeat")
        return value


class OrganizationOut(BaseModel):
    """An organization as the API shows it."""

    id: uuid.UUID
    name: str
    industry: str
    parent_organization_id: uuid.UUID | None
    settings: dict[str, Any]
    created_at: Timestamp
    updated_at: Timestamp


class ChildOrganizationOut(BaseModel):
    """A child organization in the parent's list, with the grants it gave the parent."""

    id: uuid.UUID
    name: str
    industry: str
    grants: list[str]
    created_at: Timestamp


class ChildOrganizationPage(Page[ChildOrganizationOut]):
    """GET /organizations."""


class OrganizationCreated(BaseModel):
    id: uuid.UUID
    name: str
    industry: str
    parent_organization_id: uuid.UUID | None
    settings: dict[str, Any]
    invite_url: str
    invite_expires_at: Timestamp
    created_at: Timestamp


class OrganizationUpdated(BaseModel):
    id: uuid.UUID
    name: str
    settings: dict[str, Any]
    updated_at: Timestamp


class GrantOut(BaseModel):
    grant_id: uuid.UUID
    organization_id: uuid.UUID
    parent_organization_id: uuid.UUID
    scopes: list[str]
    created_at: Timestamp
    expires_at: Timestamp


class InviteAccepted(BaseModel):
    organization: OrganizationOut
    api_key: ApiKeyCreated
    warning: str = Field(serialization_alias="_warning")
