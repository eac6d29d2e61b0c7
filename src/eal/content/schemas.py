"""Request and response bodies of the content endpoints, and the words they use."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from eal.ai.reviews import Sentiment, Tone
from eal.geo import POSTAL_CODE_PATTERN, normalize_postal_code
from eal.kit.paging import Page
from eal.kit.schemas import NON_BLANK, StrictBody, Timestamp, TimestampIn, stripped_at_least

CONTENT_PREFIX = "ctnt"
CONTENT_ID_PATTERN = "ctnt_[0-9a-f]{32}"
MIN_WORDS, MAX_WORDS = 300, 4000
MIN_SECONDS, MAX_SECONDS = 15, 600
CUTDOWN_SECONDS = 30
#: A `short` runs at most a minute.
SHORT_MAX_SECONDS = 60
MAX_TITLE = 200
MAX_BODY = 100_000
MAX_REVIEW_TEXT = 5000


class ContentType(StrEnum):
    BLOG = "blog"
    VIDEO = "video"
    SOCIAL = "social"
    REVIEW_RESPONSE = "review_response"


class ContentStatus(StrEnum):
    GENERATING = "generating"
    DRAFT = "draft"
    PENDING_OWNER_APPROVAL = "pending_owner_approval"
    SCHEDULED = "scheduled"
    PUBLISHED = "published"
    FAILED = "failed"


class Channel(StrEnum):
    """Where an item can be published; the social networks have no connector yet."""

    WORDPRESS = "wordpress"
    GOOGLE_BUSINESS = "google_business"
    FACEBOOK = "facebook"
    INSTAGRAM = "instagram"


class ServiceType(StrEnum):
    WATER_DAMAGE = "water_damage"
    FIRE_DAMAGE = "fire_damage"
    MOLD_REMEDIATION = "mold_remediation"
    BIOHAZARD = "biohazard"
    STORM_DAMAGE = "storm_damage"
    SEWAGE_CLEANUP = "sewage_cleanup"


VideoFormat = Literal["feature", "short", "testimonial"]
Text200 = Annotated[
    str, Field(min_length=1, max_length=200, json_schema_extra={"pattern": NON_BLANK})
]


class ServiceAreaIn(StrictBody):
    city: Annotated[
        str, Field(min_length=1, max_length=100, json_schema_extra={"pattern": NON_BLANK})
    ]
    region: Annotated[str, Field(pattern=r"^[A-Za-z]{2}$", description="Two-letter state.")]
    postal_code: Annotated[str, Field(pattern=POSTAL_CODE_PATTERN)] | None = None

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        return value.upper()

    @field_validator("postal_code")
    @classmethod
    def _postal(cls, value: str | None) -> str | None:
        return normalize_postal_code(value) if value is not None else None


class BlogCreate(StrictBody):
    """POST /content/blog."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "target_keyword": "mold removal roswell",
                    "service_area": {"city": "Roswell", "region": "GA", "postal_code": "30075"},
                    "service_type": "mold_remediation",
                    "word_count_target": 2000,
                }
            ]
        }
    )

    target_keyword: Annotated[
        str,
        Field(min_length=2, max_length=80, json_schema_extra={"pattern": stripped_at_least(2)}),
    ]
    service_area: ServiceAreaIn
    service_type: ServiceType
    word_count_target: Annotated[int, Field(ge=MIN_WORDS, le=MAX_WORDS)] = 1500


def _video_schema(schema: dict[str, Any]) -> None:
    # A short runs at most a minute.
    schema["anyOf"] = [
        {"properties": {"format": {"enum": ["feature", "testimonial"]}}},
        {
            "required": ["format"],
            "properties": {
                "format": {"const": "short"},
                "duration_seconds": {"maximum": SHORT_MAX_SECONDS},
            },
        },
    ]
    schema["examples"] = [
        {
            "topic": "5 signs of hidden water damage in your basement",
            "format": "feature",
            "duration_seconds": 180,
        }
    ]


class VideoScriptCreate(StrictBody):
    """POST /content/video-script (a `short` runs at most 60 seconds)."""

    model_config = ConfigDict(json_schema_extra=_video_schema)

    topic: Annotated[
        str,
        Field(min_length=3, max_length=200, json_schema_extra={"pattern": stripped_at_least(3)}),
    ]
    format: VideoFormat = "feature"
    duration_seconds: Annotated[int, Field(ge=MIN_SECONDS, le=MAX_SECONDS)] = 60

    @field_validator("duration_seconds")
    @classmethod
    def _short(cls, value: int, info: ValidationInfo) -> int:
        if info.data.get("format") == "short" and value > SHORT_MAX_SECONDS:
            raise ValueError(f"a short runs at most {SHORT_MAX_SECONDS} seconds")
        return value


