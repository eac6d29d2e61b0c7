"""Request and response bodies of the organizations endpoints."""

from __future__ import annotations

import re
import uuid
from functools import cache
from typing import Annotated, Any, Literal, get_args
from zoneinfo import available_timezones

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, Field, field_validator

from eal.apikeys.schemas import ApiKeyCreated
from eal.auth.scopes import GrantScope
from eal.geo import ServiceArea
from eal.kit.paging import Page
from eal.kit.schemas import StrictBody, Timestamp, TimestampIn
from eal.leads.scoring_weights import MAX_SOURCE_WEIGHT
from eal.outreach.settings import EmailSettingsIn, OutreachSettingsIn, SmsSettingsIn

Name = Annotated[str, Field(min_length=1, max_length=200)]
_LOCALE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
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


class CrmSettingsIn(StrictBody):
    """CRM credentials; the api_key is stored encrypted and never returned."""

    vendor: Literal["jobnimbus"]
    api_key: Annotated[str, Field(min_length=8, max_length=500)] | None = Field(
        default=None,
        description="Required the first time; omit it to keep the stored key and change the rest.",
    )
    base_url: Annotated[str, Field(pattern=r"^https?://", max_length=500)] | None = Field(
        default=None,
        description="The vendor's API base URL (tests, sandboxes); checked like webhook URLs.",
    )
    lead_id_field: Annotated[str, Field(pattern=r"^cf_string_\d{1,3}$")] | None = Field(
        default=None,
        description="JobNimbus custom text field (e.g. cf_string_7) that holds eal's lead id, "
        "used to find a contact again instead of creating a duplicate.",
    )


class IntegrationsIn(StrictBody):
    """Integration settings (each may be null to remove it)."""

    crm: CrmSettingsIn | None = None
    sms: SmsSettingsIn | None = None
    email: EmailSettingsIn | None = None


class SettingsIn(StrictBody):
    """Organization settings accepted on create and PATCH (merged key by key)."""

    timezone: str | None = None
    default_locale: str | None = None
    service_area: ServiceArea | None = None
    lead_scoring: LeadScoringSettings | None = None
    integrations: IntegrationsIn | None = None
    outreach: OutreachSettingsIn | None = None

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


class OrganizationCreate(StrictBody):
    """POST /organizations: a child of the calling organization."""

    name: Name
    industry: Industry = "restoration"
    settings: SettingsIn | None = None
    primary_admin_email: str | None = None

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
    """PATCH /organizations/{id}."""

    name: Name | None = None
    settings: SettingsIn | None = None

    @field_validator("name", "settings")
    @classmethod
    def _present(cls, value: object) -> object:
        if value is None:
            raise ValueError(NOT_NULL)
        return value


class GrantCreate(StrictBody):
    """POST /organizations/{id}/grants."""

    parent_organization_id: uuid.UUID
    scopes: list[GrantScope] = Field(min_length=1, max_length=len(GrantScope))
    expires_at: TimestampIn

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
