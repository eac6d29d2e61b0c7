"""Creating organizations and API keys for tests, through the real services."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from eal.apikeys.service import create_api_key
from eal.auth.scopes import Scope
from eal.db.engine import Database
from eal.db.tx import Tx
from eal.kit.identity import Actor, Environment, Source
from eal.organizations.service import insert_organization


@dataclass
class Tenant:
    """An organization with an API key, ready to call the API."""

    id: uuid.UUID
    key: str
    key_id: uuid.UUID
    org: dict[str, Any]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


class Factory:
    """Builds tenants through the same services the CLI uses."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def org(
        self, name: str = "Test Restoration", *, parent: uuid.UUID | None = None
    ) -> dict[str, Any]:
        async with self.db.system_transaction() as conn:
            tx = Tx(conn, actor=Actor(organization_id=parent or uuid.uuid4(), source=Source.SYSTEM))
            if parent is not None:
                await tx.set_tenant(parent)
            org = await insert_organization(tx, name=name, parent_id=parent)
            return org.model_dump()

    async def key(
        self,
        organization_id: uuid.UUID,
        scopes: str = "admin",
        environment: str = "live",
    ) -> dict[str, Any]:
        async with self.db.system_transaction() as conn:
            tx = Tx(conn, actor=Actor(organization_id=organization_id, source=Source.SYSTEM))
            await tx.set_tenant(organization_id)
            key = await create_api_key(
                tx,
                organization_id=organization_id,
                scopes=[Scope(s) for s in scopes.split(",")],
                environment=Environment(environment),
            )
            return key.model_dump()

    async def tenant(
        self,
        name: str = "Test Restoration",
        *,
        scopes: str = "admin",
        environment: str = "live",
        parent: uuid.UUID | None = None,
    ) -> Tenant:
        org = await self.org(name, parent=parent)
        key = await self.key(org["id"], scopes, environment)
        return Tenant(id=org["id"], key=key["key"], key_id=key["id"], org=org)
