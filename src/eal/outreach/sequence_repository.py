"""Statements of sequences and enrollments, and their stats."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Row, and_, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from eal.kit.ids import public_id
from eal.kit.paging import PageQuery
from eal.outreach.models import (
    outreach_enrollments,
    outreach_messages,
    outreach_sequences,
)
from eal.outreach.schemas import (
    ENROLLMENT_PREFIX,
    SEQUENCE_PREFIX,
    EnrollmentOut,
    SequenceStats,
    StepOut,
)

M = outreach_messages
E = outreach_enrollments
S = outreach_sequences


def steps_of(row: Any) -> list[StepOut]:
    """A sequence's steps as stored."""
    return [StepOut(**step) for step in row.steps]


async def insert_sequence(conn: AsyncConnection, **values: Any) -> Row[Any]:
    """Store a sequence; its row."""
    return (await conn.execute(sa.insert(S).values(**values).returning(*S.c))).one()


async def get_sequence(
    conn: AsyncConnection, organization_id: uuid.UUID, sequence_id: uuid.UUID, *, lock: bool = False
) -> Row[Any] | None:
    """A sequence that is not archived."""
    query = select(S).where(
        S.c.organization_id == organization_id, S.c.id == sequence_id, S.c.archived_at.is_(None)
    )
    if lock:
        query = query.with_for_update(key_share=True)
    return (await conn.execute(query)).first()


async def update_sequence(
    conn: AsyncConnection, organization_id: uuid.UUID, sequence_id: uuid.UUID, **values: Any
) -> Row[Any]:
    """Change a sequence's columns; its row."""
    return (
        await conn.execute(
            sa.update(S)
            .where(S.c.organization_id == organization_id, S.c.id == sequence_id)
            .values(**values)
            .returning(*S.c)
        )
    ).one()


async def sequence_page(
    conn: AsyncConnection, organization_id: uuid.UUID, page: PageQuery
) -> list[Row[Any]]:
    """Sequences that are not archived, newest first (one row over the page)."""
    query = select(S).where(S.c.organization_id == organization_id, S.c.archived_at.is_(None))
    return list((await conn.execute(page.apply(query, S.c.created_at, S.c.id))).all())


_SENT_STATUSES = ("sent", "delivered", "simulated")


# Stats count people, not rows: `replied` is enrollments with a reply from a
# person (auto-replies and keywords aside) to one of their messages, whenever
# it came; `opted_out` is enrollments whose address opted out after enrolling,
# by keyword, link or carrier, during the sequence or after it.
_STATS = text(
    """
    SELECT e.sequence_id,
           count(*) AS enrolled,
           count(*) FILTER (WHERE EXISTS (
               SELECT 1 FROM outreach_suppressions s
               WHERE s.organization_id = e.organization_id AND s.channel = q.channel
                 AND s.address = e.address AND s.created_at >= e.enrolled_at
                 AND s.reason IN ('user_opt_out', 'user_unsubscribe', 'carrier_opt_out')
           ) OR e.stop_reason = 'opted_out') AS opted_out,
           count(*) FILTER (WHERE EXISTS (
               SELECT 1 FROM outreach_messages o
               JOIN outreach_messages r ON r.reply_to_message_id = o.id
               WHERE o.organization_id = e.organization_id AND o.enrollment_id = e.id
                 AND r.direction = 'inbound'
                 AND r.classification IS DISTINCT FROM 'out_of_office'
                 AND r.classification IS DISTINCT FROM 'opt_out'
                 AND r.classification IS DISTINCT FROM 'opt_in'
                 AND r.classification IS DISTINCT FROM 'help'
           ) OR e.stop_reason = 'replied') AS replied
    FROM outreach_enrollments e
    JOIN outreach_sequences q ON q.id = e.sequence_id
    WHERE e.organization_id = :org AND e.sequence_id = ANY(:ids)
    GROUP BY e.sequence_id
    """
)


