"""Reads of the api_keys table (issuing and revoking are in `apikeys.service`).

What is read here never includes `key_hash`: listing keys shows what an
operator needs to tell them apart (name, prefix, scopes, use), nothing that
would help guess one.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row, Select, select
from sqlalchemy.ext.asyncio import AsyncConnection

from eal.apikeys.models import api_keys
from eal.kit.cursor import Cursor
from eal.kit.paging import PageQuery

#: The columns a key is listed with.
_LISTED = (
    api_keys.c.id,
    api_keys.c.name,
    api_keys.c.prefix,
    api_keys.c.scopes,
    api_keys.c.environment,
    api_keys.c.created_at,
    api_keys.c.last_used_at,
    api_keys.c.revoked_at,
)


async def organization_of(conn: AsyncConnection, key_id: uuid.UUID) -> uuid.UUID | None:
    """The organization the key belongs to, if the key exists (and the role sees it)."""
    found: uuid.UUID | None = await conn.scalar(
        select(api_keys.c.organization_id).where(api_keys.c.id == key_id)
    )
    return found


async def position(
    conn: AsyncConnection, organization_id: uuid.UUID, key_id: uuid.UUID
) -> Cursor | None:
    """Where the organization's key stands in creation order (None: no such key there)."""
    row = (
        await conn.execute(
            select(api_keys.c.created_at, api_keys.c.id).where(
                api_keys.c.organization_id == organization_id, api_keys.c.id == key_id
            )
        )
    ).first()
    return None if row is None else Cursor(created_at=row.created_at, id=row.id)


async def organization_page(
    conn: AsyncConnection, organization_id: uuid.UUID, page: PageQuery
) -> list[Row[Any]]:
    """The organization's keys, revoked ones included, oldest first (one row more than the page).

    Rows carry id, name, prefix, scopes, environment, created_at, last_used_at
    and revoked_at.
    """
    query: Select[Any] = select(*_LISTED).where(api_keys.c.organization_id == organization_id)
    # The (organization_id, created_at, id) index serves the keyset condition and the order.
    query = page.apply(query, api_keys.c.created_at, api_keys.c.id, newest_first=False)
    return list((await conn.execute(query)).all())
