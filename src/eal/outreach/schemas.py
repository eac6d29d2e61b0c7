"""Outreach enums, request bodies and responses: messages, suppressions, sequences, enrollments."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationInfo, field_validator

from eal.kit.paging import Page
from eal.kit.schemas import NON_BLANK, StrictBody, Timestamp, omittable
from eal.leads.phone import EMAIL_JSON_SCHEMA, PHONE_JSON_SCHEMA
from eal.outreach.timing import SendingWindow

MAX_SMS_BODY = 1600
MAX_EMAIL_BODY = 100_000
MAX_SUBJECT = 200
MAX_ENROLL = 1000

MESSAGE_PREFIX = "msg"
SUPPRESSION_PREFIX = "sup"
SEQUENCE_PREFIX = "seq"
ENROLLMENT_PREFIX = "enr"


class Channel(StrEnum):
    SMS = "sms"
    EMAIL = "email"


class Purpose(StrEnum):
    """Transactional messages answer something the person did; marketing ones do not."""

    TRANSACTIONAL = "transactional"
    MARKETING = "marketing"


class Direction(StrEnum):
    OUTBOUND = "outbound"
    INBOUND = "inbound"


class MessageStatus(StrEnum):
    """queued -> sending -> sent -> delivered | failed | undelivered; simulated; received."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    UNDELIVERED = "undelivered"
    SIMULATED = "simulated"
    """A test-environment key sent it: nothing reached a provider."""
    RECEIVED = "received"
    """An inbound message."""


FINAL_STATUSES = frozenset(
    {
        MessageStatus.DELIVERED,
        MessageStatus.FAILED,
        MessageStatus.UNDELIVERED,
        MessageStatus.SIMULATED,
    }
)


class ReplyLabel(StrEnum):
    """How an inbound reply is classified."""

    INTERESTED = "interested"
    NOT_INTERESTED = "not_interested"
    QUESTION = "question"
    OUT_OF_OFFICE = "out_of_office"
    WRONG_PERSON = "wrong_person"
    OTHER = "other"


class EnrollmentStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETED = "completed"
    STOPPED = "stopped"


class StopReason(StrEnum):
    REPLIED = "replied"
    OPTED_OUT = "opted_out"
    BOUNCED = "bounced"
    WON = "won"
    LOST = "lost"
    UNENROLLED = "unenrolled"


Reason = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
Text = Annotated[str, Field(min_length=1, json_schema_extra={"pattern": NON_BLANK})]
#: A step's delay: days, hours and minutes, largest first, each at most once (e.g. 2d, 4h, 1d12h).
DELAY_PATTERN = r"^(?=[0-9])([0-9]+d)?([0-9]+h)?([0-9]+m)?$"


def _phone() -> dict[str, Any]:
    return {"type": "string", **{k: v for k, v in PHONE_JSON_SCHEMA.items() if k != "examples"}}


def _email() -> dict[str, Any]:
    return {"type": "string", **{k: v for k, v in EMAIL_JSON_SCHEMA.items() if k != "examples"}}


def per_channel(
    sms: dict[str, Any],
    email: dict[str, Any],
    *,
    required: dict[str, list[str]] | None = None,
    examples: list[JsonValue],
) -> Callable[[dict[str, Any]], None]:
    """A body's document as one variant per channel (`oneOf`), as the server checks it.

    `sms` and `email` override properties of each variant (a phone number or
    an address, a subject or none; a callable gets the property's own schema); `required` adds required names per
    channel. Validation stays the model's: only the document changes, so a
    client (and a generator) sees what each channel takes.
    """

    def document(schema: dict[str, Any]) -> None:
        properties = schema.pop("properties")
        base_required = schema.pop("required", [])
        closed = schema.pop("additionalProperties", None)
        variants = []
        for channel, overrides in (("sms", sms), ("email", email)):
            changed = {
                name: value(properties[name]) if callable(value) else value
                for name, value in overrides.items()
            }
            variant: dict[str, Any] = {
                "type": "object",
                "properties": {**properties, "channel": {"const": channel}, **changed},
                "required": sorted({*base_required, *(required or {}).get(channel, [])}),
            }
            if closed is not None:
                variant["additionalProperties"] = closed
            variants.append(variant)
        schema["oneOf"] = variants
        schema["examples"] = examples

    return document


# --- sending ---------------------------------------------------------------


