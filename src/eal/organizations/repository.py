"""Statements of the organizations domain: organizations, grants, invites, and their row mapping.

Other modules (the CLI, bootstrap, the CRM push) import this repository, not
the service, for plain reads.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Row, Select, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from eal.kit.cursor import Cursor
from eal.kit.paging import PageQuery
from eal.organizations.models import org_grants, org_invites, organizations

_OPEN_INVITE = text(
    "SELECT invite_id, organization_id, expires_at, accepted_at FROM eal_open_invite(:hash)"
)


async def insert(
    conn: AsyncConnection,
    *,
    organization_id: uuid.UUID,
    name: str,
    industry: str,
    settings: dict[str, Any],
    parent_id: uuid.UUID | None,
    now: datetime,
) -> Row[Any]:
    """Insert an organization row; returns it."""
    return (
        await conn.execute(
            sa.insert(organizations)
            .values(
                id=organization_id,
                name=name,
                industry=industry,
                settings=settings,
                parent_organization_id=parent_id,
                created_at=now,
                updated_at=now,
            )
            .returning(*organizations.c)
        )
    ).one()


async def get(conn: AsyncConnection, organization_id: uuid.UUID) -> Row[Any] | None:
    """The organization row, if the current tenant may see it."""
    return (
        await conn.execute(select(organizations).where(organizations.c.id == organization_id))
    ).first()


async def exists(conn: AsyncConnection, organization_id: uuid.UUID) -> bool:
    """Whether the organization exists (and is visible to the current role)."""
    found = await conn.scalar(
        select(organizations.c.id).where(organizations.c.id == organization_id)
    )
    return found is not None


async def any_exists(conn: AsyncConnection) -> bool:
    """Whether the database holds any organization at all (system role)."""
    return await conn.scalar(select(organizations.c.id).limit(1)) is not None


async def position(conn: AsyncConnection, organization_id: uuid.UUID) -> Cursor | None:
    """Where the organization stands in creation order, for a page continuing after it."""
    row = (
        await conn.execute(
            select(organizations.c.created_at, organizations.c.id).where(
                organizations.c.id == organization_id
            )
        )
    ).first()
    return None if row is None else Cursor(created_at=row.created_at, id=row.id)


async def all_page(conn: AsyncConnection, page: PageQuery) -> list[Row[Any]]:
    """Every organization the role sees, oldest first (one row more than the page).

    Rows carry id, name, parent_organization_id and created_at.
    """
    query: Select[Any] = select(
        organizations.c.id,
        organizations.c.name,
        organizations.c.parent_organization_id,
        organizations.c.created_at,
    )
    query = page.apply(query, organizations.c.created_at, organizations.c.id, newest_first=False)
    return list((await conn.execute(query)).all())


async def lock(conn: AsyncConnection, organization_id: uuid.UUID) -> Row[Any] | None:
    """The organization row, locked for an update of its name or settings.

    NO KEY UPDATE: a concurrent audit insert's foreign-key check takes KEY
    SHARE on this row while holding the chain head; FOR UPDATE would deadlock
    with it.
    """
    return (
        await conn.execute(
            select(organizations)
            .where(organizations.c.id == organization_id)
            .with_for_update(key_share=True)
        )
    ).first()


async def settings_of(conn: AsyncConnection, organization_id: uuid.UUID) -> dict[str, Any]:
    """The stored settings JSON of the organization (empty when none)."""
    settings = await conn.scalar(
        select(organizations.c.settings).where(organizations.c.id == organization_id)
    )
    return dict(settings or {})


async def parent_of(conn: AsyncConnection, organization_id: uuid.UUID) -> uuid.UUID | None:
    """The organization's parent id, if it has one."""
    parent: uuid.UUID | None = await conn.scalar(
        select(organizations.c.parent_organization_id).where(organizations.c.id == organization_id)
    )
    return parent


async def is_child_of(
    conn: AsyncConnection, organization_id: uuid.UUID, parent_id: uuid.UUID
) -> bool:
    """Whether `organization_id` is a child of `parent_id`."""
    found = await conn.scalar(
        select(organizations.c.id).where(
            organizations.c.id == organization_id,
            organizations.c.parent_organization_id == parent_id,
        )
    )
    return found is not None


