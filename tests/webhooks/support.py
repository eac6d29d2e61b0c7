"""Helpers for the webhook tests: a real local HTTP receiver, workers, events, reads."""

from __future__ import annotations

import asyncio
import inspect
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import standardwebhooks
from sqlalchemy import text

from eal.config import Settings
from eal.db.engine import Database
from eal.kit.secretbox import SecretBox
from eal.webhooks.worker import DeliveryWorker
from tests.factories import Tenant
from tests.support import assert_error, record_event

__all__ = ["assert_error", "record_event"]

WEBHOOKS = "/api/v1/webhooks"


@dataclass(frozen=True)
class Received:
    """One request as the receiver saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def delivery_id(self) -> str:
        return self.headers["x-eal-delivery"]


Reply = int | tuple[int, bytes]
Respond = Callable[[Received, int], Reply | Awaitable[Reply]]

_REASONS = {200: "OK", 204: "No Content", 410: "Gone", 500: "Internal Server Error"}


class Receiver:
    """A minimal HTTP/1.1 server (keep-alive) on 127.0.0.1 that records every request.

    `respond(request, index)` decides the status (and optional body) of the
    `index`-th request (0-based); it may be async, e.g. to answer slowly.
    """

    def __init__(self, respond: Respond | None = None) -> None:
        self.respond: Respond = respond or (lambda _r, _i: 200)
        self.received: list[Received] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[Any]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def start(self) -> Receiver:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    async def __aenter__(self) -> Receiver:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _version = lines[0].split(" ", 2)
                headers: dict[str, str] = {}
                for line in lines[1:]:
                    if line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                request = Received(method, path, headers, body, time.time())
                index = len(self.received)
                self.received.append(request)
                reply = self.respond(request, index)
                if inspect.isawaitable(reply):
                    reply = await reply
                status, payload = reply if isinstance(reply, tuple) else (reply, b"")
                writer.write(
                    f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}\r\n"
                    f"Content-Length: {len(payload)}\r\n\r\n".encode("latin-1")
                    + payload
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._handlers.discard(task)
            writer.close()

    async def wait_for(self, count: int, within: float = 10.0) -> list[Received]:
        """Wait until at least `count` requests arrived; returns them all."""
        await wait_until(lambda: len(self.received) >= count, within, f"{count} requests")
        return list(self.received)


async def wait_until(
    predicate: Callable[[], bool], within: float = 10.0, what: str = "condition"
) -> None:
    """Poll `predicate` until it holds, failing the test after `within` seconds."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(0.01)


async def wait_for_rows(
    db: Database,
    sql: str,
    params: dict[str, Any],
    predicate: Callable[[list[Any]], bool],
    within: float = 10.0,
) -> list[Any]:
    """Poll a query (as the schema owner) until `predicate(rows)` holds."""
    deadline = time.monotonic() + within
    while True:
        async with db.system_transaction() as conn:
            rows = list((await conn.execute(text(sql), params)).all())
        if predicate(rows):
            return rows
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s; last rows: {rows}")
        await asyncio.sleep(0.02)


@asynccontextmanager
async def running_worker(
    settings: Settings,
    db: Database,
    *,
    kind: type[DeliveryWorker] = DeliveryWorker,
    **options: Any,
) -> AsyncIterator[DeliveryWorker]:
    """A delivery worker (of class `kind`) running in this event loop until the block ends."""
    assert settings.secret_key is not None
    worker = kind(settings=settings, db=db, box=SecretBox(settings.secret_key), **options)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        await asyncio.wait_for(worker.listening.wait(), 10)
        yield worker
    finally:
        stop.set()
        await task


async def create_webhook(
    client: httpx.AsyncClient,
    tenant: Tenant,
    url: str,
    events_: list[str] | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    """POST /webhooks; asserts 201 and returns the body (with the secret)."""
    response = await client.post(
        WEBHOOKS,
        headers=tenant.headers,
        json={"url": url, "events": events_ or ["lead.created"], "description": description},
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def deliveries_of(db: Database, endpoint_id: str | uuid.UUID) -> list[Any]:
    """Every delivery row of one endpoint, oldest first."""
    async with db.system_transaction() as conn:
        return list(
            (
                await conn.execute(
                    text(
                        "SELECT * FROM webhook_deliveries WHERE endpoint_id = :e "
                        "ORDER BY created_at, id"
                    ),
                    {"e": uuid.UUID(str(endpoint_id))},
                )
            ).all()
        )


async def attempts_of(db: Database, endpoint_id: str | uuid.UUID) -> list[Any]:
    """Every attempt row of one endpoint, oldest first."""
    async with db.system_transaction() as conn:
        return list(
            (
                await conn.execute(
                    text(
                        "SELECT * FROM webhook_attempts WHERE endpoint_id = :e "
                        "ORDER BY created_at, attempt"
                    ),
                    {"e": uuid.UUID(str(endpoint_id))},
                )
            ).all()
        )


async def audit_actions(db: Database, organization_id: uuid.UUID) -> list[tuple[str, Any]]:
    """(action, payload) of an organization's audit entries, oldest first."""
    async with db.system_transaction() as conn:
        rows = await conn.execute(
            text(
                "SELECT action, payload FROM platform_events WHERE organization_id = :org "
                "ORDER BY seq"
            ),
            {"org": organization_id},
        )
        return [(r.action, r.payload) for r in rows]


async def set_endpoint(db: Database, endpoint_id: str | uuid.UUID, assignments: str) -> None:
    """UPDATE one endpoint row directly (e.g. to move a timestamp into the past)."""
    async with db.system_transaction() as conn:
        await conn.execute(
            text(f"UPDATE webhook_endpoints SET {assignments} WHERE id = :e"),
            {"e": uuid.UUID(str(endpoint_id))},
        )


def standard_verify(secret: str, request: Received) -> object:
    """Verify a received delivery with the `standardwebhooks` library; returns the payload."""
    return standardwebhooks.Webhook(secret).verify(request.body, request.headers)


async def settle_earlier_deliveries(db: Database) -> None:
    """Cancel the deliveries earlier tests left open.

    The test database lives for the whole run, and a delivery worker claims every open
    delivery of every tenant: late in a long run, the backlog of earlier tests (endpoints
    long gone, some at names that take a DNS timeout to fail) would hold its send slots
    while a test waits for its own.
    """
    async with db.system_transaction() as conn:
        await conn.execute(
            text(
                "UPDATE webhook_deliveries SET status = 'cancelled', leased_until = NULL,"
                " leased_by = NULL, updated_at = now() WHERE status IN ('pending', 'retrying')"
            )
        )