class SendRequest(StrictBody):
    """POST /outreach/send: one ad-hoc SMS or email."""

    model_config = ConfigDict(
        json_schema_extra=per_channel(
            {
                "to": _phone(),
                "body": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_SMS_BODY,
                    "pattern": NON_BLANK,
                },
                "subject": {"type": "null"},
            },
            {
                "to": _email(),
                "subject": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_SUBJECT,
                    "pattern": NON_BLANK,
                },
            },
            required={"email": ["subject"]},
            examples=[
                {
                    "channel": "sms",
                    "to": "+17705550142",
                    "body": "Hi Sarah, confirming our crew at 9am tomorrow. "
                    "Reply HELP for help, STOP to cancel.",
                    "lead_id": "9f1c8a32-4d65-4e2b-8a91-3c0e7d4b2f18",
                },
                {
                    "channel": "email",
                    "to": "sarah.mitchell@example.com",
                    "subject": "Your inspection on Tuesday",
                    "body": "Hi Sarah,\n\nOur crew arrives at 9am. Call us with any questions.",
                    "purpose": "transactional",
                },
            ],
        )
    )

    channel: Channel
    to: Annotated[Text, Field(max_length=320)]
    body: Annotated[Text, Field(max_length=MAX_EMAIL_BODY)]
    subject: Annotated[Text, Field(max_length=MAX_SUBJECT)] | None = Field(
        default=None, validate_default=True, description="Email only (required there)."
    )
    purpose: Purpose = Purpose.TRANSACTIONAL
    lead_id: uuid.UUID | None = None

    @field_validator("body")
    @classmethod
    def _body(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("channel") is Channel.SMS and len(value) > MAX_SMS_BODY:
            raise ValueError(f"an SMS has at most {MAX_SMS_BODY} characters")
        return value

    @field_validator("subject")
    @classmethod
    def _subject(cls, value: str | None, info: ValidationInfo) -> str | None:
        channel = info.data.get("channel")
        if channel is Channel.SMS and value is not None:
            raise ValueError("an SMS has no subject")
        if channel is Channel.EMAIL and value is None:
            raise ValueError("an email needs a subject")
        return value


class MessageQueued(BaseModel):
    """What POST /outreach/send answers."""

    message_id: str
    status: str
    channel: str
    queued_at: Timestamp
    scheduled_for: Timestamp | None = None


class MessageEventOut(BaseModel):
    """One step of a message's status history."""

    status: str
    detail: str | None
    at: Timestamp


class MessageOut(BaseModel):
    """A message in a list."""

    id: str
    channel: str
    direction: str
    purpose: str
    to: str
    from_: str | None = Field(serialization_alias="from")
    subject: str | None
    status: str
    lead_id: uuid.UUID | None
    sequence_id: str | None
    enrollment_id: str | None
    step: int | None
    classification: str | None
    scheduled_for: Timestamp | None
    sent_at: Timestamp | None
    delivered_at: Timestamp | None
    opened_at: Timestamp | None
    created_at: Timestamp


class MessageDetail(MessageOut):
    """GET /outreach/messages/{id}: the message with its body and status history."""

    body: str
    provider: str | None
    provider_message_id: str | None
    error: str | None
    error_code: str | None
    reply_to_message_id: str | None
    history: list[MessageEventOut]


class MessagePage(Page[MessageOut]):
    """GET /outreach/messages."""


# --- suppressions ----------------------------------------------------------


class SuppressionCreate(StrictBody):
    """POST /outreach/suppressions."""

    model_config = ConfigDict(
        json_schema_extra=per_channel(
            {"address": _phone()},
            {"address": _email()},
            examples=[
                {"channel": "sms", "address": "+17705559999", "reason": "manual_owner_request"},
                {"channel": "email", "address": "old.contact@example.com"},
            ],
        )
    )

    channel: Channel
    address: Annotated[Text, Field(max_length=320)]
    reason: Reason = "manual"


class SuppressionOut(BaseModel):
    """A suppression entry."""

    id: str
    channel: str
    address: str
    reason: str
    source: str
    added_at: Timestamp


class SuppressionPage(Page[SuppressionOut]):
    """GET /outreach/suppressions."""


class SuppressionDeleted(BaseModel):
    id: str
    deleted: bool


class InboundSecretCreated(BaseModel):
    """The inbound-parse secret, shown this once."""

    secret: str
    secret_prefix: str
    created_at: Timestamp
    warning: str = Field(
        default="Save this secret now. It will not be shown again.",
        serialization_alias="_warning",
    )


# --- sequences -------------------------------------------------------------


class StepIn(StrictBody):
    """One step of a sequence: wait `delay` after the previous one, then send."""

    delay: Annotated[
        str,
        Field(
            min_length=2,
            max_length=16,
            # In the document only: the service's check_delays is the rule (and
            # pydantic's regex engine has no look-ahead).
            json_schema_extra={"pattern": DELAY_PATTERN},
            description="Wait after the previous step (or the enrollment, for the first): "
            "2d, 4h, 30m, 1d12h; at least 1m, at most 365d; only the first step may be 0m.",
        ),
    ]
    subject: Annotated[Text, Field(max_length=MAX_SUBJECT)] | None = Field(
        default=None, description="Email steps only (required there)."
    )
    body: Annotated[Text, Field(max_length=20_000)]


_SEQUENCE_EXAMPLE: JsonValue = {
    "name": "Property-management cold outbound · Q2 2026",
    "channel": "email",
    "steps": [
        {
            "delay": "0m",
            "subject": "Water damage at {{ company }}?",
            "body": "Hi {{ first_name }},\n\n{{ sender_name }} handles water, fire and mold "
            "clean-up for property managers. Worth a call?",
        },
        {"delay": "3d", "subject": "Following up", "body": "Hi {{ first_name }}, any questions?"},
    ],
    "sending_window": {
        "days": ["mon", "tue", "wed", "thu", "fri"],
        "start": "09:00",
        "end": "17:00",
    },
}


def _steps_with(
    steps: dict[str, Any], subject: dict[str, Any], required: list[str]
) -> dict[str, Any]:
    """The steps' schema with each step's subject as one channel takes it."""
    item = {"allOf": [steps["items"], {"properties": subject, "required": required}]}
    if not required:
        item["allOf"][1].pop("required")
    return {**steps, "items": item}


class SequenceCreate(StrictBody):
    """POST /outreach/sequences."""

    model_config = ConfigDict(
        json_schema_extra=per_channel(
            {"steps": lambda steps: _steps_with(steps, {"subject": {"type": "null"}}, [])},
            {
                "steps": lambda steps: _steps_with(
                    steps,
                    {"subject": {"type": "string", "minLength": 1, "pattern": NON_BLANK}},
                    ["subject"],
                )
            },
            examples=[_SEQUENCE_EXAMPLE],
        )
    )

    name: Annotated[Text, Field(max_length=200)]
    channel: Channel
    steps: list[StepIn] = Field(min_length=1, max_length=20)
    sending_window: SendingWindow | None = None
    active: bool = True


class SequenceUpdate(StrictBody):
    """PATCH /outreach/sequences/{id}: only the fields sent change."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"name": "Property managers · Q3 2026", "active": False}],
            "minProperties": 1,
        }
    )

    name: Annotated[Text, Field(max_length=200)] | None = omittable()
    steps: list[StepIn] | None = omittable(min_length=1, max_length=20)
    sending_window: SendingWindow | None = omittable()
    active: bool | None = omittable()

    @field_validator("name", "steps", "sending_window", "active")
    @classmethod
    def _present(cls, value: object) -> object:
        if value is None:
            raise ValueError("may not be null (omit the field to leave it unchanged)")
        return value


class SequenceStats(BaseModel):
    enrolled: int
    sent: int
    opened: int
    replied: int
    opted_out: int


class SequenceListItem(BaseModel):
    """A sequence in the list: `steps` is the number of steps, as the spec shows it."""

    id: str
    name: str
    channel: str
    steps: int
    active: bool
    stats: SequenceStats


class StepOut(BaseModel):
    delay: str
    subject: str | None
    body: str


class SequenceOut(BaseModel):
    """GET /outreach/sequences/{id}: the steps themselves."""

    id: str
    name: str
    channel: str
    steps: list[StepOut]
    sending_window: dict[str, Any]
    active: bool
    stats: SequenceStats
    created_at: Timestamp
    updated_at: Timestamp
    archived_at: Timestamp | None


class SequencePage(Page[SequenceListItem]):
    """GET /outreach/sequences."""


class EnrollRequest(StrictBody):
    """POST /outreach/sequences/{id}/enrollments."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "lead_ids": [
                        "9f1c8a32-4d65-4e2b-8a91-3c0e7d4b2f18",
                        "3b7e2d90-1c4a-4f6e-9a2b-8d5c7e1f0a34",
                    ]
                }
            ]
        }
    )

    lead_ids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_ENROLL)
    force: bool = Field(
        default=False, description="Enroll leads already running in another sequence too."
    )


class EnrollResult(BaseModel):
    """What happened to one id: enrolled, already_enrolled, already_in_sequence, suppressed,
    missing_address or not_found."""

    lead_id: uuid.UUID
    result: str
    enrollment_id: str | None = None


class EnrollResponse(BaseModel):
    results: list[EnrollResult]
    enrolled: int


class EnrollmentOut(BaseModel):
    id: str
    sequence_id: str
    lead_id: uuid.UUID | None
    prospect_id: uuid.UUID | None = None
    address: str
    status: str
    stop_reason: str | None
    next_step: int
    next_due_at: Timestamp | None
    paused_until: Timestamp | None
    enrolled_at: Timestamp
    finished_at: Timestamp | None


class EnrollmentPage(Page[EnrollmentOut]):
    """GET /outreach/sequences/{id}/enrollments."""
