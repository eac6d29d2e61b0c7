"""Creating organizations and API keys for tests, through the real services."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from eal.auth.context import Actor
from eal.auth.scopes import Environment, Scope
from eal.auth.service import create_api_key
from eal.db.engine import Database, set_tenant
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
            if parent is not None:
                await set_tenant(conn, parent)
            actor = Actor(organization_id=parent or uuid.uuid4(), source="system")
            return await insert_organization(conn, actor, name=name, parent_id=parent)

    async def key(
        self,
        organization_id: uuid.UUID,
        scopes: str = "admin",
        environment: str = "live",
    ) -> dict[str, Any]:
        async with self.db.system_transaction() as conn:
            await set_tenant(conn, organization_id)
            return await create_api_key(
                conn,
                Actor(organization_id=organization_id, source="system"),
                organization_id=organization_id,
                scopes=[Scope(s) for s in scopes.split(",")],
                environment=Environment(environment),
            )

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
