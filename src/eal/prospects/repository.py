"""Statements of the prospects domain, and its row mapping."""

from __future__ import annotations

import re
import unicodedata
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Row, Text, and_, func, or_, select
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from eal.kit.paging import PageQuery
from eal.outreach.models import outreach_enrollments, outreach_messages
from eal.prospects.fit import AreaEvent, OutreachActivity
from eal.prospects.models import prospect_qualify_batches, prospects
from eal.prospects.schemas import ProspectListItem, ProspectOut
from eal.weather.models import weather_events

P = prospects
B = prospect_qualify_batches

_LEGAL_SUFFIXES = frozenset(
    {"inc", "llc", "ltd", "co", "corp", "corporation", "company", "lp", "llp", "plc", "pllc"}
)


def company_key(name: str) -> str:
    """The company name as the duplicate rule compares it.

    Case, accents, punctuation, a leading "the" and legal suffixes (Inc, LLC...)
    are ignored: "The Sandy Springs Property Group, LLC" is "sandy springs property group".
    """
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    folded = folded.replace("&", " and ")
    words = re.sub(r"[^a-z0-9]+", " ", folded).split()
    if len(words) > 1 and words[0] == "the":
        words = words[1:]
    while len(words) > 1 and words[-1] in _LEGAL_SUFFIXES:
        words = words[:-1]
    return " ".join(words) or name.strip().lower()


def list_item_of(row: Any) -> ProspectListItem:
    """A prospects row as a list shows it."""
    return ProspectListItem(
        id=row.id,
        company_name=row.company_name,
        contact_name=row.contact_name,
        contact_email=row.contact_email,
        vertical=row.vertical,
        qualification_status=row.qualification_status,
        outreach_status=row.outreach_status,
        created_at=row.created_at,
    )


