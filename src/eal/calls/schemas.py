"""Calls enums, request bodies and responses."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from eal.ai.call_labels import Intent, Urgency
from eal.kit.paging import Page
from eal.kit.schemas import (
    HTTP_URL_PATTERN,
    NON_BLANK,
    StrictBody,
    Timestamp,
    TimestampIn,
    stripped_at_least,
)
from eal.leads.phone import PHONE_JSON_SCHEMA

CALL_PREFIX = "call"
#: A call's public id (the routes match only this, so `/calls/stats` names no call).
CALL_ID_PATTERN = "call_[0-9a-f]{32}"
MAX_TRANSCRIPT = 100_000
MAX_NOTE = 2000


class CallStatus(StrEnum):
    """received -> classified -> dispatched | dispatch_failed."""

    RECEIVED = "received"
    """Not classified yet."""
    CLASSIFIED = "classified"
    """A decision was made and no side effect is due (or they are under way)."""
    DISPATCHED = "dispatched"
    """auto_dispatch's side effects are done."""
    DISPATCH_FAILED = "dispatch_failed"
    """A side effect still failed after its retries; `dispatch_decision.error` says why."""


class DispatchAction(StrEnum):
    AUTO_DISPATCH = "auto_dispatch"
    OWNER_REVIEW = "owner_review"
    CALLBACK_QUEUE = "callback_queue"
    IGNORE = "ignore"


class StatsWindow(StrEnum):
    H24 = "24h"
    D7 = "7d"
    D30 = "30d"
    D90 = "90d"


#: The list filter `classification`: the spec's names and the seven intents.
ClassificationFilter = Literal[
    "water",
    "fire",
    "mold",
    "biohazard",
    "sales",
    "junk",
    "sales_pitch",
    "wrong_number",
    "other",
]
#: What each filter value matches.
CLASSIFICATION_FILTERS: dict[str, tuple[str, ...]] = {
    "water": ("water",),
    "fire": ("fire",),
    "mold": ("mold",),
    "biohazard": ("biohazard",),
    "sales": ("sales_pitch",),
    "junk": ("sales_pitch", "wrong_number"),
    "sales_pitch": ("sales_pitch",),
    "wrong_number": ("wrong_number",),
    "other": ("other",),
}

Text200 = Annotated[
    str, Field(min_length=1, max_length=200, json_schema_extra={"pattern": NON_BLANK})
]


