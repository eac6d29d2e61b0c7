"""Request and response bodies of the prospects endpoints, the domain's enums and limits."""

from __future__ import annotations

import re
import uuid
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from eal import geo
from eal.kit.paging import Page
from eal.kit.schemas import NON_BLANK, StrictBody, Timestamp, omittable
from eal.leads.phone import EMAIL_JSON_SCHEMA, PHONE_JSON_SCHEMA, normalize_email, normalize_phone

#: At most this many prospects per batch qualification.
MAX_QUALIFY_BATCH = 500
#: At most this many data rows per CSV import.
MAX_IMPORT_ROWS = 10_000
MAX_NOTES = 10_000
#: The largest portfolio figures taken (beyond any real portfolio; keeps the score sane).
MAX_BUILDINGS = 100_000
MAX_UNITS = 10_000_000
BATCH_PREFIX = "qbat"
BATCH_ID_PATTERN = "qbat_[0-9a-f]{32}"


class Vertical(StrEnum):
    """The kind of organization a prospect is."""

    PROPERTY_MANAGEMENT = "property_management"
    MULTIFAMILY = "multifamily"
    HOA = "hoa"
    HEALTHCARE = "healthcare"
    EDUCATION = "education"
    HOSPITALITY = "hospitality"
    RESTAURANT = "restaurant"
    OFFICE = "office"
    RETAIL = "retail"
    INDUSTRIAL = "industrial"
    GOVERNMENT = "government"
    OTHER = "other"


class QualificationStatus(StrEnum):
    """pending until qualified; then the verdict."""

    PENDING = "pending"
    QUALIFIED = "qualified"
    DISQUALIFIED = "disqualified"
    NEEDS_REVIEW = "needs_review"


class OutreachStatus(StrEnum):
    """Follows the prospect's outreach enrollments (kept by the database)."""

    NONE = "none"
    SEQUENCE_ACTIVE = "sequence_active"
    REPLIED = "replied"
    OPTED_OUT = "opted_out"
    COMPLETED = "completed"


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _whole_number(value: Any) -> Any:
    # JSON has one number type: 28.0 is the integer 28; CSV cells arrive as text.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[0-9][0-9,]*\s*", value):
        return int(value.replace(",", ""))
    return _blank_to_none(value)


ShortText = Annotated[Annotated[str, Field(max_length=200)] | None, BeforeValidator(_blank_to_none)]
EmailText = Annotated[
    Annotated[str, Field(max_length=320, json_schema_extra=EMAIL_JSON_SCHEMA)] | None,
    BeforeValidator(_blank_to_none),
]
PhoneText = Annotated[
    Annotated[str, Field(max_length=64, json_schema_extra=PHONE_JSON_SCHEMA)] | None,
    BeforeValidator(_blank_to_none),
]
# The path's characters are spelled out (NON_BLANK): "\S" differs between JSON Schema's
# regex dialect and Python's, which counts \x1c-\x1f and \x85 as space, so the document
# and the validator would disagree.
_WEBSITE_PATTERN = (
    r"^(https?://)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+(:[0-9]{1,5})?([/?#]" + NON_BLANK + r"*)?$"
)
UrlText = Annotated[
    Annotated[str, Field(max_length=2000, json_schema_extra={"pattern": _WEBSITE_PATTERN})] | None,
    BeforeValidator(_blank_to_none),
]
PostalText = Annotated[Annotated[str, Field(max_length=20)] | None, BeforeValidator(_blank_to_none)]
NotesText = Annotated[
    Annotated[str, Field(max_length=MAX_NOTES)] | None, BeforeValidator(_blank_to_none)
]
Buildings = Annotated[
    Annotated[int, Field(ge=0, le=MAX_BUILDINGS, strict=True)] | None,
    BeforeValidator(_whole_number),
]
Units = Annotated[
    Annotated[int, Field(ge=0, le=MAX_UNITS, strict=True)] | None,
    BeforeValidator(_whole_number),
]
CompanyName = Annotated[
    str, Field(min_length=1, max_length=200, json_schema_extra={"pattern": NON_BLANK})
]
VerticalIn = Annotated[Vertical | None, BeforeValidator(_blank_to_none)]

