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

import contextlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from eal.db.connections import DriverTransaction, KeptConnections

APP_ROLE = "eal_app"

_SET_TENANT = text("SELECT set_config('app.organization_id', :org, true)")
_NOTHING = text("SELECT 1")


def create_engines(
    url: URL, *, pool_size: int = 10, max_overflow: int = 10
) -> tuple[AsyncEngine, AsyncEngine]:
    """Build the (app, system) engine pair for one database URL."""
    app = create_async_engine(
        url,
        # Connections opened for a burst are kept, not closed on return: the
        # pool closes overflow connections as soon as they are idle, so a
        # steady load just above pool_size paid a new connection (TCP, startup,
        # codec set-up) every few dozen requests. The ceiling is unchanged, and
        # connections are still opened only when needed.
        pool_size=pool_size + max_overflow,
        max_overflow=0,
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


async def driver_connection(conn: AsyncConnection) -> Any:
    """The asyncpg connection under `conn`, with `conn`'s transaction open on the server.

    Hot paths run their statements on it directly: SQLAlchemy's work around
    each statement (compiled-cache lookup, execution context, result wrapping,
    a greenlet switch) costs more CPU than a simple statement itself.
    The transaction stays its owner's (SQLAlchemy's, or the `DriverTransaction`
    of a kept runtime-role connection), so those statements commit or roll
    back with everything else `conn` does. asyncpg errors surface unwrapped.
    """
    sync = conn.sync_connection
    if sync is not None and not sync.closed and not sync.invalidated:
        # Checked out and live: the pooled connection is at hand without I/O,
        # so no greenlet hop (get_raw_connection costs ~40 us per call).
        raw = sync.connection
    else:
        raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    if not driver.is_in_transaction():
        # SQLAlchemy sends BEGIN with a transaction's first statement; without
        # it, statements run on the driver would each autocommit. When the
        # transaction was begun (conn.begin()) but nothing ran yet, the
        # adapter is asked to send its BEGIN now: the round trip SQLAlchemy
        # would make anyway, and the transaction stays SQLAlchemy's to end.
        start = getattr(raw.dbapi_connection, "_start_transaction", None)
        if conn.in_transaction() and start is not None:
            # A failure is left to the statement below, so that SQLAlchemy
            # classifies it (a lost connection is invalidated and reported so).
            with contextlib.suppress(Exception):
                await start()
        if not driver.is_in_transaction():
            # A statement through SQLAlchemy begins the transaction.
            await conn.execute(_NOTHING)
        if not driver.is_in_transaction():
            raise RuntimeError("no transaction is open on this connection")
    return driver


@dataclass
class Database:
    """The process's database handles."""

    url: URL
    app: AsyncEngine
    system: AsyncEngine
    connections: KeptConnections
    """The app engine's connections: every runtime-role use takes one from here."""

    @classmethod
    def connect(cls, url: URL, *, pool_size: int = 10, max_overflow: int = 10) -> Database:
        """Create the engines (connections open lazily)."""
        app, system = create_engines(url, pool_size=pool_size, max_overflow=max_overflow)
        kept = KeptConnections(app, limit=pool_size + max_overflow)
        return cls(url=url, app=app, system=system, connections=kept)

    async def begin_runtime(self) -> tuple[AsyncConnection, DriverTransaction]:
        """A runtime-role connection with its transaction begun; `end_runtime` hands it back.

        BEGIN is where nothing has happened yet. A kept connection that fails it
        (the server dropped it without the driver noticing, or the driver's
        protocol broke with a server that went away) is discarded with the other
        idle ones, which are likely broken alike, and a fresh connection is
        tried, once.
        """
        for attempt in (1, 2):
            conn = await self.connections.acquire()
            try:
                return conn, await DriverTransaction.begin(conn)
            except Exception:
                await self.connections.release(conn, reuse=False)
                if attempt == 2:
                    raise
                await self.connections.discard_idle()
            except BaseException:
                await self.connections.release(conn, reuse=False)
                raise
        raise AssertionError("unreachable")

    async def end_runtime(
        self, conn: AsyncConnection, transaction: DriverTransaction, *, commit: bool
    ) -> None:
        """Commit (or roll back) what `begin_runtime` began and hand the connection back.

        A connection whose COMMIT or ROLLBACK failed is not reused.
        """
        reuse = False
        try:
            if transaction.active and commit:
                await transaction.commit()
            elif transaction.active:
                try:
                    await transaction.rollback()
                except Exception:
                    return  # not reused; the error that led here is the one to see
            reuse = True
        finally:
            await self.connections.release(conn, reuse=reuse)

    @asynccontextmanager
    async def runtime_transaction(self) -> AsyncIterator[AsyncConnection]:
        """A runtime-role transaction (no tenant set yet); commits on success."""
        conn, transaction = await self.begin_runtime()
        try:
            yield conn
        except BaseException:
            await self.end_runtime(conn, transaction, commit=False)
            raise
        await self.end_runtime(conn, transaction, commit=True)

    @asynccontextmanager
    async def tenant_transaction(
        self, organization_id: uuid.UUID | str
    ) -> AsyncIterator[AsyncConnection]:
        """A runtime-role transaction scoped to one tenant; commits on success."""
        async with self.runtime_transaction() as conn:
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

    def driver_dsn(self) -> str:
        """A plain asyncpg DSN for this database, for connections kept outside the pools
        (LISTEN, the job queue), as the configured user."""
        return self.url.set(drivername="postgresql").render_as_string(hide_password=False)

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.connections.close()
        await self.app.dispose()
        await self.system.dispose()
