"""Outreach endpoints: sending, messages, suppressions, sequences and enrollments."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Query
from starlette.responses import Response

from eal.api.deps import TxDep
from eal.api.paging import PageParams
from eal.api.routing import api_router
from eal.auth.context import AuthContext
from eal.auth.deps import require
from eal.auth.scopes import Scope
from eal.kit.paging import Page
from eal.outreach import sequences, service
from eal.outreach.schemas import (
    Channel,
    Direction,
    EnrollmentOut,
    EnrollmentPage,
    EnrollmentStatus,
    EnrollRequest,
    EnrollResponse,
    InboundSecretCreated,
    MessageDetail,
    MessageOut,
    MessagePage,
    MessageQueued,
    MessageStatus,
    Reason,
    SendRequest,
    SequenceCreate,
    SequenceListItem,
    SequenceOut,
    SequencePage,
    SequenceUpdate,
    SuppressionCreate,
    SuppressionDeleted,
    SuppressionOut,
    SuppressionPage,
)

OutreachRead = Annotated[AuthContext, Depends(require(Scope.READ))]
OutreachWrite = Annotated[AuthContext, Depends(require(Scope.WRITE))]
OutreachAdmin = Annotated[AuthContext, Depends(require(Scope.ADMIN))]

router = api_router(tags=["outreach"])


@router.post("/outreach/send", status_code=202, response_model=MessageQueued)
async def send(body: SendRequest, auth: OutreachWrite, tx: TxDep) -> MessageQueued:
    """Queue one SMS or email; suppressions, send limits and quiet hours apply."""
    return await service.send(tx, body)


@router.get("/outreach/messages", response_model=MessagePage, response_model_by_alias=True)
async def list_messages(
    auth: OutreachRead,
    tx: TxDep,
    page: PageParams,
    channel: Channel | None = None,
    status: MessageStatus | None = None,
    direction: Direction | None = None,
    lead_id: uuid.UUID | None = None,
    start_at: Annotated[datetime | None, Query(description="ISO 8601, inclusive")] = None,
    end_at: Annotated[datetime | None, Query(description="ISO 8601, inclusive")] = None,
) -> Page[MessageOut]:
    """Messages sent and received, newest first."""
    from eal.errors import field_error

    for name, value in (("start_at", start_at), ("end_at", end_at)):
        if value is not None and value.tzinfo is None:
            raise field_error(name, "must include a timezone (e.g. 2026-04-27T00:00:00Z)")
    return await service.list_messages(
        tx,
        page,
        channel=channel.value if channel else None,
        status=status.value if status else None,
        direction=direction.value if direction else None,
        lead_id=lead_id,
        start_at=start_at,
        end_at=end_at,
    )


@router.get(
    "/outreach/messages/{message_id}", response_model=MessageDetail, response_model_by_alias=True
)
async def get_message(message_id: str, auth: OutreachRead, tx: TxDep) -> MessageDetail:
    """One message: body, provider id, error and status history."""
    return await service.get_message(tx, message_id)


@router.get("/outreach/suppressions", response_model=SuppressionPage)
async def list_suppressions(
    auth: OutreachRead,
    tx: TxDep,
    page: PageParams,
    channel: Channel | None = None,
    reason: Reason | None = None,
) -> Page[SuppressionOut]:
    """Unsubscribes, opt-outs, bounces and manual additions, newest first."""
    return await service.list_suppressions(
        tx, page, channel=channel.value if channel else None, reason=reason
    )


@router.post("/outreach/suppressions", status_code=201, response_model=SuppressionOut)
async def add_suppression(
    body: SuppressionCreate, auth: OutreachWrite, tx: TxDep
) -> SuppressionOut:
    """Block all outbound to this address or number."""
    return await service.add_suppression(tx, body)


@router.delete("/outreach/suppressions/{suppression_id}", response_model=SuppressionDeleted)
async def remove_suppression(
    suppression_id: str, auth: OutreachAdmin, tx: TxDep
) -> SuppressionDeleted:
    """Remove an address from the suppression list (audited)."""
    return await service.remove_suppression(tx, suppression_id)


@router.post(
    "/outreach/inbound-secret",
    status_code=201,
    response_model=InboundSecretCreated,
    response_model_by_alias=True,
)
async def create_inbound_secret(
    auth: OutreachAdmin, tx: TxDep, response: Response
) -> InboundSecretCreated:
    """A new secret for the email inbound-parse webhook (shown once; replaces the old one)."""
    response.headers["Cache-Control"] = "no-store"
    return await service.create_inbound_secret(tx)


@router.get("/outreach/sequences", response_model=SequencePage)
async def list_sequences(auth: OutreachRead, tx: TxDep, page: PageParams) -> Page[SequenceListItem]:
    """Email and SMS sequences with their stats."""
    return await sequences.list_sequences(tx, page)


@router.post("/outreach/sequences", status_code=201, response_model=SequenceOut)
async def create_sequence(body: SequenceCreate, auth: OutreachWrite, tx: TxDep) -> SequenceOut:
    """Create a sequence: ordered steps with delays, and a sending window."""
    return await sequences.create_sequence(tx, body)


@router.get("/outreach/sequences/{sequence_id}", response_model=SequenceOut)
async def get_sequence(sequence_id: str, auth: OutreachRead, tx: TxDep) -> SequenceOut:
    """One sequence with its steps."""
    return await sequences.get_sequence(tx, sequence_id)


@router.patch("/outreach/sequences/{sequence_id}", response_model=SequenceOut)
async def update_sequence(
    sequence_id: str, body: SequenceUpdate, auth: OutreachWrite, tx: TxDep
) -> SequenceOut:
    """Change the name, steps, sending window or active flag."""
    return await sequences.update_sequence(tx, sequence_id, body)


@router.delete("/outreach/sequences/{sequence_id}")
async def archive_sequence(sequence_id: str, auth: OutreachWrite, tx: TxDep) -> dict[str, Any]:
    """Archive a sequence: its running enrollments stop."""
    return await sequences.archive_sequence(tx, sequence_id)


@router.post(
    "/outreach/sequences/{sequence_id}/enrollments", status_code=201, response_model=EnrollResponse
)
async def enroll(
    sequence_id: str, body: EnrollRequest, auth: OutreachWrite, tx: TxDep
) -> EnrollResponse:
    """Enroll up to 1,000 leads; one result per id."""
    return await sequences.enroll(tx, sequence_id, body)


@router.get("/outreach/sequences/{sequence_id}/enrollments", response_model=EnrollmentPage)
async def list_enrollments(
    sequence_id: str,
    auth: OutreachRead,
    tx: TxDep,
    page: PageParams,
    status: EnrollmentStatus | None = None,
) -> Page[EnrollmentOut]:
    """The sequence's enrollments, newest first."""
    return await sequences.list_enrollments(
        tx, sequence_id, page, status=status.value if status else None
    )


@router.delete(
    "/outreach/sequences/{sequence_id}/enrollments/{enrollment_id}", response_model=EnrollmentOut
)
async def unenroll(
    sequence_id: str, enrollment_id: str, auth: OutreachWrite, tx: TxDep
) -> EnrollmentOut:
    """Stop an enrollment: nothing more is sent to that person from this sequence."""
    return await sequences.unenroll(tx, sequence_id, enrollment_id)
