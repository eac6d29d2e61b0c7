"""Statements of the claims domain."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Row, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from eal.claims.models import claim_photos, claim_scope_items, claims
from eal.kit.paging import PageQuery

C = claims
P = claim_photos
S = claim_scope_items


async def insert(conn: AsyncConnection, values: dict[str, Any]) -> Row[Any]:
    """Store one claim; its row."""
    return (await conn.execute(sa.insert(C).values(**values).returning(*C.c))).one()


async def get(
    conn: AsyncConnection, organization_id: uuid.UUID, claim_id: uuid.UUID, *, lock: bool = False
) -> Row[Any] | None:
    """One claim of the organization (locked for update when asked)."""
    query = select(C).where(C.c.organization_id == organization_id, C.c.id == claim_id)
    if lock:
        query = query.with_for_update()
    return (await conn.execute(query)).first()


async def page(
    conn: AsyncConnection,
    organization_id: uuid.UUID,
    page_query: PageQuery,
    *,
    status: str | None = None,
    loss_type: str | None = None,
) -> list[Row[Any]]:
    """The organization's claims, newest first (one row over the page)."""
    query = select(C).where(C.c.organization_id == organization_id)
    if status is not None:
        query = query.where(C.c.status == status)
    if loss_type is not None:
        query = query.where(C.c.loss_type == loss_type)
    return list((await conn.execute(page_query.apply(query, C.c.created_at, C.c.id))).all())


async def update(
    conn: AsyncConnection, organization_id: uuid.UUID, claim_id: uuid.UUID, **values: Any
) -> Row[Any]:
    """Change columns of one claim; its row."""
    statement = (
        sa.update(C)
        .where(C.c.organization_id == organization_id, C.c.id == claim_id)
        .values(**values)
        .returning(*C.c)
    )
    return (await conn.execute(statement)).one()


async def open_tenant(conn: AsyncConnection, claim_id: uuid.UUID) -> uuid.UUID | None:
    """Make the claim's organization the tenant (a signed link has no key); its id or None."""
    value = (await conn.execute(text("SELECT eal_claim_tenant(:id)"), {"id": claim_id})).scalar()
    return value if isinstance(value, uuid.UUID) else None


# -- photos --------------------------------------------------------------------


async def photos(
    conn: AsyncConnection, organization_id: uuid.UUID, claim_id: uuid.UUID
) -> list[Row[Any]]:
    """The claim's photos, oldest first."""
    query = (
        select(P)
        .where(P.c.organization_id == organization_id, P.c.claim_id == claim_id)
        .order_by(P.c.created_at, P.c.id)
    )
    return list((await conn.execute(query)).all())


async def photo(
    conn: AsyncConnection, organization_id: uuid.UUID, claim_id: uuid.UUID, photo_id: uuid.UUID
) -> Row[Any] | None:
    """One photo of the claim."""
    query = select(P).where(
        P.c.organization_id == organization_id, P.c.claim_id == claim_id, P.c.id == photo_id
    )
    return (await conn.execute(query)).first()


async def external_ids(conn: AsyncConnection, claim_id: uuid.UUID) -> set[str]:
    """The vendor photo ids the claim already has."""
    query = select(P.c.external_id).where(P.c.claim_id == claim_id, P.c.external_id.isnot(None))
    return {r[0] for r in await conn.execute(query)}


async def fingerprints(conn: AsyncConnection, claim_id: uuid.UUID) -> list[Any]:
    """(id, sha256, phash) of the claim's photos that are not exact duplicates, oldest first."""
    query = (
        select(P.c.id, P.c.sha256, P.c.phash)
        .where(P.c.claim_id == claim_id, P.c.duplicate_of.is_(None))
        .order_by(P.c.created_at, P.c.id)
    )
    return list((await conn.execute(query)).all())


async def insert_photo(conn: AsyncConnection, values: dict[str, Any]) -> Row[Any] | None:
    """Store one photo; None when the claim already has this vendor photo (a racing import)."""
    statement = (
        sa.dialects.postgresql.insert(P).values(**values).on_conflict_do_nothing().returning(*P.c)
    )
    return (await conn.execute(statement)).first()


async def set_photo_rooms(
    conn: AsyncConnection, claim_id: uuid.UUID, rooms: dict[uuid.UUID, str | None]
) -> None:
    """Give photos their rooms (None: unassigned)."""
    for photo_id, room in rooms.items():
        await conn.execute(
            sa.update(P).where(P.c.claim_id == claim_id, P.c.id == photo_id).values(room=room)
        )


async def count_photos(conn: AsyncConnection, claim_id: uuid.UUID) -> int:
    """Photos that count: every one but exact duplicates."""
    query = select(func.count()).where(P.c.claim_id == claim_id, P.c.duplicate_of.is_(None))
    return int((await conn.execute(query)).scalar_one())


# -- scope lines ---------------------------------------------------------------


async def items(
    conn: AsyncConnection, organization_id: uuid.UUID, claim_id: uuid.UUID, *, lock: bool = False
) -> list[Row[Any]]:
    """The claim's scope lines in order."""
    query = (
        select(S)
        .where(S.c.organization_id == organization_id, S.c.claim_id == claim_id)
        .order_by(S.c.position, S.c.id)
    )
    if lock:
        query = query.with_for_update()
    return list((await conn.execute(query)).all())


async def insert_items(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """Store new scope lines."""
    if rows:
        await conn.execute(sa.insert(S), rows)


async def update_item(conn: AsyncConnection, item_id: uuid.UUID, **values: Any) -> None:
    """Change one scope line."""
    await conn.execute(sa.update(S).where(S.c.id == item_id).values(**values))


async def delete_items(conn: AsyncConnection, item_ids: list[uuid.UUID]) -> None:
    """Drop extracted lines the inputs no longer produce."""
    if item_ids:
        await conn.execute(sa.delete(S).where(S.c.id.in_(item_ids)))


async def next_position(conn: AsyncConnection, claim_id: uuid.UUID) -> int:
    """The position after the claim's last line."""
    query = select(func.coalesce(func.max(S.c.position), -1)).where(S.c.claim_id == claim_id)
    return int((await conn.execute(query)).scalar_one()) + 1


async def decision_counts(conn: AsyncConnection, claim_id: uuid.UUID) -> tuple[int, int]:
    """(lines, decided lines) of the claim."""
    query = select(func.count(), func.count(S.c.decision)).where(S.c.claim_id == claim_id)
    total, decided = (await conn.execute(query)).one()
    return int(total), int(decided)


def decided_now(now: datetime, key_id: uuid.UUID | None) -> dict[str, Any]:
    """The columns every decision sets."""
    return {"decided_at": now, "decided_by": key_id, "updated_at": now}