async def update(
    conn: AsyncConnection,
    organization_id: uuid.UUID,
    *,
    name: str,
    settings: dict[str, Any],
    now: datetime,
) -> Row[Any]:
    """Write a new name and settings; returns the row."""
    return (
        await conn.execute(
            sa.update(organizations)
            .where(organizations.c.id == organization_id)
            .values(name=name, settings=settings, updated_at=now)
            .returning(*organizations.c)
        )
    ).one()


async def children_page(
    conn: AsyncConnection, parent_id: uuid.UUID, page: PageQuery
) -> list[Row[Any]]:
    """The parent's children, oldest first (one row more than the page)."""
    query: Select[Any] = select(
        organizations.c.id,
        organizations.c.name,
        organizations.c.industry,
        organizations.c.created_at,
    ).where(organizations.c.parent_organization_id == parent_id)
    # The (parent, created_at, id) index serves the keyset condition.
    query = page.apply(query, organizations.c.created_at, organizations.c.id, newest_first=False)
    return list((await conn.execute(query)).all())


async def active_grant_scopes(
    conn: AsyncConnection, parent_id: uuid.UUID, children: list[uuid.UUID], now: datetime
) -> dict[uuid.UUID, list[str]]:
    """The scopes of each child's unexpired grants to `parent_id`, sorted and unique."""
    scopes: dict[uuid.UUID, set[str]] = {child: set() for child in children}
    if children:
        rows = await conn.execute(
            select(org_grants.c.organization_id, org_grants.c.scopes).where(
                org_grants.c.organization_id.in_(children),
                org_grants.c.parent_organization_id == parent_id,
                org_grants.c.expires_at > now,
            )
        )
        for row in rows:
            scopes[row.organization_id].update(row.scopes)
    return {child: sorted(values) for child, values in scopes.items()}


async def insert_grant(
    conn: AsyncConnection,
    *,
    organization_id: uuid.UUID,
    parent_id: uuid.UUID,
    scopes: list[str],
    expires_at: datetime,
    now: datetime,
) -> Row[Any]:
    """Insert a grant row; returns it."""
    return (
        await conn.execute(
            sa.insert(org_grants)
            .values(
                id=uuid.uuid4(),
                organization_id=organization_id,
                parent_organization_id=parent_id,
                scopes=scopes,
                expires_at=expires_at,
                created_at=now,
            )
            .returning(*org_grants.c)
        )
    ).one()


async def insert_invite(
    conn: AsyncConnection,
    *,
    organization_id: uuid.UUID,
    token_hash: bytes,
    primary_admin_email: str | None,
    expires_at: datetime,
    now: datetime,
) -> None:
    """Store an invite (only the token's hash)."""
    await conn.execute(
        sa.insert(org_invites).values(
            id=uuid.uuid4(),
            organization_id=organization_id,
            token_hash=token_hash,
            primary_admin_email=primary_admin_email,
            expires_at=expires_at,
            created_at=now,
        )
    )


async def open_invite(conn: AsyncConnection, token_hash: bytes) -> Row[Any] | None:
    """Find an invite by its token hash; makes its organization the transaction's tenant."""
    return (await conn.execute(_OPEN_INVITE, {"hash": token_hash})).first()


async def invite_details(conn: AsyncConnection, invite_id: uuid.UUID) -> tuple[str, str | None]:
    """The invited organization's name and the invite's admin email (under its tenant)."""
    row = (
        await conn.execute(
            sa.select(organizations.c.name, org_invites.c.primary_admin_email)
            .join(organizations, organizations.c.id == org_invites.c.organization_id)
            .where(org_invites.c.id == invite_id)
        )
    ).one()
    return str(row.name), row.primary_admin_email


async def claim_invite(conn: AsyncConnection, invite_id: uuid.UUID, now: datetime) -> bool:
    """Mark an unexpired, unaccepted invite accepted; False when it no longer can be."""
    claimed = (
        await conn.execute(
            sa.update(org_invites)
            .where(
                org_invites.c.id == invite_id,
                org_invites.c.accepted_at.is_(None),
                org_invites.c.expires_at > now,
            )
            .values(accepted_at=now)
            .returning(org_invites.c.id)
        )
    ).first()
    return claimed is not None
