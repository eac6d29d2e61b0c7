"""The job queue's tables come from our migrations and match what the installed PgQueuer expects."""

from __future__ import annotations

import asyncpg
import pytest
from pgqueuer.adapters.drivers.asyncpg import AsyncpgDriver
from pgqueuer.adapters.persistence.queries import Queries
from pgqueuer.core.qm import QueueManager

from eal.db.connections import driver_of
from eal.db.engine import Database


async def test_pgqueuer_finds_nothing_to_install_or_upgrade(db: Database) -> None:
    connection = await asyncpg.connect(db.driver_dsn())
    try:
        queries = Queries(AsyncpgDriver(connection))
        plan = await queries.plan_upgrade()
        assert list(plan.statements) == [], (
            "the installed PgQueuer wants schema changes: add a migration with them"
        )
        await QueueManager(queries).verify_structure()
    finally:
        await connection.close()


async def test_the_runtime_role_may_enqueue_but_not_read_payloads(db: Database) -> None:
    conn = await db.connections.acquire()
    try:
        driver = driver_of(conn)
        assert driver is not None
        transaction = driver.transaction()
        await transaction.start()
        try:
            queries = Queries(AsyncpgDriver(driver))
            (job_id,) = await queries.enqueue("tests.grants", b"{}", on_conflict="skip")
            assert job_id is not None
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                async with driver.transaction():  # a savepoint: the refusal stays inside it
                    await driver.fetch("SELECT payload FROM pgqueuer")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                async with driver.transaction():
                    await driver.execute("DELETE FROM pgqueuer")
        finally:
            await transaction.rollback()  # the probe job is never kept
    finally:
        await db.connections.release(conn)
