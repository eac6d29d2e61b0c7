"""Runtime-role connections kept checked out between uses, their transactions run on the driver.

Why: taking a connection out of SQLAlchemy's pool and putting it back (the
AsyncConnection, the pool's bookkeeping and reset, a greenlet hop on close)
cost about 75 us of CPU per use, and SQLAlchemy's BEGIN and COMMIT about 30 us
more than the driver's own. On the lead-create path that was 0.18 of 1.5 ms of
the server's CPU per request (`bench/leads_bench.py` create load, A/B: throughput +12%).
So each app-engine connection is checked out of the pool once, switched to
autocommit (SQLAlchemy then never sends BEGIN or COMMIT itself), and kept: a
use takes an idle one, runs BEGIN ... COMMIT on the driver (`DriverTransaction`)
and hands it back. Statements through SQLAlchemy still run on it, inside that
transaction.

Every runtime-role use goes through here (requests, job and CLI tenant
transactions, the audit export), so no one waits on the pool for a connection
that sits idle in this one. The limit, the wait and its timeout, the
recycling age and the check for a connection the server closed are the pool's
own, applied here.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

#: How long a use waits for a connection when all of them are in use (the pool's default).
WAIT_SECONDS = 30.0
#: A kept connection older than this is replaced when next taken (the engine's pool_recycle).
RECYCLE_SECONDS = 1800.0


def driver_of(conn: AsyncConnection) -> Any:
    """The asyncpg connection under a kept connection (no I/O)."""
    sync = conn.sync_connection
    if sync is None:
        raise RuntimeError("the connection is closed")
    return sync.connection.driver_connection


@dataclass(eq=False)
class _Kept:
    conn: AsyncConnection
    opened_at: float


class KeptConnections:
    """The app engine's connections, each checked out once and reused (see the module)."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        limit: int,
        wait_seconds: float = WAIT_SECONDS,
        recycle_seconds: float = RECYCLE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._limit = limit
        self._wait_seconds = wait_seconds
        self._recycle_seconds = recycle_seconds
        self._monotonic = monotonic
        # Most recently used last: it is taken first, warm in every cache.
        self._idle: list[_Kept] = []
        self._leased: dict[int, _Kept] = {}
        self._open = 0
        """Connections leased, idle or being opened: never more than the limit."""
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._closed = False

    @property
    def leased(self) -> int:
        """Connections in use right now."""
        return len(self._leased)

    @property
    def idle(self) -> int:
        """Open connections waiting for their next use."""
        return len(self._idle)

    async def acquire(self) -> AsyncConnection:
        """A connection with no transaction open; hand it back with `release`.

        Waits while the limit's worth are in use; after `wait_seconds` raises
        SQLAlchemy's pool TimeoutError, as the pool itself would.
        """
        deadline = self._monotonic() + self._wait_seconds
        while True:
            if self._closed:
                raise RuntimeError("the database handles are closed")
            while self._idle:
                kept = self._idle.pop()
                usable = _usable(kept.conn)
                if usable and not self._aged(kept):
                    self._leased[id(kept.conn)] = kept
                    return kept.conn
                await self._close(kept, discard=not usable)
            if self._open < self._limit:
                self._open += 1
                try:
                    kept = await self._connect()
                except BaseException:
                    self._open -= 1
                    self._wake()
                    raise
                self._leased[id(kept.conn)] = kept
                return kept.conn
            await self._wait(deadline)

    async def release(self, conn: AsyncConnection, *, reuse: bool = True) -> None:
        """Hand back a connection from `acquire`; its transaction must have ended.

        It is kept for the next use unless `reuse` is False, or it is closed,
        invalidated or still inside a transaction: such a one is discarded.
        """
        kept = self._leased.pop(id(conn), None)
        if kept is None:
            raise RuntimeError("this connection was not acquired here")
        try:
            if reuse and not self._closed and _usable(conn):
                if conn.in_transaction():
                    # SQLAlchemy's own record of a transaction begun by a statement
                    # through it (autocommit: nothing is sent to the server).
                    try:
                        await conn.rollback()
                    except BaseException:
                        await self._close(kept, discard=True)
                        raise
                self._idle.append(kept)
                return
            await self._close(kept, discard=True)
        finally:
            self._wake()

    async def discard_idle(self) -> None:
        """Close every idle connection: the server was found to have dropped one of them."""
        while self._idle:
            await self._close(self._idle.pop(), discard=True)
        self._wake()

    async def close(self) -> None:
        """Close the idle connections and refuse new uses (leased ones close on release)."""
        self._closed = True
        while self._idle:
            await self._close(self._idle.pop(), discard=False)
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def _connect(self) -> _Kept:
        conn = await self._engine.connect()
        try:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        except BaseException:
            await conn.close()
            raise
        return _Kept(conn, self._monotonic())

    def _aged(self, kept: _Kept) -> bool:
        return self._monotonic() - kept.opened_at > self._recycle_seconds

    async def _close(self, kept: _Kept, *, discard: bool) -> None:
        """Return a connection to the engine's pool, or (discard) close it for good."""
        self._open -= 1
        with suppress(Exception):
            if discard:
                await kept.conn.invalidate()
            await kept.conn.close()

    async def _wait(self, deadline: float) -> None:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            remaining = deadline - self._monotonic()
            if remaining <= 0:
                raise TimeoutError
            # Not wait_for: in Python 3.11 it swallows a cancellation that
            # arrives just after the waiter was woken.
            async with asyncio.timeout(remaining):
                await waiter
        except TimeoutError:
            raise PoolTimeout(
                f"all {self._limit} runtime-role connections stayed in use for "
                f"{self._wait_seconds:.0f} s"
            ) from None
        finally:
            with suppress(ValueError):
                self._waiters.remove(waiter)
            if waiter.done() and not waiter.cancelled():
                # Woken but leaving (timed out or cancelled meanwhile): pass it on.
                self._wake()

    def _wake(self) -> None:
        """Let the longest waiting use try again (a connection or a slot came free)."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return


def _usable(conn: AsyncConnection) -> bool:
    if conn.closed or conn.invalidated:
        return False
    driver = driver_of(conn)
    return not driver.is_closed() and not driver.is_in_transaction()


class TransactionFailed(Exception):
    """COMMIT of a transaction in which a statement failed: the server rolled it back."""


class DriverTransaction:
    """A transaction on a kept connection, begun, committed and rolled back on the driver."""

    __slots__ = ("_driver", "active")

    def __init__(self, driver: Any) -> None:
        self._driver = driver
        self.active = True

    @classmethod
    async def begin(cls, conn: AsyncConnection) -> DriverTransaction:
        """Send BEGIN on `conn` (a connection from `KeptConnections.acquire`)."""
        driver = driver_of(conn)
        await driver.execute("BEGIN")
        return cls(driver)

    async def commit(self) -> None:
        """COMMIT; raises if the server rolled back instead (a statement had failed)."""
        self.active = False
        status = await self._driver.execute("COMMIT")
        if status != "COMMIT":
            raise TransactionFailed(f"the transaction had failed: COMMIT answered {status}")

    async def rollback(self) -> None:
        """ROLLBACK; on a connection that is gone there is nothing to roll back."""
        self.active = False
        if not self._driver.is_closed():
            await self._driver.execute("ROLLBACK")
