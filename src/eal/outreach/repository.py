"""Statements of the outreach domain and the mapping from rows to the API's models."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Row, Select, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from eal.kit.ids import public_id
from eal.kit.paging import PageQuery
from eal.outreach.models import (
    outreach_enrollments,
    outreach_inbound_secrets,
    outreach_message_events,
    outreach_messages,
    outreach_sequences,
    outreach_suppressions,
)
from eal.outreach.schemas import (
    ENROLLMENT_PREFIX,
    MESSAGE_PREFIX,
    SEQUENCE_PREFIX,
    SUPPRESSION_PREFIX,
    MessageEventOut,
    MessageOut,
    SuppressionOut,
)

M = outreach_messages
E = outreach_enrollments
S = outreach_sequences
SUP = outreach_suppressions

# --- messages ---------------------------------------------------------------


def message_of(row: Any, sequence_id: uuid.UUID | None = None) -> MessageOut:
    """A message row as lists show it."""
    return MessageOut(
        id=public_id(MESSAGE_PREFIX, row.id),
        channel=row.channel,
        direction=row.direction,
        purpose=row.purpose,
        to=row.to_address,
        from_=row.from_address,
        subject=row.subject,
        status=row.status,
        lead_id=row.lead_id,
        sequence_id=public_id(SEQUENCE_PREFIX, sequence_id) if sequence_id else None,
        enrollment_id=public_id(ENROLLMENT_PREFIX, row.enrollment_id)
        if row.enrollment_id
        else None,
        step=row.step_index,
        classification=row.classification,
        scheduled_for=row.scheduled_for,
        sent_at=row.sent_at,
        delivered_at=row.delivered_at,
        opened_at=row.opened_at,
        created_at=row.created_at,
    )


async def insert_message(conn: AsyncConnection, **values: Any) -> Row[Any]:
    """Store one message; its row."""
    return (await conn.execute(sa.insert(M).values(**values).returning(*M.c))).one()


async def add_event(
    conn: AsyncConnection,
    organization_id: uuid.UUID,
    message_id: uuid.UUID,
    status: str,
    at: datetime,
    detail: str | None = None,
) -> None:
    """Append one step to a message's status history."""
    await conn.execute(
        sa.insert(outreach_message_events).values(
            organization_id=organization_id,
            message_id=message_id,
            status=status,
            detail=detail,
            created_at=at,
        )
    )


async def get_message(
    conn: AsyncConnection, organization_id: uuid.UUID, message_id: uuid.UUID, *, lock: bool = False
) -> Row[Any] | None:
    """One message of the organization, optionally locked for a status change."""
    query = select(M).where(M.c.organization_id == organization_id, M.c.id == message_id)
    if lock:
        query = query.with_for_update(key_share=True)
    return (await conn.execute(query)).first()


async def update_message(
    conn: AsyncConnection, organization_id: uuid.UUID, message_id: uuid.UUID, **values: Any
) -> Row[Any]:
    """Change a message's columns; its new row."""
    return (
        await conn.execute(
            sa.update(M)
            .where(M.c.organization_id == organization_id, M.c.id == message_id)
            .values(**values)
            .returning(*M.c)
        )
    ).one()


async def history(
    conn: AsyncConnection, organization_id: uuid.UUID, message_id: uuid.UUID
) -> list[MessageEventOut]:
    """The message's status history, oldest first."""
    rows = await conn.execute(
        select(outreach_message_events)
        .where(
            outreach_message_events.c.organization_id == organization_id,
            outreach_message_events.c.message_id == message_id,
        )
        .order_by(outreach_message_events.c.created_at, outreach_message_events.c.id)
    )
    return [MessageEventOut(status=r.status, detail=r.detail, at=r.created_at) for r in rows]


