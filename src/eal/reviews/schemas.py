"""Request and response bodies of the reviews endpoints."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from eal.ai.reviews import Sentiment
from eal.content.schemas import MAX_REVIEW_TEXT, ContentStatus
from eal.kit.schemas import HTTPS_URL_PATTERN, NON_BLANK, StrictBody, Timestamp, TimestampIn

REVIEW_PREFIX = "rev"
ReviewUrl = Annotated[
    str,
    Field(
        pattern=HTTPS_URL_PATTERN,
        max_length=500,
        json_schema_extra={"format": "uri"},
    ),
]


class ReviewRequestCreate(StrictBody):
    """POST /reviews/request: ask a customer whose job is won for a review."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "lead_id": "9f1c8a32-4d65-4e2b-8a91-3c0e7d4b2f18",
                    "channel": "sms",
                    "review_url": "https://g.page/r/CbX2example/review",
                }
            ]
        }
    )

    lead_id: uuid.UUID
    channel: Literal["sms", "email"]
    review_url: ReviewUrl


class ReviewRequested(BaseModel):
    """The request as queued on the one sending path."""

    message_id: str
    lead_id: uuid.UUID
    channel: str
    status: str
    review_url: str
    queued_at: Timestamp
    scheduled_for: Timestamp | None = Field(
        default=None, description="Set when quiet hours hold the text until then."
    )


class ReviewCreate(StrictBody):
    """POST /reviews: a review found on a listing surface."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "platform": "google",
                    "review_id": "g_review_z2x8c4v1",
                    "rating": 5,
                    "text": "They were here within the hour and dried out our basement.",
                    "author": "Sarah Kim",
                    "url": "https://maps.google.com/review/g_review_z2x8c4v1",
                    "created_at": "2026-04-27T18:02:00.000Z",
                }
            ]
        }
    )

    platform: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,30}$")]
    review_id: Annotated[
        str, Field(min_length=1, max_length=200, json_schema_extra={"pattern": NON_BLANK})
    ]
    rating: Annotated[int, Field(ge=1, le=5)]
    text: Annotated[str, Field(max_length=MAX_REVIEW_TEXT)] | None = None
    author: Annotated[str, Field(max_length=200)] | None = None
    url: ReviewUrl | None = None
    created_at: TimestampIn | None = None


class ReplyOfReview(BaseModel):
    content_id: str
    status: ContentStatus
    response_text: str | None


class ReviewOut(BaseModel):
    """A recorded review and the reply drafted for it."""

    id: str
    platform: str
    review_id: str
    rating: int | None
    text: str | None
    author: str | None
    url: str | None
    created_at: Timestamp | None
    sentiment: Sentiment
    reply: ReplyOfReview | None
    recorded_at: Timestamp
