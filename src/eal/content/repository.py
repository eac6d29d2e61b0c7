"""Statements of the content domain and the mapping from rows to the API's models."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Row, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from eal.content.models import content_items, content_publications, content_revisions
from eal.content.schemas import (
    CONTENT_PREFIX,
    ContentListItem,
    ContentOut,
    PublicationOut,
    ReviewOfItem,
    RevisionOut,
)
from eal.kit.ids import public_id
from eal.kit.paging import PageQuery

C = content_items
R = content_revisions
P = content_publications


def content_id(value: uuid.UUID) -> str:
    """The public `ctnt_...` id of an item."""
    return public_id(CONTENT_PREFIX, value)


def list_item_of(row: Any) -> ContentListItem:
    """An item row as lists show it."""
    return ContentListItem(
        id=content_id(row.id),
        type=row.type,
        title=row.title,
        status=row.status,
        channel=row.channel,
        url=row.url,
        word_count=row.word_count,
        target_keyword=row.target_keyword,
        published_at=row.published_at,
        provider=row.provider,
        created_at=row.created_at,
    )


def publication_of(row: Any) -> PublicationOut:
    """A publication row as the publish endpoint answers it (only what applies)."""
    return PublicationOut(
        channel=row.channel,
        status=row.status,
        url=row.url,
        scheduled_for=row.scheduled_for if row.status == "scheduled" else None,
        published_at=row.published_at,
        error=row.error,
    )


def item_of(
    row: Any, *, revisions: int, publications: list[Any], cutdown_id: uuid.UUID | None
) -> ContentOut:
    """An item row in full."""
    review = None
    if row.type == "review_response":
        review = ReviewOfItem(
            platform=row.platform,
            review_id=row.external_review_id,
            rating=row.rating,
            sentiment=row.sentiment,
        )
    return ContentOut(
        **list_item_of(row).model_dump(),
        meta_description=row.meta_description,
        slug=row.slug,
        outline=row.outline,
        body=row.body,
        estimated_read_time_min=row.estimated_read_time_min,
        seo_checks=row.seo_checks,
        format=row.format,
        duration_seconds=row.duration_seconds,
        scenes=row.scenes,
        cutdown_30s_id=content_id(cutdown_id) if cutdown_id else None,
        parent_id=content_id(row.parent_id) if row.parent_id else None,
        review=review,
        revision=row.revision,
        revisions=revisions,
        publications=[publication_of(p) for p in publications],
        approved_at=row.approved_at,
        error=row.error,
        updated_at=row.updated_at,
    )


def revision_of(row: Any) -> RevisionOut:
    return RevisionOut(
        revision=row.revision,
        title=row.title,
        body=row.body,
        meta_description=row.meta_description,
        edited_by=str(row.edited_by) if row.edited_by else None,
        created_at=row.created_at,
    )


async def insert(conn: AsyncConnection, **values: Any) -> Row[Any]:
    """Store a new item; its row."""
    return (await conn.execute(sa.insert(C).values(**values).returning(*C.c))).one()


async def get(
    conn: AsyncConnection, organization_id: uuid.UUID, item_id: uuid.UUID, *, lock: bool = False
) -> Row[Any] | None:
    """One item of the organization (locked for update when asked)."""
    query = select(C).where(C.c.organization_id == organization_id, C.c.id == item_id)
    if lock:
        query = query.with_for_update()
    return (await conn.execute(query)).one_or_none()


async def update(
    conn: AsyncConnection, organization_id: uuid.UUID, item_id: uuid.UUID, **values: Any
) -> Row[Any]:
    """Change an item; its new row."""
    query = (
        sa.update(C)
        .where(C.c.organization_id == organization_id, C.c.id == item_id)
        .values(**values)
        .returning(*C.c)
    )
    return (await conn.execute(query)).one()


#: How many of an organization's other posts a new post is kept apart from (newest first).
OTHER_PLACES_POSTS = 100


async def blog_bodies_elsewhere(
    conn: AsyncConnection, organization_id: uuid.UUID, item_id: uuid.UUID, city: str, region: str
) -> list[str]:
    """The bodies of the organization's newest blog posts about another place than
    `city`, `region` (the sentences a post for this place must not copy)."""
    area = C.c.request["service_area"]
    same_place = sa.and_(
        func.lower(area["city"].astext) == city.strip().lower(),
        func.lower(area["region"].astext) == region.strip().lower(),
    )
    query = (
        select(C.c.body)
        .where(
            C.c.organization_id == organization_id,
            C.c.type == "blog",
            C.c.id != item_id,
            C.c.body.is_not(None),
            sa.not_(sa.func.coalesce(same_place, False)),
        )
        .order_by(C.c.created_at.desc())
        .limit(OTHER_PLACES_POSTS)
    )
    return [body for (body,) in (await conn.execute(query)).all()]


async def page(
    conn: AsyncConnection,
    organization_id: uuid.UUID,
    page: PageQuery,
    *,
    type_: str | None,
    status: str | None,
    channel: str | None,
) -> list[Row[Any]]:
    """Newest first, one row over the page; filters are ANDed."""
    query = select(C).where(C.c.organization_id == organization_id)
    if type_ is not None:
        query = query.where(C.c.type == type_)
    if status is not None:
        query = query.where(C.c.status == status)
    if channel is not None:
        query = query.where(C.c.channel == channel)
    query = page.apply(query, C.c.created_at, C.c.id)
    return list((await conn.execute(query)).all())


async def cutdown_of(
    conn: AsyncConnection, organization_id: uuid.UUID, item_id: uuid.UUID
) -> uuid.UUID | None:
    """The id of the item's 30-second cutdown, if it has one."""
    query = select(C.c.id).where(C.c.organization_id == organization_id, C.c.parent_id == item_id)
    value = (await conn.execute(query.limit(1))).scalar_one_or_none()
    return value if isinstance(value, uuid.UUID) else None