_WEBSITE = re.compile(_WEBSITE_PATTERN)


def _email(value: str | None) -> str | None:
    # Stored lower-case: the duplicate rule treats addresses case-insensitively.
    return None if value is None else normalize_email(value).lower()


def _phone(value: str | None) -> str | None:
    # A number that does not parse is kept as given: the prospect matters more.
    if value is None:
        return None
    try:
        return normalize_phone(value)
    except ValueError:
        return value


def _website(value: str | None) -> str | None:
    if value is None:
        return None
    if not _WEBSITE.match(value):
        raise ValueError("must be a web address such as https://example.com")
    return value


def _postal(value: str | None) -> str | None:
    # US codes are kept in their five-digit form; others are stored as given.
    return None if value is None else (geo.normalize_postal_code(value) or value)


class _ProspectFields(StrictBody):
    contact_name: ShortText = None
    contact_email: EmailText = None
    contact_phone: PhoneText = None
    vertical: VerticalIn = None
    website: UrlText = None
    postal_code: PostalText = None
    buildings_managed: Buildings = None
    units: Units = None
    incumbent_vendor: ShortText = Field(
        default=None,
        description="The restoration vendor the prospect uses now ('none' when it has none).",
    )
    notes: NotesText = None

    @field_validator("contact_email")
    @classmethod
    def _valid_email(cls, value: str | None) -> str | None:
        return _email(value)

    @field_validator("contact_phone")
    @classmethod
    def _valid_phone(cls, value: str | None) -> str | None:
        return _phone(value)

    @field_validator("website")
    @classmethod
    def _valid_website(cls, value: str | None) -> str | None:
        return _website(value)

    @field_validator("postal_code")
    @classmethod
    def _valid_postal(cls, value: str | None) -> str | None:
        return _postal(value)


#: The columns a CSV import may have (company_name is required).
FIELDS = (
    "company_name",
    "contact_name",
    "contact_email",
    "contact_phone",
    "vertical",
    "website",
    "postal_code",
    "buildings_managed",
    "units",
    "incumbent_vendor",
    "notes",
)