async def stats_of(
    conn: AsyncConnection, organization_id: uuid.UUID, sequence_ids: list[uuid.UUID]
) -> dict[uuid.UUID, SequenceStats]:
    """enrolled, sent, opened, replied, opted_out for each sequence, in two grouped queries."""
    stats = {
        sid: SequenceStats(enrolled=0, sent=0, opened=0, replied=0, opted_out=0)
        for sid in sequence_ids
    }
    if not sequence_ids:
        return stats
    people = await conn.execute(_STATS, {"org": organization_id, "ids": sequence_ids})
    for sid, enrolled, opted_out, replied in people:
        stats[sid] = stats[sid].model_copy(
            update={"enrolled": enrolled, "replied": replied, "opted_out": opted_out}
        )
    sends = await conn.execute(
        select(
            E.c.sequence_id,
            func.count().filter(M.c.status.in_(_SENT_STATUSES)),
            func.count().filter(M.c.opened_at.isnot(None)),
        )
        .select_from(M.join(E, E.c.id == M.c.enrollment_id))
        .where(M.c.organization_id == organization_id, E.c.sequence_id.in_(sequence_ids))
        .group_by(E.c.sequence_id)
    )
    for sid, sent, opened in sends:
        stats[sid] = stats[sid].model_copy(update={"sent": sent, "opened": opened})
    return stats


def enrollment_of(row: Any) -> EnrollmentOut:
    """An enrollment row as the API shows it."""
    return EnrollmentOut(
        id=public_id(ENROLLMENT_PREFIX, row.id),
        sequence_id=public_id(SEQUENCE_PREFIX, row.sequence_id),
        lead_id=row.lead_id,
        prospect_id=row.prospect_id,
        address=row.address,
        status=row.status,
        stop_reason=row.stop_reason,
        next_step=row.next_step,
        next_due_at=row.next_due_at,
        paused_until=row.paused_until,
        enrolled_at=row.enrolled_at,
        finished_at=row.finished_at,
    )


async def insert_enrollment(conn: AsyncConnection, **values: Any) -> Row[Any] | None:
    """Enroll one person (a lead or a prospect); None when they are already in this sequence."""
    column = E.c.lead_id if values.get("lead_id") is not None else E.c.prospect_id
    return (
        await conn.execute(
            pg_insert(E)
            .values(**values)
            .on_conflict_do_nothing(
                index_elements=[E.c.sequence_id, column], index_where=column.isnot(None)
            )
            .returning(*E.c)
        )
    ).first()


async def enrolled_lead_ids(
    conn: AsyncConnection,
    sequence_id: uuid.UUID,
    lead_ids: list[uuid.UUID],
    *,
    person: str = "lead_id",
) -> set[uuid.UUID]:
    """Which of the leads (or prospects: `person="prospect_id"`) have an enrollment
    (any status) in the sequence."""
    if not lead_ids:
        return set()
    column = E.c[person]
    rows = await conn.execute(
        select(column).where(E.c.sequence_id == sequence_id, column.in_(lead_ids))
    )
    return {r[0] for r in rows}


async def running_elsewhere(
    conn: AsyncConnection,
    organization_id: uuid.UUID,
    sequence_id: uuid.UUID,
    lead_ids: list[uuid.UUID],
    *,
    person: str = "lead_id",
) -> set[uuid.UUID]:
    """Which of the leads (or prospects) are active or paused in another sequence."""
    if not lead_ids:
        return set()
    column = E.c[person]
    rows = await conn.execute(
        select(column).where(
            E.c.organization_id == organization_id,
            E.c.sequence_id != sequence_id,
            column.in_(lead_ids),
            E.c.status.in_(("active", "paused")),
        )
    )
    return {r[0] for r in rows}


async def get_enrollment(
    conn: AsyncConnection,
    organization_id: uuid.UUID,
    enrollment_id: uuid.UUID,
    *,
    lock: bool = False,
) -> Row[Any] | None:
    """One enrollment, optionally locked."""
    query = select(E).where(E.c.organization_id == organization_id, E.c.id == enrollment_id)
    if lock:
        query = query.with_for_update(key_share=True)
    return (await conn.execute(query)).first()


