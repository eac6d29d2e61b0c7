"""First start: create a first organization and its admin key when the database is empty."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.engine import URL

from eal.auth.context import Actor
from eal.auth.scopes import Environment, Scope
from eal.db.engine import Database

FIRST_ORGANIZATION_NAME = "My Restoration Company"
_LOCK_ID = 7_402_113_002


async def bootstrap_first_organization(url: URL) -> dict[str, Any] | None:
    """Create the first organization + admin key if there is none; None otherwise."""
    from eal.auth.service import create_api_key
    from eal.organizations.models import organizations
    from eal.organizations.service import insert_organization

    db = Database.connect(url, pool_size=1, max_overflow=0)
    try:
        async with db.system_transaction() as conn:
            await conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _LOCK_ID})
            if await conn.scalar(select(organizations.c.id).limit(1)) is not None:
                return None
            actor = Actor(organization_id=uuid.uuid4(), source="system", correlation_id="bootstrap")
            org = await insert_organization(conn, actor, name=FIRST_ORGANIZATION_NAME)
            key = await create_api_key(
                conn,
                Actor(organization_id=org["id"], source="system", correlation_id="bootstrap"),
                organization_id=org["id"],
                scopes=[Scope.ADMIN],
                environment=Environment.LIVE,
                name="First admin key",
            )
            return {"organization": org, "api_key": key}
    finally:
        await db.dispose()