class CallCreate(StrictBody):
    """A call from any tracker (`POST /calls`)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "tracking_number": "+17705550199",
                    "caller_number": "+14045550173",
                    "duration_seconds": 142,
                    "received_at": "2026-04-27T17:42:11.214Z",
                    "transcript": "Caller: Hi, I have water coming through my basement "
                    "ceiling, I think a pipe burst...",
                    "recording_url": "https://recordings.example.com/calls/q4n8p2w7.mp3",
                    "caller_name": "Dana Whitfield",
                    "caller_postal_code": "30064",
                    "source": "ringba",
                    "external_id": "RGB-20260427-0042",
                }
            ]
        }
    )

    tracking_number: str = Field(
        description="The number that was called (E.164 after normalisation).",
        json_schema_extra=PHONE_JSON_SCHEMA,
    )
    caller_number: Annotated[
        str, Field(min_length=1, max_length=64, json_schema_extra={"pattern": NON_BLANK})
    ] = Field(
        description="E.164 after normalisation; a number that does not parse is kept as "
        "given and flagged (caller_number_valid: false)."
    )
    duration_seconds: Annotated[int, Field(ge=0, le=86_400)] = 0
    received_at: TimestampIn
    transcript: Annotated[str, Field(max_length=MAX_TRANSCRIPT)] | None = None
    recording_url: Annotated[str, Field(max_length=2000)] | None = Field(
        default=None,
        json_schema_extra={"pattern": HTTP_URL_PATTERN, "format": "uri"},
        description="https (http or private hosts only with EAL_ALLOW_PRIVATE_WEBHOOK_URLS=1); "
        "kept private: the API shows a signed link to this service.",
    )
    caller_name: Text200 | None = None
    caller_postal_code: Annotated[str, Field(max_length=10)] | None = None
    caller_city: Text200 | None = None
    caller_state: (
        Annotated[
            str,
            Field(min_length=2, max_length=40, json_schema_extra={"pattern": stripped_at_least(2)}),
        ]
        | None
    ) = None
    voicemail: bool | None = Field(default=None, description="The caller left a voicemail.")
    source: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")] = "api"
    external_id: (
        Annotated[
            str, Field(min_length=1, max_length=200, json_schema_extra={"pattern": NON_BLANK})
        ]
        | None
    ) = Field(
        default=None,
        description="The tracker's id: posting it again (same source) updates that call.",
    )

    @field_validator("transcript")
    @classmethod
    def _transcript(cls, value: str | None) -> str | None:
        return value or None


class ClassificationOut(BaseModel):
    """The classification in force: a human's correction, else the model's."""

    intent: Intent
    confidence: float
    urgency: Urgency
    qualified: bool
    reason: str
    provider: str = Field(description="`embedded`, `llm:<model>`, or `human` when corrected.")
    corrected: bool


class ModelClassificationOut(BaseModel):
    """What the model answered, kept whatever a human said afterwards."""

    intent: Intent
    confidence: float
    urgency: Urgency
    qualified: bool
    reason: str
    provider: str
    classified_at: Timestamp


class DispatchDecisionOut(BaseModel):
    """The one decision a classified call gets, and what it did."""

    action: DispatchAction
    reason: str
    sms_callback_sent: bool
    job_created_in_jobnimbus: str | None
    decided_at: Timestamp
    simulated: bool = False
    lead_id: uuid.UUID | None = None
    error: str | None = None


class CallOut(BaseModel):
    """A call, in full (`GET /calls/{id}`)."""

    id: str
    status: CallStatus
    source: str
    external_id: str | None
    tracking_number: str | None
    caller_number: str
    caller_number_valid: bool
    caller_name: str | None
    caller_postal_code: str | None
    caller_city: str | None
    caller_state: str | None
    duration_seconds: int
    voicemail: bool | None
    recording_url: str | None = Field(
        description="A signed link to this service (1 hour) that streams the recording."
    )
    transcript: str | None
    transcript_source: Literal["tracker", "speech_to_text"] | None
    transcription_error: str | None
    classification: ClassificationOut | None
    model_classification: ModelClassificationOut | None
    correction_note: str | None
    dispatch_decision: DispatchDecisionOut | None
    received_at: Timestamp
    classified_at: Timestamp | None
    created_at: Timestamp
    updated_at: Timestamp


class CallListItem(BaseModel):
    """A call in a list: `classification` is the intent."""

    id: str
    status: CallStatus
    tracking_number: str | None
    caller_number: str
    duration_seconds: int
    classification: Intent | None
    qualified: bool | None
    urgency: Urgency | None
    dispatch_decision: DispatchAction | None
    received_at: Timestamp


class CallPage(Page[CallListItem]):
    """A page of calls, newest `received_at` first."""


class CorrectionIn(StrictBody):
    """A human's classification; fields left out keep the model's."""

    intent: Intent | None = None
    urgency: Urgency | None = None
    qualified: bool | None = None


class CallPatch(StrictBody):
    """`PATCH /calls/{id}`: correct the classification."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "classification": {"intent": "sales_pitch", "qualified": False},
                    "note": "Lead vendor, not a homeowner.",
                }
            ]
        }
    )

    classification: CorrectionIn
    note: (
        Annotated[
            str, Field(min_length=1, max_length=MAX_NOTE, json_schema_extra={"pattern": NON_BLANK})
        ]
        | None
    ) = None


class CallStats(BaseModel):
    """Counts over the calls received in the window."""

    window: StatsWindow
    total_calls: int
    qualified: int
    junk_filtered: int = Field(description="sales_pitch + wrong_number.")
    by_intent: dict[str, int]
    median_classification_seconds: float | None = Field(
        description="From the moment eal had the transcript to the classification."
    )


class ClassifyQueued(BaseModel):
    """`POST /calls/{id}/classify`: classification was queued."""

    id: str
    status: CallStatus
    queued: bool