async def count_revisions(
    conn: AsyncConnection, organization_id: uuid.UUID, item_id: uuid.UUID
) -> int:
    query = select(func.count()).where(
        R.c.organization_id == organization_id, R.c.content_id == item_id
    )
    return int((await conn.execute(query)).scalar_one())


async def insert_revision(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(sa.insert(R).values(**values))


async def revisions_page(
    conn: AsyncConnection, organization_id: uuid.UUID, item_id: uuid.UUID, page: PageQuery
) -> list[Row[Any]]:
    """The item's earlier texts, newest first."""
    query = select(R).where(R.c.organization_id == organization_id, R.c.content_id == item_id)
    query = page.apply(query, R.c.created_at, R.c.id)
    return list((await conn.execute(query)).all())


async def publications(
    conn: AsyncConnection, organization_id: uuid.UUID, item_id: uuid.UUID
) -> list[Row[Any]]:
    query = (
        select(P)
        .where(P.c.organization_id == organization_id, P.c.content_id == item_id)
        .order_by(P.c.created_at, P.c.channel)
    )
    return list((await conn.execute(query)).all())


async def get_publication(
    conn: AsyncConnection, organization_id: uuid.UUID, item_id: uuid.UUID, channel: str
) -> Row[Any] | None:
    """The item's publication on `channel`, locked."""
    query = (
        select(P)
        .where(
            P.c.organization_id == organization_id,
            P.c.content_id == item_id,
            P.c.channel == channel,
        )
        .with_for_update()
    )
    return (await conn.execute(query)).one_or_none()


async def save_publication(
    conn: AsyncConnection,
    *,
    organization_id: uuid.UUID,
    item_id: uuid.UUID,
    channel: str,
    now: datetime,
    **values: Any,
) -> Row[Any]:
    """Create or replace the item's publication on `channel`; its row."""
    statement = pg_insert(P).values(
        organization_id=organization_id,
        content_id=item_id,
        channel=channel,
        created_at=now,
        updated_at=now,
        **values,
    )
    upsert = statement.on_conflict_do_update(
        index_elements=[P.c.content_id, P.c.channel], set_={"updated_at": now, **values}
    ).returning(*P.c)
    return (await conn.execute(upsert)).one()
