"""First start: create a first organization and its admin key when the database is empty."""

from __future__ import annotations

import uuid

from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.engine import URL

from eal.apikeys.schemas import ApiKeyCreated
from eal.auth.scopes import Scope
from eal.db.engine import Database
from eal.db.locks import LockId
from eal.db.tx import Tx
from eal.kit.identity import Actor, Environment, Source
from eal.organizations.schemas import OrganizationOut

FIRST_ORGANIZATION_NAME = "My Restoration Company"


class FirstOrganization(BaseModel):
    """What the first start created: the organization and its admin key (secret included)."""

    organization: OrganizationOut
    api_key: ApiKeyCreated


async def bootstrap_first_organization(url: URL) -> FirstOrganization | None:
    """Create the first organization + admin key if there is none; None otherwise."""
    from eal.apikeys.service import create_api_key
    from eal.organizations import repository
    from eal.organizations.service import insert_organization

    db = Database.connect(url, pool_size=1, max_overflow=0)
    try:
        async with db.system_transaction() as conn:
            await conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": LockId.BOOTSTRAP})
            if await repository.any_exists(conn):
                return None
            tx = Tx(
                conn,
                actor=Actor(
                    organization_id=uuid.uuid4(), source=Source.SYSTEM, correlation_id="bootstrap"
                ),
            )
            org = await insert_organization(tx, name=FIRST_ORGANIZATION_NAME)
            tx.bind(
                Actor(organization_id=org.id, source=Source.SYSTEM, correlation_id="bootstrap"),
                config_revision=None,
            )
            key = await create_api_key(
                tx,
                organization_id=org.id,
                scopes=[Scope.ADMIN],
                environment=Environment.LIVE,
                name="First admin key",
            )
            return FirstOrganization(organization=org, api_key=key)
    finally:
        await db.dispose()