class ReviewResponseCreate(StrictBody):
    """POST /content/review-response."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "platform": "google",
                    "review_id": "g_review_z2x8c4v1",
                    "rating": 5,
                    "review_text": "PuroClean was at our house within 45 minutes after a pipe "
                    "burst...",
                    "tone": "warm-professional",
                    "reviewer_name": "Sarah K.",
                }
            ]
        }
    )

    platform: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,30}$")]
    review_id: Text200
    rating: Annotated[int, Field(ge=1, le=5)] | None = None
    review_text: Annotated[
        str,
        Field(min_length=1, max_length=MAX_REVIEW_TEXT, json_schema_extra={"pattern": NON_BLANK}),
    ]
    tone: Tone = "warm-professional"
    reviewer_name: Text200 | None = None


class ContentPatch(StrictBody):
    """PATCH /content/{id}: the text of a draft; the previous text is kept as a revision."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "title": "Water Damage in Roswell, GA: The First 24 Hours",
                    "body": "Water damage in Roswell needs fast action.\n\n## What to do first"
                    "\n\nShut off the water and call a restoration company.",
                }
            ]
        }
    )

    title: (
        Annotated[
            str, Field(min_length=1, max_length=MAX_TITLE, json_schema_extra={"pattern": NON_BLANK})
        ]
        | None
    ) = None
    body: (
        Annotated[
            str, Field(min_length=1, max_length=MAX_BODY, json_schema_extra={"pattern": NON_BLANK})
        ]
        | None
    ) = None
    meta_description: (
        Annotated[
            str, Field(min_length=1, max_length=300, json_schema_extra={"pattern": NON_BLANK})
        ]
        | None
    ) = None


class PublishRequest(StrictBody):
    """POST /content/{id}/publish."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"channels": ["wordpress"], "scheduled_for": None}]}
    )

    channels: list[Channel] = Field(
        min_length=1, max_length=len(Channel), json_schema_extra={"uniqueItems": True}
    )
    scheduled_for: TimestampIn | None = None

    @field_validator("channels")
    @classmethod
    def _unique(cls, value: list[Channel]) -> list[Channel]:
        if len(set(value)) != len(value):
            raise ValueError("channels must not repeat")
        return value


# --- responses --------------------------------------------------------------------------


class OutlineItemOut(BaseModel):
    level: int
    text: str


class SeoCheckOut(BaseModel):
    name: str
    passed: bool
    detail: str


class SceneOut(BaseModel):
    scene: int
    voiceover: str
    broll_suggestion: str
    lower_third: str
    duration_seconds: int


class ReviewOfItem(BaseModel):
    platform: str
    review_id: str
    rating: int | None
    sentiment: Sentiment | None


class PublicationOut(BaseModel):
    """One channel's result, as the publish endpoint answers it."""

    model_config = ConfigDict(json_schema_extra={"additionalProperties": True})

    channel: str
    status: str
    url: str | None = None
    scheduled_for: Timestamp | None = None
    published_at: Timestamp | None = None
    error: str | None = None


class ContentListItem(BaseModel):
    """A content item as lists show it (the spec's shape, plus created_at and provider)."""

    id: str
    type: ContentType
    title: str | None
    status: ContentStatus
    channel: str | None
    url: str | None
    word_count: int | None
    target_keyword: str | None
    published_at: Timestamp | None
    provider: str | None
    created_at: Timestamp


class ContentOut(ContentListItem):
    """The full item: body, outline, meta, scenes, checks, revisions count, publications."""

    meta_description: str | None
    slug: str | None
    outline: list[OutlineItemOut] | None
    body: str | None
    estimated_read_time_min: int | None
    seo_checks: list[SeoCheckOut] | None
    format: str | None
    duration_seconds: int | None
    scenes: list[SceneOut] | None
    cutdown_30s_id: str | None
    parent_id: str | None
    review: ReviewOfItem | None
    revision: int
    revisions: int
    publications: list[PublicationOut]
    approved_at: Timestamp | None
    error: str | None
    updated_at: Timestamp


class ContentPage(Page[ContentListItem]):
    """GET /content."""


class RevisionOut(BaseModel):
    revision: int
    title: str | None
    body: str | None
    meta_description: str | None
    edited_by: str | None
    created_at: Timestamp


class RevisionPage(Page[RevisionOut]):
    """GET /content/{id}/revisions."""


class ReviewResponseOut(BaseModel):
    """The spec's answer (`response_text`, `sentiment`, `auto_publish_recommended`) + the item."""

    id: str
    status: ContentStatus
    response_text: str
    sentiment: Sentiment
    auto_publish_recommended: bool
    provider: str
    publication: PublicationOut | None = None


class PublishOut(BaseModel):
    id: str
    status: ContentStatus
    results: list[PublicationOut]
