"""Request and response bodies of the leads endpoints, and their field limits."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)
from pydantic.config import JsonValue

from eal import geo
from eal.kit.paging import Page
from eal.kit.schemas import NON_BLANK, StrictBody, Timestamp, TimestampIn, omittable
from eal.leads.phone import EMAIL_JSON_SCHEMA, PHONE_JSON_SCHEMA, normalize_email, normalize_phone
from eal.leads.scoring import normalize_source

#: No single text field may be longer; the issue's "huge string" bound.
MAX_TEXT = 10_000


class PipelineStage(StrEnum):
    """Where a lead stands in the sales pipeline."""

    NEW = "new"
    CONTACTED = "contacted"
    QUALIFIED = "qualified"
    PROPOSAL = "proposal"
    WON = "won"
    LOST = "lost"


class CrmStatus(StrEnum):
    """Outcome of the last CRM push of a lead."""

    OK = "ok"
    SIMULATED = "simulated"
    """A test-environment key pushed: nothing was sent to the vendor."""
    ERROR = "error"


def _blank_to_none(value: Any) -> Any:
    # Web forms send "" for fields left empty; that means "not given".
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _size_text(value: Any) -> Any:
    # "50" and 50 both describe a company size; ranges such as "11-50" stay text.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return _blank_to_none(value)


def _whole_number(value: Any) -> Any:
    # JSON has one number type: 92.0 is the integer 92 (as JSON Schema says). Strings,
    # booleans and fractions are still refused.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _source_key(value: str | None) -> str | None:
    # One spelling per source ("Google Ads" -> "google_ads"), as scoring weights
    # and the list filter use it.
    return None if value is None else normalize_source(value)


# Optional text: blank means absent, and each kind has its length bound.
ShortText = Annotated[Annotated[str, Field(max_length=200)] | None, BeforeValidator(_blank_to_none)]
Label = Annotated[Annotated[str, Field(max_length=64)] | None, BeforeValidator(_blank_to_none)]
EmailText = Annotated[
    Annotated[str, Field(max_length=320, json_schema_extra=EMAIL_JSON_SCHEMA)] | None,
    BeforeValidator(_blank_to_none),
]
PhoneText = Annotated[
    Annotated[str, Field(max_length=64, json_schema_extra=PHONE_JSON_SCHEMA)] | None,
    BeforeValidator(_blank_to_none),
]
PostalText = Annotated[Annotated[str, Field(max_length=20)] | None, BeforeValidator(_blank_to_none)]
AddressText = Annotated[
    Annotated[str, Field(max_length=1000)] | None, BeforeValidator(_blank_to_none)
]
SizeText = Annotated[Annotated[str, Field(max_length=64)] | None, BeforeValidator(_size_text)]
SourceText = Annotated[Label, AfterValidator(_source_key)]
LongText = Annotated[
    Annotated[str, Field(max_length=MAX_TEXT)] | None, BeforeValidator(_blank_to_none)
]


def _email(value: str | None) -> str | None:
    return None if value is None else normalize_email(value)


#: The contact rule of a new lead, in the document: an email, or a name and a company.
_CONTACT_RULE: list[JsonValue] = [
    {"required": ["email"], "properties": {"email": {"type": "string"}}},
    {
        "required": ["name", "company"],
        "properties": {
            "name": {"type": "string", "pattern": NON_BLANK},
            "company": {"type": "string", "pattern": NON_BLANK},
        },
    },
]


class LeadCreate(StrictBody):
    """POST /leads. At least one of email, or name + company (checked by the service).

    Blank text fields mean "not given"; `form_submitted_at` must not be before
    `form_started_at`.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": _CONTACT_RULE,
            "examples": [
                {
                    "name": "Sarah Mitchell",
                    "email": "sarah.mitchell@example.com",
                    "phone": "+16785550142",
                    "source": "website",
                    "industry": "residential",
                    "pipeline_stage": "new",
                    "postal_code": "30075",
                    "message": "Water coming through the basement ceiling after the storm.",
                }
            ],
        }
    )

    name: ShortText = None
    company: ShortText = None
    email: EmailText = None
    phone: PhoneText = None
    source: SourceText = None
    industry: Label = None
    company_size: SizeText = None
    pipeline_stage: PipelineStage = PipelineStage.NEW
    budget_range: Label = None
    postal_code: PostalText = None
    address: AddressText = None
    message: LongText = None
    form_started_at: TimestampIn | None = None
    form_submitted_at: TimestampIn | None = None

    @field_validator("email")
    @classmethod
    def _valid_email(cls, value: str | None) -> str | None:
        return _email(value)

    @field_validator("phone")
    @classmethod
    def _valid_phone(cls, value: str | None) -> str | None:
        # A number that does not parse is kept as given (phone_valid: false), never a 422:
        # the lead matters more than the format of its number.
        if value is None:
            return None
        try:
            return normalize_phone(value)
        except ValueError:
            return value

    @field_validator("postal_code")
    @classmethod
    def _postal_code(cls, value: str | None) -> str | None:
        # US codes are kept in their five-digit form; others are stored as given.
        return None if value is None else (geo.normalize_postal_code(value) or value)

    @field_validator("form_submitted_at")
    @classmethod
    def _submitted_after_start(
        cls, value: datetime | None, info: ValidationInfo
    ) -> datetime | None:
        started = info.data.get("form_started_at")
        if value is not None and started is not None and value < started:
            raise ValueError("must not be before form_started_at")
        return value