async def update_enrollment(
    conn: AsyncConnection, organization_id: uuid.UUID, enrollment_id: uuid.UUID, **values: Any
) -> Row[Any]:
    """Change an enrollment's columns; its row."""
    return (
        await conn.execute(
            sa.update(E)
            .where(E.c.organization_id == organization_id, E.c.id == enrollment_id)
            .values(**values)
            .returning(*E.c)
        )
    ).one()


async def running_enrollments(
    conn: AsyncConnection,
    organization_id: uuid.UUID,
    *,
    address: str | None = None,
    lead_id: uuid.UUID | None = None,
) -> list[Row[Any]]:
    """Active and paused enrollments of an address or a lead, locked (to stop or pause them)."""
    condition = and_(E.c.organization_id == organization_id, E.c.status.in_(("active", "paused")))
    if address is not None:
        condition = and_(condition, E.c.address == address)
    if lead_id is not None:
        condition = and_(condition, E.c.lead_id == lead_id)
    rows = await conn.execute(select(E).where(condition).order_by(E.c.id).with_for_update())
    return list(rows.all())


async def enrollment_page(
    conn: AsyncConnection,
    organization_id: uuid.UUID,
    sequence_id: uuid.UUID,
    page: PageQuery,
    *,
    status: str | None,
) -> list[Row[Any]]:
    """A sequence's enrollments, newest first (one row over the page)."""
    query = select(E).where(E.c.organization_id == organization_id, E.c.sequence_id == sequence_id)
    if status is not None:
        query = query.where(E.c.status == status)
    return list((await conn.execute(page.apply(query, E.c.created_at, E.c.id))).all())


async def claim_due(
    conn: AsyncConnection,
    organization_id: uuid.UUID,
    sequence_id: uuid.UUID,
    now: datetime,
    limit: int,
) -> list[Row[Any]]:
    """Up to `limit` of the sequence's enrollments with a step due, locked.

    SKIP LOCKED: runs of the same sequence take different enrollments.
    """
    rows = await conn.execute(
        select(E)
        .where(
            E.c.organization_id == organization_id,
            E.c.sequence_id == sequence_id,
            E.c.status.in_(("active", "paused")),
            E.c.next_due_at <= now,
        )
        .order_by(E.c.next_due_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(rows.all())


_UPDATE_MANY = (
    sa.update(E)
    .where(E.c.id == sa.bindparam("b_id"))
    .values(
        status=sa.bindparam("b_status"),
        stop_reason=sa.bindparam("b_stop_reason"),
        next_step=sa.bindparam("b_next_step"),
        next_due_at=sa.bindparam("b_next_due_at"),
        paused_until=sa.bindparam("b_paused_until"),
        finished_at=sa.bindparam("b_finished_at"),
        updated_at=sa.bindparam("b_updated_at"),
    )
)


async def update_enrollments(conn: AsyncConnection, changes: list[dict[str, Any]]) -> None:
    """Apply many enrollments' new state at once (keys: id, status, stop_reason, next_step,
    next_due_at, paused_until, finished_at, updated_at)."""
    if changes:
        await conn.execute(_UPDATE_MANY, [{f"b_{k}": v for k, v in c.items()} for c in changes])


async def due_sequences(conn: AsyncConnection, now: datetime) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(organization, sequence) of every active sequence with a step due (across tenants)."""
    rows = await conn.execute(
        select(E.c.organization_id, E.c.sequence_id)
        .distinct()
        .select_from(E.join(S, S.c.id == E.c.sequence_id))
        .where(
            E.c.status.in_(("active", "paused")),
            E.c.next_due_at <= now,
            S.c.active.is_(True),
            S.c.archived_at.is_(None),
        )
    )
    return [(r[0], r[1]) for r in rows]
