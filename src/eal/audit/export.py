"""The audit log as CSV, rendered by PostgreSQL.

`COPY (SELECT ...) TO STDOUT (FORMAT csv, HEADER)` writes every cell in the
database: Python only moves the driver's chunks to the client, through a
small queue, so memory stays flat and a slow client slows the COPY down
(the queue fills, asyncpg stops reading, PostgreSQL waits on its socket).

The export runs on a connection of its own, as the runtime role with the
tenant set, so row-level security applies to the COPY's query as to any
other. Its rows are those of the list endpoint (same filters), oldest first,
after a header row; every row ends with a line break, the last one too.

A cell that a spreadsheet would read as a formula (one starting with `=`,
`+`, `-`, `@`, tab or carriage return) is prefixed with a single quote, as
OWASP advises against CSV injection; the other cells (ids, timestamps, the
fixed `source` vocabulary) cannot start that way.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from sqlalchemy import literal_column
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from eal.audit.models import platform_events
from eal.audit.service import AuditFilters, filtered_entries
from eal.db.connections import DriverTransaction, driver_of
from eal.db.engine import Database, set_tenant

#: Bytes of CSV gathered into one chunk for the client. asyncpg hands the
#: COPY over as it reads it, some 9 KiB at a time; relaying it piece by piece
#: cost the server and the client together nearly as much CPU as PostgreSQL
#: spent on the COPY, and about half as much once gathered.
CHUNK_BYTES = 128 * 1024
#: Chunks held between the database and the client: with CHUNK_BYTES, this
#: bounds what the export holds (half a MiB) whatever its size.
QUEUE_CHUNKS = 4

_TABLE = platform_events.name

#: What a spreadsheet takes for the start of a formula (OWASP, CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: Their code points, as `ascii()` gives a text's first one: an integer test
#: per cell costs a fraction of comparing its first character as text.
_FORMULA_CODES = ", ".join(str(ord(c)) for c in FORMULA_STARTS)


def _neutralised(expr: str) -> str:
    """SQL for the text `expr`, quote-prefixed when it starts like a formula (NULL stays NULL)."""
    return f"CASE WHEN ascii({expr}) IN ({_FORMULA_CODES}) THEN '''' || {expr} ELSE {expr} END"


_CELLS = {
    "id": f"{_TABLE}.id",
    "organization_id": f"{_TABLE}.organization_id",
    # As the API renders timestamps (kit.clock.isoformat): UTC, milliseconds
    # truncated, a `Z`.
    "created_at": (
        f"to_char({_TABLE}.created_at AT TIME ZONE 'UTC', "
        """'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')"""
    ),
    "action": _neutralised(f"{_TABLE}.action"),
    "source": f"{_TABLE}.source",
    # NULL is written as an empty, unquoted cell.
    "correlation_id": _neutralised(f"{_TABLE}.correlation_id"),
    # jsonb's own text, the one the audit hash chain covers: exact numbers,
    # keys in jsonb's order, a space after each `:` and `,`. Only a bare
    # negative number could start like a formula, so objects skip the check.
    "payload": (
        f"CASE jsonb_typeof({_TABLE}.payload) WHEN 'object' THEN {_TABLE}.payload::text "
        f"ELSE {_neutralised(f'{_TABLE}.payload::text')} END"
    ),
}
#: The header row: the cells' names, in column order.
CSV_COLUMNS = tuple(_CELLS)


def export_query(
    dialect: Dialect, organization_id: uuid.UUID, filters: AuditFilters
) -> tuple[str, list[Any]]:
    """The SELECT the COPY runs (placeholders `$1`...) and its arguments.

    The rows are the list endpoint's (`service.filtered_entries`), oldest
    first. COPY takes no parameters: asyncpg inlines them, quoted by the
    server (`quote_literal`), before it sends the COPY.
    """
    compiled = (
        filtered_entries(organization_id, filters)
        .with_only_columns(*(literal_column(sql).label(name) for name, sql in _CELLS.items()))
        .select_from(platform_events)
        .order_by(platform_events.c.created_at, platform_events.c.id)
        .compile(dialect=dialect)
    )
    params = compiled.construct_params()
    return str(compiled), [params[name] for name in compiled.positiontup or ()]


class ExportFailed(Exception):
    """The COPY stopped before its end: what was sent is not the whole export."""


@dataclass(frozen=True)
class _Done:
    status: str


@dataclass(frozen=True)
class _Failed:
    error: BaseException


_Item = bytes | _Done | _Failed


async def _copy(driver: Any, sql: str, args: list[Any], queue: asyncio.Queue[_Item]) -> None:
    """Run the COPY into `queue`; its last item says how it ended.

    The first piece (the header row and what came with it) is passed on as
    soon as it arrives, so the response starts without waiting for rows;
    the rest in chunks of CHUNK_BYTES. Waiting on a full queue holds asyncpg's
    read of the COPY, and so PostgreSQL's writing of it: a slow client slows
    the COPY down.
    """
    pending = bytearray()
    started = False

    async def gather(data: bytes) -> None:
        nonlocal started
        pending.extend(data)
        if len(pending) >= CHUNK_BYTES or not started:
            started = True
            await queue.put(bytes(pending))
            pending.clear()

    try:
        status = await driver.copy_from_query(sql, *args, output=gather, format="csv", header=True)
    except Exception as exc:
        # Rows still gathered are dropped: the transfer is cut off either way.
        await queue.put(_Failed(exc))
        return
    if pending:
        await queue.put(bytes(pending))
    await queue.put(_Done(str(status)))


class AuditExport:
    """One CSV export in flight: its connection, the COPY task and the chunks between them.

    `start` does everything that can fail before the first byte (connection,
    tenant, the query's planning and start); `chunks` yields the CSV and
    raises `ExportFailed` if the COPY breaks off; `aclose` must follow either
    way.
    """

    def __init__(
        self,
        db: Database,
        conn: AsyncConnection,
        transaction: DriverTransaction,
        task: asyncio.Task[None],
        queue: asyncio.Queue[_Item],
    ) -> None:
        self._db = db
        self._conn = conn
        self._transaction = transaction
        self._task = task
        self._queue = queue
        self._first: _Item | None = None
        self.completed = False
        """Whether the COPY ended with its status (every row was handed out)."""
        self.bytes_sent = 0
        """Bytes of CSV handed out so far."""
        self.status: str | None = None
        """The COPY's status line (`COPY <rows>`) once it completed."""

    @classmethod
    async def start(
        cls, db: Database, organization_id: uuid.UUID, filters: AuditFilters
    ) -> AuditExport:
        """Open the export and wait for its first piece (the header row, at least).

        Raises whatever stopped it before any row was produced (the database
        is unreachable, the query failed); nothing is left open then.
        """
        sql, args = export_query(db.app.dialect, organization_id, filters)
        conn, transaction = await db.begin_runtime()
        try:
            await set_tenant(conn, organization_id)
        except BaseException:
            await db.end_runtime(conn, transaction, commit=False)
            raise
        queue: asyncio.Queue[_Item] = asyncio.Queue(maxsize=QUEUE_CHUNKS)
        task = asyncio.create_task(
            _copy(driver_of(conn), sql, args, queue), name="audit-export-copy"
        )
        export = cls(db, conn, transaction, task, queue)
        try:
            first = await queue.get()
            if isinstance(first, _Failed):
                raise first.error
        except BaseException:
            await export.aclose()
            raise
        export._first = first
        return export

    async def chunks(self) -> AsyncIterator[bytes]:
        """The CSV, chunk by chunk, from the header to the last row's line break."""
        item = self._first
        self._first = None
        while item is not None:
            if isinstance(item, _Failed):
                raise ExportFailed(f"{type(item.error).__name__}: {item.error}") from item.error
            if isinstance(item, _Done):
                self.status = item.status
                self.completed = True
                return
            self.bytes_sent += len(item)
            yield item
            item = await self._queue.get()

    async def aclose(self) -> None:
        """Stop the COPY if it still runs and end the transaction.

        A connection whose COPY did not complete (it failed, or the client
        went away) is closed rather than returned to the pool: its protocol
        state is not worth trusting.
        """
        try:
            if not self._task.done():
                self._task.cancel()
                try:
                    await self._task
                except asyncio.CancelledError:
                    current = asyncio.current_task()
                    if current is not None and current.cancelling():
                        raise
        finally:
            await self._end_transaction()

    async def _end_transaction(self) -> None:
        if self.completed:
            # Every row was sent: a failed COMMIT only means the connection is not reused.
            with suppress(Exception):
                await self._db.end_runtime(self._conn, self._transaction, commit=True)
            return
        await self._db.connections.release(self._conn, reuse=False)