#: The fields PATCH /leads/{id} may change (the spec's whitelist).
PATCHABLE_FIELDS = (
    "name",
    "company",
    "email",
    "source",
    "lead_score",
    "pipeline_stage",
    "industry",
    "company_size",
    "pain_points",
    "timeline",
    "budget_range",
    "ai_reasoning",
)


class LeadUpdate(StrictBody):
    """PATCH /leads/{id}: whitelisted fields only; an explicit null clears a field.

    `lead_score` and `pipeline_stage` always have a value: they may be left
    out, not cleared. The lead must keep an email, or a name and a company.
    """

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"pipeline_stage": "won", "lead_score": 92}]}
    )

    name: ShortText = None
    company: ShortText = None
    email: EmailText = None
    source: SourceText = None
    lead_score: Annotated[int, Field(ge=0, le=100, strict=True)] | None = omittable()
    pipeline_stage: PipelineStage | None = omittable()
    industry: Label = None
    company_size: SizeText = None
    pain_points: LongText = None
    timeline: Label = None
    budget_range: Label = None
    ai_reasoning: LongText = None

    @field_validator("email")
    @classmethod
    def _valid_email(cls, value: str | None) -> str | None:
        return _email(value)

    @field_validator("lead_score", mode="before")
    @classmethod
    def _json_integer(cls, value: Any) -> Any:
        return _whole_number(value)

    @field_validator("lead_score", "pipeline_stage")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # Only runs for values the client sent: an explicit null is refused.
        if value is None:
            raise ValueError("may not be null")
        return value

    def changes(self) -> dict[str, Any]:
        """The fields the client sent, with their (validated) values."""
        return {
            name: getattr(self, name) for name in PATCHABLE_FIELDS if name in self.model_fields_set
        }


class LeadListItem(BaseModel):
    """A lead in a list page (the spec's list shape)."""

    id: uuid.UUID
    organization_id: uuid.UUID
    name: str | None
    company: str | None
    email: str | None
    source: str | None
    lead_score: int
    pipeline_stage: str
    industry: str | None
    company_size: str | None
    created_at: Timestamp
    updated_at: Timestamp


class CrmSyncOut(BaseModel):
    """The lead's last CRM push."""

    vendor: str | None
    external_id: str | None
    status: str
    last_synced_at: Timestamp | None
    error: str | None = None


class LeadOut(LeadListItem):
    """A lead with every field, AI qualification and CRM sync included."""

    phone: str | None
    phone_valid: bool | None = Field(
        description="False when the phone number does not parse (it is kept as given); "
        "null without a phone."
    )
    pain_points: str | None
    timeline: str | None
    budget_range: str | None
    ai_reasoning: str | None
    qualification_completed_at: Timestamp | None
    scored_at: Timestamp | None
    postal_code: str | None
    address: str | None
    message: str | None
    form_started_at: Timestamp | None
    form_submitted_at: Timestamp | None
    crm_sync: CrmSyncOut | None


class LeadPage(Page[LeadListItem]):
    """GET /leads."""


class ScoreContribution(BaseModel):
    """One signal's signed share of the score (0-1 scale: +0.10 is ten points)."""

    signal: str
    label: str
    value: float


class LeadScored(BaseModel):
    """POST /leads/{id}/score."""

    id: uuid.UUID
    lead_score: int
    ai_reasoning: str | None
    scored_at: Timestamp
    contributions: list[ScoreContribution]


class CrmPushOut(BaseModel):
    """POST /leads/{id}/push-to-crm."""

    id: uuid.UUID
    crm_sync: CrmSyncOut
