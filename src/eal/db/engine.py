"""Engines and connections.

Two engines share one server:
- the *app* engine, whose every connection runs as the NOLOGIN role `eal_app`
  (set at connection start-up), owns no table and cannot bypass row-level
  security: all request and tenant work goes through it;
- the *system* engine runs as the configured user for cross-tenant work that
  has no tenant yet (the CLI, the worker's queue claims, audit verification,
  retention). That user must own the schema (superuser or BYPASSRLS).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

APP_ROLE = "eal_app"

_SET_TENANT = text("SELECT set_config('app.organization_id', :org, true)")


def create_engines(
    url: URL, *, pool_size: int = 10, max_overflow: int = 10
) -> tuple[AsyncEngine, AsyncEngine]:
    """Build the (app, system) engine pair for one database URL."""
    app = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        # No pre-ping round trip per request: _drop_closed_connections (below)
        # replaces connections the server has closed without asking it.
        pool_recycle=1800,
        connect_args={"server_settings": {"role": APP_ROLE, "application_name": "eal"}},
    )
    system = create_async_engine(
        url,
        pool_size=2,
        max_overflow=8,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={"server_settings": {"application_name": "eal-system"}},
    )
    event.listen(app.sync_engine, "checkout", _drop_closed_connections)
    return app, system


def _drop_closed_connections(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """Hand out no connection the server has already closed.

    asyncpg notices a terminated backend or restarted server as soon as the
    socket closes, so checking its flag catches what a ping would, for free.
    DisconnectionError makes the pool discard it and open a fresh one.
    """
    driver = getattr(dbapi_connection, "driver_connection", None)
    if driver is None or driver.is_closed():
        raise DisconnectionError("connection closed by the server")


async def set_tenant(conn: AsyncConnection, organization_id: uuid.UUID | str | None) -> None:
    """Make `organization_id` the tenant of the current transaction (RLS context)."""
    await conn.execute(
        _SET_TENANT, {"org": "" if organization_id is None else str(organization_id)}
    )


@dataclass
class Database:
    """The process's database handles."""

    url: URL
    app: AsyncEngine
    system: AsyncEngine

    @classmethod
    def connect(cls, url: URL, *, pool_size: int = 10, max_overflow: int = 10) -> Database:
        """Create the engines (connections open lazily)."""
        app, system = create_engines(url, pool_size=pool_size, max_overflow=max_overflow)
        return cls(url=url, app=app, system=system)

    @asynccontextmanager
    async def tenant_transaction(
        self, organization_id: uuid.UUID | str
    ) -> AsyncIterator[AsyncConnection]:
        """A runtime-role transaction scoped to one tenant; commits on success."""
        async with self.app.begin() as conn:
            await set_tenant(conn, organization_id)
            yield conn

    @asynccontextmanager
    async def system_transaction(self) -> AsyncIterator[AsyncConnection]:
        """A transaction as the schema owner (cross-tenant); commits on success."""
        async with self.system.begin() as conn:
            yield conn

    @asynccontextmanager
    async def snapshot_transaction(self) -> AsyncIterator[AsyncConnection]:
        """A read-only schema-owner transaction that sees one snapshot throughout.

        For long reads that must be consistent across statements (audit
        verification) while writers keep committing.
        """
        async with self.system.connect() as raw:
            conn = await raw.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
            async with conn.begin():
                yield conn

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.app.dispose()
        await self.system.dispose()