async def sequence_of_enrollment(
    conn: AsyncConnection, enrollment_id: uuid.UUID | None
) -> uuid.UUID | None:
    """The sequence an enrollment belongs to."""
    if enrollment_id is None:
        return None
    found: uuid.UUID | None = await conn.scalar(
        select(E.c.sequence_id).where(E.c.id == enrollment_id)
    )
    return found


async def message_page(
    conn: AsyncConnection,
    organization_id: uuid.UUID,
    page: PageQuery,
    *,
    channel: str | None,
    status: str | None,
    direction: str | None,
    lead_id: uuid.UUID | None,
    start_at: datetime | None,
    end_at: datetime | None,
) -> list[Row[Any]]:
    """Messages newest first, with their sequence id (one row over the page)."""
    query: Select[Any] = (
        select(M, E.c.sequence_id)
        .select_from(M.outerjoin(E, E.c.id == M.c.enrollment_id))
        .where(M.c.organization_id == organization_id)
    )
    for column, value in (
        (M.c.channel, channel),
        (M.c.status, status),
        (M.c.direction, direction),
        (M.c.lead_id, lead_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if start_at is not None:
        query = query.where(M.c.created_at >= start_at)
    if end_at is not None:
        query = query.where(M.c.created_at <= end_at)
    return list((await conn.execute(page.apply(query, M.c.created_at, M.c.id))).all())


async def find_by_provider_id(
    conn: AsyncConnection, organization_id: uuid.UUID, provider_message_id: str
) -> Row[Any] | None:
    """The outbound message a provider knows by `provider_message_id`, locked."""
    return (
        await conn.execute(
            select(M)
            .where(
                M.c.organization_id == organization_id,
                M.c.provider_message_id == provider_message_id,
            )
            .with_for_update(key_share=True)
        )
    ).first()


async def find_by_email_ids(
    conn: AsyncConnection, organization_id: uuid.UUID, message_ids: list[str]
) -> Row[Any] | None:
    """The newest outbound email whose Message-ID is one of `message_ids` (a reply's references)."""
    if not message_ids:
        return None
    return (
        await conn.execute(
            select(M)
            .where(
                M.c.organization_id == organization_id,
                M.c.direction == "outbound",
                M.c.email_message_id.in_(message_ids),
            )
            .order_by(M.c.created_at.desc())
            .limit(1)
        )
    ).first()


async def last_outbound_to(
    conn: AsyncConnection, organization_id: uuid.UUID, channel: str, address: str
) -> Row[Any] | None:
    """The newest message sent to `address` on `channel` (what an inbound reply answers)."""
    return (
        await conn.execute(
            select(M)
            .where(
                M.c.organization_id == organization_id,
                M.c.direction == "outbound",
                M.c.channel == channel,
                M.c.to_address == address,
            )
            .order_by(M.c.created_at.desc())
            .limit(1)
        )
    ).first()


async def volume_since(
    conn: AsyncConnection, organization_id: uuid.UUID, channel: str, since: datetime
) -> tuple[int, datetime | None]:
    """Outbound messages of `channel` created since `since`: how many, and the oldest's time."""
    row = (
        await conn.execute(
            select(func.count(), func.min(M.c.created_at)).where(
                M.c.organization_id == organization_id,
                M.c.direction == "outbound",
                M.c.channel == channel,
                M.c.created_at >= since,
            )
        )
    ).one()
    return int(row[0]), row[1]


async def sends_to_since(
    conn: AsyncConnection,
    organization_id: uuid.UUID,
    address: str,
    since: datetime,
    *,
    exclude: uuid.UUID | None = None,
) -> list[datetime]:
    """When messages to `address` went out (or are due) since `since` (`exclude` left out)."""
    query = select(func.coalesce(M.c.scheduled_for, M.c.created_at)).where(
        M.c.organization_id == organization_id,
        M.c.direction == "outbound",
        M.c.to_address == address,
        M.c.created_at >= since,
        M.c.status.not_in(("failed", "undelivered")),
    )
    if exclude is not None:
        query = query.where(M.c.id != exclude)
    rows = await conn.execute(query)
    return [r[0] for r in rows]


_LOCK_VOLUME = text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")


async def lock_volume(conn: AsyncConnection, organization_id: uuid.UUID, channel: str) -> None:
    """Serialise this organization's sends of `channel` until commit (counting, then queueing)."""
    await conn.execute(_LOCK_VOLUME, {"key": f"outreach-volume:{organization_id}:{channel}"})


# --- suppressions ---------------------------------------------------------------


def suppression_of(row: Any) -> SuppressionOut:
    """A suppression row as the API shows it."""
    return SuppressionOut(
        id=public_id(SUPPRESSION_PREFIX, row.id),
        channel=row.channel,
        address=row.address,
        reason=row.reason,
        source=row.source,
        added_at=row.created_at,
    )


async def find_suppression(
    conn: AsyncConnection, organization_id: uuid.UUID, channel: str, address: str
) -> Row[Any] | None:
    """The suppression of one address, if any."""
    return (
        await conn.execute(
            select(SUP).where(
                SUP.c.organization_id == organization_id,
                SUP.c.channel == channel,
                SUP.c.address == address,
            )
        )
    ).first()


async def insert_suppression(
    conn: AsyncConnection,
    *,
    organization_id: uuid.UUID,
    channel: str,
    address: str,
    reason: str,
    source: str,
    message_id: uuid.UUID | None,
    now: datetime,
) -> tuple[Row[Any], bool]:
    """Suppress an address; (its row, whether it is new). An existing one is kept as it is."""
    inserted = (
        await conn.execute(
            pg_insert(SUP)
            .values(
                organization_id=organization_id,
                channel=channel,
                address=address,
                reason=reason,
                source=source,
                message_id=message_id,
                created_at=now,
            )
            .on_conflict_do_nothing(
                index_elements=[SUP.c.organization_id, SUP.c.channel, SUP.c.address]
            )
            .returning(*SUP.c)
        )
    ).first()
    if inserted is not None:
        return inserted, True
    existing = await find_suppression(conn, organization_id, channel, address)
    assert existing is not None
    return existing, False


async def delete_suppression(
    conn: AsyncConnection, organization_id: uuid.UUID, suppression_id: uuid.UUID
) -> Row[Any] | None:
    """Remove one suppression; its row, or None when there is none."""
    return (
        await conn.execute(
            sa.delete(SUP)
            .where(SUP.c.organization_id == organization_id, SUP.c.id == suppression_id)
            .returning(*SUP.c)
        )
    ).first()


async def mark_confirmed(conn: AsyncConnection, suppression_id: uuid.UUID, at: datetime) -> bool:
    """Note that the opt-out was confirmed to the person; False when it already was."""
    done = (
        await conn.execute(
            sa.update(SUP)
            .where(SUP.c.id == suppression_id, SUP.c.confirmation_sent_at.is_(None))
            .values(confirmation_sent_at=at)
            .returning(SUP.c.id)
        )
    ).first()
    return done is not None


async def suppression_page(
    conn: AsyncConnection,
    organization_id: uuid.UUID,
    page: PageQuery,
    *,
    channel: str | None,
    reason: str | None,
) -> list[Row[Any]]:
    """Suppressions newest first (one row over the page)."""
    query = select(SUP).where(SUP.c.organization_id == organization_id)
    if channel is not None:
        query = query.where(SUP.c.channel == channel)
    if reason is not None:
        query = query.where(SUP.c.reason == reason)
    return list((await conn.execute(page.apply(query, SUP.c.created_at, SUP.c.id))).all())


async def suppressed_among(
    conn: AsyncConnection, organization_id: uuid.UUID, channel: str, addresses: list[str]
) -> set[str]:
    """Which of `addresses` are suppressed."""
    if not addresses:
        return set()
    rows = await conn.execute(
        select(SUP.c.address).where(
            SUP.c.organization_id == organization_id,
            SUP.c.channel == channel,
            SUP.c.address.in_(addresses),
        )
    )
    return {r[0] for r in rows}


# --- inbound secret ---------------------------------------------------------------


async def store_inbound_secret(
    conn: AsyncConnection,
    organization_id: uuid.UUID,
    secret_hash: bytes,
    prefix: str,
    now: datetime,
) -> None:
    """Set (or replace) the organization's inbound-parse secret."""
    await conn.execute(
        pg_insert(outreach_inbound_secrets)
        .values(
            organization_id=organization_id,
            secret_hash=secret_hash,
            secret_prefix=prefix,
            created_at=now,
        )
        .on_conflict_do_update(
            index_elements=[outreach_inbound_secrets.c.organization_id],
            set_={"secret_hash": secret_hash, "secret_prefix": prefix, "created_at": now},
        )
    )


async def inbound_secret_hash(conn: AsyncConnection, organization_id: uuid.UUID) -> bytes | None:
    """The stored hash of the organization's inbound-parse secret."""
    value = await conn.scalar(
        select(outreach_inbound_secrets.c.secret_hash).where(
            outreach_inbound_secrets.c.organization_id == organization_id
        )
    )
    return bytes(value) if value is not None else None


async def insert_messages(conn: AsyncConnection, rows: list[dict[str, Any]]) -> list[Row[Any]]:
    """Store many sequence-step messages in one statement; those stored (a step that has its
    message already is left out: sent once only)."""
    if not rows:
        return []
    # Executed with many parameter sets, not one multi-row VALUES: the statement is
    # compiled once and cached (a VALUES list of a new length compiles anew, which was
    # a seventh of a sequence run's CPU), and SQLAlchemy still batches the rows.
    return list((await conn.execute(_INSERT_STEP_MESSAGE, rows)).all())


_INSERT_STEP_MESSAGE = (
    pg_insert(M)
    .on_conflict_do_nothing(
        index_elements=[M.c.enrollment_id, M.c.step_index],
        index_where=M.c.enrollment_id.isnot(None),
    )
    .returning(*M.c)
)


async def add_events(conn: AsyncConnection, events: list[dict[str, Any]]) -> None:
    """Append many status-history steps in one statement (keys as add_event's)."""
    if events:
        await conn.execute(sa.insert(outreach_message_events), events)  # compiled once


_MARK_SENT = (
    sa.update(M)
    .where(M.c.id == sa.bindparam("b_id"), M.c.status == "sending")
    .values(
        status="sent",
        sent_at=sa.bindparam("b_at"),
        updated_at=sa.bindparam("b_at"),
        provider=sa.bindparam("b_provider"),
        provider_message_id=sa.bindparam("b_provider_message_id"),
        email_message_id=sa.bindparam("b_email_message_id"),
    )
)


async def mark_sent(conn: AsyncConnection, sent: list[dict[str, Any]]) -> None:
    """Mark many `sending` messages sent (keys: id, at, provider, provider_message_id,
    email_message_id)."""
    if sent:
        await conn.execute(_MARK_SENT, [{f"b_{k}": v for k, v in s.items()} for s in sent])


async def sending_of_job(
    conn: AsyncConnection, organization_id: uuid.UUID, job_id: int
) -> list[Row[Any]]:
    """The messages a job left `sending` (it stopped during their provider calls), locked."""
    rows = await conn.execute(
        select(M)
        .where(
            M.c.organization_id == organization_id, M.c.job_id == job_id, M.c.status == "sending"
        )
        .with_for_update()
    )
    return list(rows.all())


async def stale_sending(conn: AsyncConnection, before: datetime, limit: int) -> list[Row[Any]]:
    """Messages `sending` since before `before` (across tenants): their sender is gone."""
    rows = await conn.execute(
        select(M)
        .where(M.c.status == "sending", M.c.updated_at < before)
        .order_by(M.c.updated_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(rows.all())
