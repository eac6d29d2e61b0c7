"""Kept runtime-role connections: reuse, the limit and its wait, recycling, and what is never reused."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from eal.db.connections import DriverTransaction, KeptConnections, TransactionFailed, driver_of
from eal.db.engine import APP_ROLE, Database, create_engines
from tests.factories import Factory


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Engines:
    app: AsyncEngine
    system: AsyncEngine


@pytest.fixture
async def engine_pair(database_url: URL) -> AsyncIterator[Engines]:
    """A small pool of its own (two connections), so limits are reached quickly."""
    app, system = create_engines(database_url, pool_size=2, max_overflow=0)
    yield Engines(app, system)
    await app.dispose()
    await system.dispose()


def _kept(engines: Engines, **options: Any) -> KeptConnections:
    return KeptConnections(engines.app, limit=2, **options)


async def _backend(conn: AsyncConnection) -> int:
    pid: int = await driver_of(conn).fetchval("SELECT pg_backend_pid()")
    return pid


async def test_a_released_connection_is_the_next_one_taken(engine_pair: Engines) -> None:
    kept = _kept(engine_pair)
    first = await kept.acquire()
    pid = await _backend(first)
    await kept.release(first)
    assert (kept.leased, kept.idle) == (0, 1)
    again = await kept.acquire()
    assert again is first
    assert await _backend(again) == pid
    # Checked out of the pool once, in autocommit: SQLAlchemy sends no BEGIN of its own.
    assert await again.scalar(text("SELECT current_user")) == APP_ROLE
    assert not driver_of(again).is_in_transaction()
    await kept.release(again)
    await kept.close()


async def test_a_use_beyond_the_limit_waits_for_a_release(engine_pair: Engines) -> None:
    kept = _kept(engine_pair)
    a, b = await kept.acquire(), await kept.acquire()
    third = asyncio.create_task(kept.acquire())
    await asyncio.sleep(0)
    assert not third.done()
    await kept.release(b)
    assert await asyncio.wait_for(third, 5) is b
    await kept.release(a)
    await kept.release(b)
    await kept.close()


async def test_a_discarded_connection_frees_its_place_for_a_waiter(engine_pair: Engines) -> None:
    kept = _kept(engine_pair)
    a, b = await kept.acquire(), await kept.acquire()
    third = asyncio.create_task(kept.acquire())
    await asyncio.sleep(0)
    await kept.release(b, reuse=False)
    fresh = await asyncio.wait_for(third, 5)
    assert fresh is not b
    assert await fresh.scalar(text("SELECT 1")) == 1
    await kept.release(a)
    await kept.release(fresh)
    await kept.close()


async def test_a_use_that_waits_too_long_gets_the_pools_timeout(engine_pair: Engines) -> None:
    kept = _kept(engine_pair, wait_seconds=0.05)
    a, b = await kept.acquire(), await kept.acquire()
    with pytest.raises(PoolTimeout, match="2 runtime-role connections"):
        await kept.acquire()
    # A waiter that gave up leaves no trace: the next release serves the next use.
    await kept.release(a)
    assert await kept.acquire() is a
    await kept.release(a)
    await kept.release(b)
    await kept.close()


async def test_a_cancelled_waiter_passes_its_turn_on(engine_pair: Engines) -> None:
    kept = _kept(engine_pair)
    a, b = await kept.acquire(), await kept.acquire()
    gone = asyncio.create_task(kept.acquire())
    waiting = asyncio.create_task(kept.acquire())
    await asyncio.sleep(0)
    await kept.release(a)  # wakes `gone` first...
    gone.cancel()  # ...which leaves before it runs
    assert await asyncio.wait_for(waiting, 5) is a
    with pytest.raises(asyncio.CancelledError):
        await gone
    await kept.release(a)
    await kept.release(b)
    await kept.close()


async def test_an_old_connection_is_replaced_when_next_taken(engine_pair: Engines) -> None:
    clock = Clock()
    kept = _kept(engine_pair, recycle_seconds=60, monotonic=clock)
    old = await kept.acquire()
    await kept.release(old)
    clock.now += 61
    new = await kept.acquire()
    assert new is not old
    assert old.closed
    await kept.release(new)
    await kept.close()


async def test_a_connection_the_server_closed_is_not_handed_out(engine_pair: Engines) -> None:
    kept = _kept(engine_pair)
    conn = await kept.acquire()
    pid = await _backend(conn)
    await kept.release(conn)
    async with engine_pair.system.begin() as admin:
        await admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    for _ in range(100):  # the driver notices the closed socket on the loop's next turns
        if driver_of(conn).is_closed():
            break
        await asyncio.sleep(0.01)
    fresh = await kept.acquire()
    assert fresh is not conn
    assert await _backend(fresh) != pid
    await kept.release(fresh)
    await kept.close()


async def test_a_connection_left_in_a_transaction_is_never_reused(engine_pair: Engines) -> None:
    kept = _kept(engine_pair)
    conn = await kept.acquire()
    await DriverTransaction.begin(conn)
    await kept.release(conn)
    assert kept.idle == 0
    assert conn.invalidated or conn.closed
    await kept.close()


async def test_statements_through_sqlalchemy_run_inside_the_driver_transaction(
    db: Database, factory: Factory
) -> None:
    tenant = await factory.tenant("Kept Rollback")
    with pytest.raises(RuntimeError, match="undo"):
        async with db.tenant_transaction(tenant.id) as conn:
            await conn.execute(
                text("UPDATE organizations SET name = 'Renamed' WHERE id = :id"), {"id": tenant.id}
            )
            raise RuntimeError("undo")
    async with db.tenant_transaction(tenant.id) as conn:
        name = await conn.scalar(
            text("SELECT name FROM organizations WHERE id = :id"), {"id": tenant.id}
        )
    assert name == "Kept Rollback"


async def test_committing_a_failed_transaction_raises(db: Database, factory: Factory) -> None:
    tenant = await factory.tenant("Kept Failed")
    with pytest.raises(TransactionFailed, match="ROLLBACK"):
        async with db.tenant_transaction(tenant.id) as conn:
            with pytest.raises(DBAPIError):
                await conn.execute(text("SELECT 1 / 0"))
            # The error was swallowed: the server rolls the COMMIT back, and says so.
    async with db.runtime_transaction() as conn:
        assert await conn.scalar(text("SELECT 1")) == 1


async def test_a_closed_set_refuses_new_uses(engine_pair: Engines) -> None:
    kept = _kept(engine_pair)
    conn = await kept.acquire()
    await kept.release(conn)
    await kept.close()
    assert conn.closed
    with pytest.raises(RuntimeError, match="closed"):
        await kept.acquire()


async def test_a_connection_not_taken_here_cannot_be_handed_back(engine_pair: Engines) -> None:
    kept = _kept(engine_pair)
    async with engine_pair.app.connect() as conn:
        with pytest.raises(RuntimeError, match="not acquired here"):
            await kept.release(conn)
    await kept.close()


async def test_runtime_transactions_run_as_the_runtime_role_with_no_tenant(db: Database) -> None:
    async with db.runtime_transaction() as conn:
        assert await conn.scalar(text("SELECT current_user")) == APP_ROLE
        assert await conn.scalar(text("SELECT current_setting('app.organization_id', true)")) in (
            None,
            "",
        )
        assert await conn.scalar(text("SELECT count(*) FROM organizations")) == 0
