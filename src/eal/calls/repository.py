"""Statements of the calls domain and the mapping from rows to the API's models."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Row, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from eal.ai.call_labels import INTENTS, JUNK_INTENTS
from eal.calls.models import calls
from eal.calls.schemas import (
    CALL_PREFIX,
    CallListItem,
    CallStatus,
    ClassificationOut,
    DispatchDecisionOut,
    ModelClassificationOut,
)
from eal.kit.ids import public_id
from eal.kit.paging import PageQuery

C = calls


def list_item_of(row: Any) -> CallListItem:
    """A call row as lists show it."""
    decision = row.decision or {}
    return CallListItem(
        id=public_id(CALL_PREFIX, row.id),
        status=row.status,
        tracking_number=row.tracking_number,
        caller_number=row.caller_number,
        duration_seconds=row.duration_seconds,
        classification=row.intent,
        qualified=row.qualified,
        urgency=row.urgency,
        dispatch_decision=decision.get("action"),
        received_at=row.received_at,
    )


def event_data(row: Any) -> dict[str, Any]:
    """A call as webhook events carry it: the list shape, with the classification's detail."""
    data: dict[str, Any] = list_item_of(row).model_dump(mode="json")
    classification = classification_of(row)
    if classification is not None:
        data.update(
            confidence=classification.confidence,
            reason=classification.reason,
            provider=classification.provider,
            corrected=classification.corrected,
        )
    return data


def classification_of(row: Any) -> ClassificationOut | None:
    """The classification in force, or None before the first one."""
    if row.intent is None:
        return None
    model = row.model_classification or {}
    return ClassificationOut(
        intent=row.intent,
        confidence=row.confidence if row.confidence is not None else 1.0,
        urgency=row.urgency,
        qualified=row.qualified,
        reason=(
            f"corrected by a person{': ' + row.correction_note if row.correction_note else ''}"
            if row.corrected
            else model.get("reason", "")
        ),
        provider="human" if row.corrected else model.get("provider", "embedded"),
        corrected=row.corrected,
    )


def model_classification_of(row: Any) -> ModelClassificationOut | None:
    """What the model said, or None before it said anything."""
    if not row.model_classification:
        return None
    return ModelClassificationOut.model_validate(row.model_classification)


def decision_of(row: Any) -> DispatchDecisionOut | None:
    """The dispatch decision with what it did so far, or None before it was made."""
    if not row.decision:
        return None
    return DispatchDecisionOut.model_validate(row.decision)


async def insert(conn: AsyncConnection, **values: Any) -> Row[Any]:
    """Store a new call; its row."""
    return (await conn.execute(sa.insert(C).values(**values).returning(*C.c))).one()


async def get(
    conn: AsyncConnection, organization_id: uuid.UUID, call_id: uuid.UUID, *, lock: bool = False
) -> Row[Any] | None:
    """One call of the organization (locked for update when asked)."""
    query = select(C).where(C.c.organization_id == organization_id, C.c.id == call_id)
    if lock:
        query = query.with_for_update()
    return (await conn.execute(query)).one_or_none()


async def find_external(
    conn: AsyncConnection, organization_id: uuid.UUID, source: str, external_id: str
) -> Row[Any] | None:
    """The call a tracker id names, locked (a re-delivery updates it)."""
    query = (
        select(C)
        .where(
            C.c.organization_id == organization_id,
            C.c.source == source,
            C.c.external_id == external_id,
        )
        .with_for_update()
    )
    return (await conn.execute(query)).one_or_none()


async def update(
    conn: AsyncConnection, organization_id: uuid.UUID, call_id: uuid.UUID, **values: Any
) -> Row[Any]:
    """Change a call; its new row."""
    query = (
        sa.update(C)
        .where(C.c.organization_id == organization_id, C.c.id == call_id)
        .values(**values)
        .returning(*C.c)
    )
    return (await conn.execute(query)).one()


async def page(
    conn: AsyncConnection,
    organization_id: uuid.UUID,
    page: PageQuery,
    *,
    status: str | None = None,
    intents: tuple[str, ...] | None = None,
    qualified: bool | None = None,
    urgency: str | None = None,
    dispatch_action: str | None = None,
    start_at: datetime | None = None,
    end_at: datetime | None = None,
) -> list[Row[Any]]:
    """Newest `received_at` first, one row over the page; filters are ANDed."""
    query = select(C).where(C.c.organization_id == organization_id)
    if status is not None:
        query = query.where(C.c.status == status)
    if intents is not None:
        query = query.where(C.c.intent.in_(intents))
    if qualified is not None:
        query = query.where(C.c.qualified.is_(qualified))
    if urgency is not None:
        query = query.where(C.c.urgency == urgency)
    if dispatch_action is not None:
        query = query.where(C.c.dispatch_action == dispatch_action)
    if start_at is not None:
        query = query.where(C.c.received_at >= start_at)
    if end_at is not None:
        query = query.where(C.c.received_at <= end_at)
    query = page.apply(query, C.c.received_at, C.c.id)
    return list((await conn.execute(query)).all())


_STATS = text(
    """
    SELECT count(*) AS total,
           count(*) FILTER (WHERE qualified) AS qualified,
           count(*) FILTER (WHERE intent = ANY(:junk)) AS junk,
           percentile_cont(0.5) WITHIN GROUP (
             ORDER BY extract(epoch FROM first_classified_at - transcript_at)
           ) FILTER (WHERE first_classified_at IS NOT NULL AND transcript_at IS NOT NULL)
             AS median_seconds
    FROM calls
    WHERE organization_id = :org AND received_at >= :since AND received_at <= :until
    """
)
_BY_INTENT = text(
    """
    SELECT intent, count(*) AS n FROM calls
    WHERE organization_id = :org AND received_at >= :since AND received_at <= :until
      AND intent IS NOT NULL
    GROUP BY intent
    """
)


async def stats(
    conn: AsyncConnection, organization_id: uuid.UUID, since: datetime, until: datetime
) -> tuple[int, int, int, dict[str, int], float | None]:
    """(total, qualified, junk, per intent, median seconds to classification) in the window.

    The intent, urgency and qualified columns hold the classification in force, so a
    human's correction counts from the moment it is saved.
    """
    params = {"org": organization_id, "since": since, "until": until}
    head = (await conn.execute(_STATS, {**params, "junk": sorted(JUNK_INTENTS)})).one()
    by_intent = dict.fromkeys(INTENTS, 0)
    for row in await conn.execute(_BY_INTENT, params):
        by_intent[row.intent] = row.n
    median = float(head.median_seconds) if head.median_seconds is not None else None
    return head.total, head.qualified, head.junk, by_intent, median


async def corrected(conn: AsyncConnection, organization_id: uuid.UUID) -> AsyncIterator[Any]:
    """Every corrected call, oldest correction first, streamed."""
    query = (
        select(C)
        .where(C.c.organization_id == organization_id, C.c.corrected)
        .order_by(C.c.corrected_at, C.c.id)
        .execution_options(yield_per=200)
    )
    result = await conn.stream(query)
    async for row in result:
        yield row


async def open_tenant(conn: AsyncConnection, call_id: uuid.UUID) -> uuid.UUID | None:
    """Make the call's organization the tenant (a signed link has no key); its id or None."""
    value = (await conn.execute(text("SELECT eal_call_tenant(:id)"), {"id": call_id})).scalar_one()
    return value if isinstance(value, uuid.UUID) else None


def status_after_dispatch(failed: bool) -> str:
    """The status a call takes once its side effects are settled."""
    return CallStatus.DISPATCH_FAILED.value if failed else CallStatus.DISPATCHED.value