def prospect_of(row: Any) -> ProspectOut:
    """A prospects row as GET /prospects/{id} shows it."""
    return ProspectOut(
        id=row.id,
        company_name=row.company_name,
        contact_name=row.contact_name,
        contact_email=row.contact_email,
        contact_phone=row.contact_phone,
        vertical=row.vertical,
        website=row.website,
        postal_code=row.postal_code,
        buildings_managed=row.buildings_managed,
        units=row.units,
        incumbent_vendor=row.incumbent_vendor,
        notes=row.notes,
        qualification_status=row.qualification_status,
        outreach_status=row.outreach_status,
        fit_score=row.fit_score,
        engagement_score=row.engagement_score,
        rationale=list(row.rationale) if row.rationale is not None else None,
        provider=row.qualification_provider,
        qualified_at=row.qualified_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def insert(conn: AsyncConnection, values: dict[str, Any]) -> Row[Any]:
    """Store one prospect; its row."""
    return (await conn.execute(sa.insert(P).values(**values).returning(*P.c))).one()


async def insert_many(conn: AsyncConnection, rows: list[dict[str, Any]]) -> list[uuid.UUID]:
    """Store many prospects (an import); the ids stored. A row that collides with one
    stored meanwhile (a concurrent request) is left out rather than failing the others."""
    stored: list[uuid.UUID] = []
    for start in range(0, len(rows), 1000):
        chunk = rows[start : start + 1000]
        result = await conn.execute(
            pg_insert(P).values(chunk).on_conflict_do_nothing().returning(P.c.id)
        )
        stored += [r[0] for r in result]
    return stored


async def get(
    conn: AsyncConnection, organization_id: uuid.UUID, prospect_id: uuid.UUID, *, lock: bool = False
) -> Row[Any] | None:
    """One prospect of the organization (locked for update when asked)."""
    query = select(P).where(P.c.organization_id == organization_id, P.c.id == prospect_id)
    if lock:
        query = query.with_for_update()
    return (await conn.execute(query)).first()


async def get_many(
    conn: AsyncConnection, organization_id: uuid.UUID, prospect_ids: list[uuid.UUID]
) -> list[Row[Any]]:
    """The organization's prospects among `prospect_ids` (unknown ids are left out)."""
    if not prospect_ids:
        return []
    rows = await conn.execute(
        select(P).where(P.c.organization_id == organization_id, P.c.id.in_(prospect_ids))
    )
    return list(rows.all())


async def contacts_of(
    conn: AsyncConnection, organization_id: uuid.UUID, prospect_ids: list[uuid.UUID]
) -> dict[uuid.UUID, Any]:
    """Per prospect id, its contact as outreach templates name it (`name`, `company`)."""
    if not prospect_ids:
        return {}
    rows = await conn.execute(
        select(P.c.id, P.c.contact_name.label("name"), P.c.company_name.label("company")).where(
            P.c.organization_id == organization_id, P.c.id.in_(prospect_ids)
        )
    )
    return {r.id: r for r in rows}


async def update(
    conn: AsyncConnection, organization_id: uuid.UUID, prospect_id: uuid.UUID, **values: Any
) -> Row[Any]:
    """Change a prospect; its row after the change."""
    return (
        await conn.execute(
            sa.update(P)
            .where(P.c.organization_id == organization_id, P.c.id == prospect_id)
            .values(**values)
            .returning(*P.c)
        )
    ).one()


async def page(
    conn: AsyncConnection,
    organization_id: uuid.UUID,
    page_query: PageQuery,
    *,
    qualification_status: str | None = None,
    vertical: str | None = None,
    outreach_status: str | None = None,
) -> list[Row[Any]]:
    """The organization's prospects, newest first (one row over the page)."""
    query = select(P).where(P.c.organization_id == organization_id)
    if qualification_status is not None:
        query = query.where(P.c.qualification_status == qualification_status)
    if vertical is not None:
        query = query.where(P.c.vertical == vertical)
    if outreach_status is not None:
        query = query.where(P.c.outreach_status == outreach_status)
    query = page_query.apply(query, P.c.created_at, P.c.id)
    return list((await conn.execute(query)).all())


async def find_duplicate(
    conn: AsyncConnection,
    organization_id: uuid.UUID,
    *,
    email: str | None,
    key: str,
    postal_code: str | None,
    exclude: uuid.UUID | None = None,
) -> tuple[Any, str] | None:
    """The prospect this one would duplicate, and the rule it breaks ('email' or 'company')."""
    rules = []
    if email is not None:
        rules.append(P.c.contact_email == email)
    if postal_code is not None:
        rules.append(and_(P.c.company_key == key, P.c.postal_code == postal_code))
    if not rules:
        return None
    query = select(P.c.id, P.c.company_name, P.c.contact_email).where(
        P.c.organization_id == organization_id, or_(*rules)
    )
    if exclude is not None:
        query = query.where(P.c.id != exclude)
    row = (await conn.execute(query.order_by(P.c.created_at).limit(1))).first()
    if row is None:
        return None
    return row, "contact_email" if email is not None and row.contact_email == email else "company"


async def existing_keys(
    conn: AsyncConnection,
    organization_id: uuid.UUID,
    emails: list[str],
    pairs: list[tuple[str, str]],
) -> tuple[dict[str, uuid.UUID], dict[tuple[str, str], uuid.UUID]]:
    """Of the given emails and (company_key, postal_code) pairs, those already stored."""
    by_email: dict[str, uuid.UUID] = {}
    by_company: dict[tuple[str, str], uuid.UUID] = {}
    # Each list goes as one array parameter: an IN list of 10,000 items is a deep tree.
    if emails:
        rows = await conn.execute(
            select(P.c.contact_email, P.c.id).where(
                P.c.organization_id == organization_id,
                P.c.contact_email == sa.any_(sa.literal(emails, ARRAY(Text))),
            )
        )
        by_email = {r.contact_email: r.id for r in rows}
    if pairs:
        wanted = set(pairs)
        rows = await conn.execute(
            select(P.c.company_key, P.c.postal_code, P.c.id).where(
                P.c.organization_id == organization_id,
                P.c.company_key == sa.any_(sa.literal(sorted({k for k, _ in pairs}), ARRAY(Text))),
                P.c.postal_code.isnot(None),
            )
        )
        by_company = {
            (r.company_key, r.postal_code): r.id
            for r in rows
            if (r.company_key, r.postal_code) in wanted
        }
    return by_email, by_company


async def area_events(
    conn: AsyncConnection, organization_id: uuid.UUID, since: datetime, until: datetime
) -> tuple[AreaEvent, ...]:
    """The organization's weather and loss events that occurred in [since, until]."""
    W = weather_events
    rows = await conn.execute(
        select(W.c.event_type, W.c.postal_codes, W.c.occurred_at, W.c.severity, W.c.description)
        .where(
            W.c.organization_id == organization_id,
            W.c.occurred_at >= since,
            W.c.occurred_at <= until,
        )
        .order_by(W.c.occurred_at.desc())
        .limit(500)
    )
    return tuple(
        AreaEvent(
            event_type=r.event_type,
            postal_codes=tuple(r.postal_codes),
            occurred_at=r.occurred_at,
            severity=r.severity,
            description=r.description,
        )
        for r in rows
    )


async def outreach_activity(
    conn: AsyncConnection, organization_id: uuid.UUID, prospect_id: uuid.UUID
) -> OutreachActivity:
    """What the prospect's outreach messages show: sent, opened, replied, opted out."""
    E, M = outreach_enrollments, outreach_messages
    replies = M.alias("replies")
    enrollment_ids = select(E.c.id).where(
        E.c.organization_id == organization_id, E.c.prospect_id == prospect_id
    )
    sent_statuses = ("sent", "delivered", "simulated")
    outbound = (
        select(
            func.count().filter(M.c.status.in_(sent_statuses)).label("sent"),
            func.count(M.c.opened_at).label("opened"),
            func.max(M.c.opened_at).label("last_open"),
        )
        .where(M.c.organization_id == organization_id, M.c.enrollment_id.in_(enrollment_ids))
        .subquery()
    )
    answered = (
        select(func.count().label("replies"), func.max(replies.c.created_at).label("last_reply"))
        .select_from(replies)
        .join(M, M.c.id == replies.c.reply_to_message_id)
        .where(
            replies.c.organization_id == organization_id,
            replies.c.direction == "inbound",
            M.c.enrollment_id.in_(enrollment_ids),
        )
        .subquery()
    )
    stops = (
        select(
            func.count().filter(E.c.stop_reason == "replied").label("replied"),
            func.bool_or(E.c.stop_reason == "opted_out").label("opted_out"),
            func.max(E.c.finished_at).filter(E.c.stop_reason == "replied").label("replied_at"),
        )
        .where(E.c.organization_id == organization_id, E.c.prospect_id == prospect_id)
        .subquery()
    )
    # Three one-row aggregates side by side.
    joined = outbound.join(answered, sa.true()).join(stops, sa.true())
    row = (await conn.execute(select(outbound, answered, stops).select_from(joined))).one()
    # A reply is counted once whether it is linked to its message or only stopped a step.
    reply_count = max(int(row.replies or 0), int(row.replied or 0))
    moments = [t for t in (row.last_open, row.last_reply, row.replied_at) if t is not None]
    return OutreachActivity(
        sent=int(row.sent or 0),
        opened=int(row.opened or 0),
        replies=reply_count,
        opted_out=bool(row.opted_out),
        last_activity_at=max(moments) if moments else None,
    )


async def enrollment_id(
    conn: AsyncConnection,
    organization_id: uuid.UUID,
    prospect_id: uuid.UUID,
    sequence_id: uuid.UUID,
) -> uuid.UUID | None:
    """The prospect's enrollment in the sequence, if it has one."""
    E = outreach_enrollments
    found: uuid.UUID | None = await conn.scalar(
        select(E.c.id).where(
            E.c.organization_id == organization_id,
            E.c.sequence_id == sequence_id,
            E.c.prospect_id == prospect_id,
        )
    )
    return found


async def insert_batch(
    conn: AsyncConnection,
    *,
    batch_id: uuid.UUID,
    organization_id: uuid.UUID,
    prospect_ids: list[uuid.UUID],
    now: datetime,
) -> Row[Any]:
    """Store a batch qualification, queued."""
    return (
        await conn.execute(
            sa.insert(B)
            .values(
                id=batch_id,
                organization_id=organization_id,
                prospect_ids=prospect_ids,
                created_at=now,
                updated_at=now,
            )
            .returning(*B.c)
        )
    ).one()


async def get_batch(
    conn: AsyncConnection, organization_id: uuid.UUID, batch_id: uuid.UUID, *, lock: bool = False
) -> Row[Any] | None:
    """One batch of the organization."""
    query = select(B).where(B.c.organization_id == organization_id, B.c.id == batch_id)
    if lock:
        query = query.with_for_update()
    return (await conn.execute(query)).first()


async def add_batch_results(
    conn: AsyncConnection,
    organization_id: uuid.UUID,
    batch_id: uuid.UUID,
    results: dict[str, Any],
    *,
    now: datetime,
    finished: bool,
) -> None:
    """Merge per-prospect results into the batch; mark it running, or completed."""
    values: dict[str, Any] = {
        "results": B.c.results.op("||")(sa.bindparam("merged", results, type_=JSONB)),
        "status": "completed" if finished else "running",
        "updated_at": now,
    }
    if finished:
        values["finished_at"] = now
    await conn.execute(
        sa.update(B)
        .where(B.c.organization_id == organization_id, B.c.id == batch_id)
        .values(values)
    )
