"""Statements of the reviews domain and the mapping from rows to the API's models."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Row, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from eal.content import repository as content
from eal.kit.ids import public_id
from eal.reviews.models import reviews
from eal.reviews.schemas import REVIEW_PREFIX, ReplyOfReview, ReviewOut

V = reviews


def review_of(row: Any, reply: Any | None) -> ReviewOut:
    """A review row, with its reply's row (or None)."""
    return ReviewOut(
        id=public_id(REVIEW_PREFIX, row.id),
        platform=row.platform,
        review_id=row.review_id,
        rating=row.rating,
        text=row.text,
        author=row.author,
        url=row.url,
        created_at=row.review_created_at,
        sentiment=row.sentiment,
        reply=(
            ReplyOfReview(
                content_id=content.content_id(reply.id),
                status=reply.status,
                response_text=reply.body,
            )
            if reply is not None
            else None
        ),
        recorded_at=row.created_at,
    )


async def insert_new(conn: AsyncConnection, **values: Any) -> Row[Any] | None:
    """Store a review unless the organization has it (same platform and id); the new row or None."""
    statement = (
        pg_insert(V)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[V.c.organization_id, V.c.platform, V.c.review_id])
        .returning(*V.c)
    )
    return (await conn.execute(statement)).one_or_none()


async def find(
    conn: AsyncConnection, organization_id: uuid.UUID, platform: str, review_id: str
) -> Row[Any] | None:
    query = select(V).where(
        V.c.organization_id == organization_id,
        V.c.platform == platform,
        V.c.review_id == review_id,
    )
    return (await conn.execute(query)).one_or_none()


async def set_reply(
    conn: AsyncConnection, organization_id: uuid.UUID, row_id: uuid.UUID, reply_id: uuid.UUID
) -> Row[Any]:
    query = (
        sa.update(V)
        .where(V.c.organization_id == organization_id, V.c.id == row_id)
        .values(reply_content_id=reply_id)
        .returning(*V.c)
    )
    return (await conn.execute(query)).one()