class ProspectCreate(_ProspectFields):
    """POST /prospects: company_name is required; every other field may be left out."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "company_name": "Sandy Springs Property Group",
                    "contact_name": "Daniel Park",
                    "contact_email": "dpark@example.com",
                    "vertical": "property_management",
                    "postal_code": "30328",
                    "buildings_managed": 28,
                    "units": 1400,
                }
            ]
        }
    )

    company_name: CompanyName


class ProspectUpdate(_ProspectFields):
    """PATCH /prospects/{id}: the fields sent change; an explicit null clears one.

    company_name may be changed, not cleared.
    """

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"incumbent_vendor": "none", "buildings_managed": 31}]}
    )

    company_name: CompanyName | None = omittable()

    @field_validator("company_name")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may not be null")
        return value

    def changes(self) -> dict[str, Any]:
        """The fields the client sent, with their validated values (enums as text)."""
        values = {name: getattr(self, name) for name in FIELDS if name in self.model_fields_set}
        if isinstance(values.get("vertical"), Vertical):
            values["vertical"] = values["vertical"].value
        return values


class ProspectListItem(BaseModel):
    """A prospect in a list page (the spec's shape)."""

    id: uuid.UUID
    company_name: str
    contact_name: str | None
    contact_email: str | None
    vertical: str | None
    qualification_status: str
    outreach_status: str
    created_at: Timestamp


class ProspectOut(ProspectListItem):
    """A prospect with every field and its last qualification."""

    contact_phone: str | None
    website: str | None
    postal_code: str | None
    buildings_managed: int | None
    units: int | None
    incumbent_vendor: str | None
    notes: str | None
    fit_score: int | None
    engagement_score: int | None
    rationale: list[str] | None
    provider: str | None = Field(description="What produced the last qualification.")
    qualified_at: Timestamp | None
    updated_at: Timestamp


class ProspectPage(Page[ProspectListItem]):
    """GET /prospects."""


class QualifyRequest(StrictBody):
    """POST /prospects/qualify: one prospect (`prospect_id`), or a batch (`prospect_ids`)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"prospect_id": "1c4f7d28-3a90-4e2c-9b3a-8d5f1e0c7a32"},
                {"prospect_ids": ["1c4f7d28-3a90-4e2c-9b3a-8d5f1e0c7a32"]},
            ],
            "oneOf": [{"required": ["prospect_id"]}, {"required": ["prospect_ids"]}],
        }
    )

    prospect_id: uuid.UUID | None = omittable()
    prospect_ids: list[uuid.UUID] | None = omittable(
        schema={"minItems": 1, "maxItems": MAX_QUALIFY_BATCH},
        description=f"Up to {MAX_QUALIFY_BATCH} prospects, qualified by a job.",
    )

    @field_validator("prospect_ids")
    @classmethod
    def _batch_size(cls, value: list[uuid.UUID] | None) -> list[uuid.UUID] | None:
        if value is None:
            raise ValueError("may not be null")
        if not 1 <= len(value) <= MAX_QUALIFY_BATCH:
            raise ValueError(f"must list 1 to {MAX_QUALIFY_BATCH} prospect ids")
        return value

    @field_validator("prospect_id")
    @classmethod
    def _one_id(cls, value: uuid.UUID | None) -> uuid.UUID | None:
        if value is None:
            raise ValueError("may not be null")
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> QualifyRequest:
        if (self.prospect_id is None) == (self.prospect_ids is None):
            raise ValueError("give either prospect_id or prospect_ids")
        return self


class QualificationOut(BaseModel):
    """The verdict of one qualification (the spec's shape, plus status, engagement, provider)."""

    prospect_id: uuid.UUID
    qualified: bool
    fit_score: int = Field(ge=0, le=100, description="Who the prospect is, 0-100.")
    rationale: list[str]
    qualified_at: Timestamp
    qualification_status: QualificationStatus
    engagement_score: int | None = Field(
        ge=0, le=100, description="How it answered outreach, 0-100; null before any."
    )
    provider: str = Field(description="'embedded', or 'llm:<model>' when an LLM phrased it.")


class BatchQueued(BaseModel):
    """202 of a batch qualification."""

    batch_id: str


class BatchItem(BaseModel):
    """One prospect of a batch: its verdict once qualified, or why it was not."""

    prospect_id: uuid.UUID
    status: str = Field(description="pending, qualified, not_found or failed")
    result: QualificationOut | None = None
    error: str | None = None


class BatchOut(BaseModel):
    """GET /prospects/qualify/{batch_id}."""

    batch_id: str
    status: str = Field(description="queued, running or completed")
    total: int
    done: int
    results: list[BatchItem]
    created_at: Timestamp
    finished_at: Timestamp | None


class RowError(BaseModel):
    """One problem of one CSV row: its line in the file (the header is line 1)."""

    row: int
    field: str | None
    message: str


class SkippedRow(BaseModel):
    """A CSV row left out because it duplicates a prospect (or an earlier row)."""

    row: int
    reason: str
    existing_prospect_id: uuid.UUID | None = None
    duplicate_of_row: int | None = None


class ImportResult(BaseModel):
    """POST /prospects/import."""

    created: int
    skipped: int
    failed: int
    errors: list[RowError]
    skipped_rows: list[SkippedRow]
    prospect_ids: list[uuid.UUID] = Field(description="The prospects created, in file order.")


class EnrollProspect(StrictBody):
    """POST /prospects/{id}/enroll: put a qualified prospect in an outreach sequence."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"sequence_id": "seq_0f8e2d4c6b1a49e3a5c7d9b2f4e6a8c0"}]}
    )

    sequence_id: Annotated[
        str, Field(min_length=1, max_length=100, json_schema_extra={"pattern": NON_BLANK})
    ]
    force: bool = Field(
        default=False, description="Enroll it even while it runs in another sequence."
    )


class EnrolledOut(BaseModel):
    """The enrollment made, and the prospect's outreach status after it."""

    prospect_id: uuid.UUID
    sequence_id: str
    enrollment_id: str
    result: str = Field(description="enrolled or already_enrolled")
    outreach_status: OutreachStatus
