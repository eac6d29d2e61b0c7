"""Prometheus metrics: every metric of the process, in one registry of its own.

The registry is not prometheus_client's global one: what it holds is exactly
what `/metrics` shows (no library registers into it by accident), and tests
read values from it directly.

Counters and histograms move at the seams where the work is already
accounted for: the edge middleware's request line, the webhook recorder,
the outreach sender, call classification and the job runner. What is a
state rather than an event (the job queue's depth and age, the connection
pools) is read when scraped: `scrape()` asks PostgreSQL about the queue
under a short statement timeout and reads the pools' counters, and a failure
there leaves those gauges out (and counts the failure) instead of failing
the scrape.

Labels carry no tenant and no raw path: a route is its template
(`/api/v1/leads/{lead_id}`), and paths no route matched share one label,
so a scanner walking random URLs cannot grow the series without bound.

Metrics are off by default (`EAL_METRICS`, `EAL_METRICS_PORT`). Until
`enable()` is called (by the app and the worker when they are on) the
functions here count nothing and prometheus_client is not even imported
(`eal.metrics.collectors` holds everything that needs it).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from types import ModuleType
from typing import TYPE_CHECKING

import structlog

from eal.metrics.labels import UNMATCHED_ROUTE

if TYPE_CHECKING:
    from eal.config import Settings
    from eal.db.engine import Database

__all__ = [
    "UNMATCHED_ROUTE",
    "content_type",
    "count_send",
    "count_webhook",
    "enable",
    "enabled",
    "exporting",
    "observe_classification",
    "observe_job",
    "observe_request",
    "scrape",
    "start_metrics_server",
]

log = structlog.get_logger(__name__)


_collectors: ModuleType | None = None


def enable() -> ModuleType:
    """Start counting in this process (idempotent); the module holding the registry."""
    global _collectors
    if _collectors is None:
        from eal.metrics import collectors

        _collectors = collectors
    return _collectors


def enabled() -> bool:
    """Whether this process counts (`enable()` was called)."""
    return _collectors is not None


def observe_request(method: str, route: str | None, status: int | None, seconds: float) -> None:
    """Count one answered request and its duration (route: the template, None if unmatched)."""
    if _collectors is not None:
        _collectors.observe_request(method, route, status, seconds)


def count_webhook(outcome: str, lag_seconds: float | None = None) -> None:
    """Count one recorded delivery attempt; `lag_seconds` when it was sent late by that much."""
    if _collectors is not None:
        _collectors.count_webhook(outcome, lag_seconds)


def observe_job(task: str, outcome: str, seconds: float) -> None:
    """Count one finished job run (done, retry, failed) and its duration."""
    if _collectors is not None:
        _collectors.observe_job(task, outcome, seconds)


def observe_classification(provider: str, seconds: float) -> None:
    """Time one call classification; `llm:<model>` is counted as `llm` (the model is config)."""
    if _collectors is not None:
        _collectors.observe_classification(provider, seconds)


def count_send(channel: str, outcome: str, count: int = 1) -> None:
    """Count outbound messages of `channel` (sms, email) that ended the attempt as `outcome`."""
    if _collectors is not None:
        _collectors.count_send(channel, outcome, count)


def content_type() -> str:
    """The media type of a scrape (Prometheus text format)."""
    content: str = enable().CONTENT_TYPE
    return content


async def scrape() -> bytes:
    """The whole registry in Prometheus text format, with the state gauges read now."""
    body: bytes = await enable().scrape()
    return body


# --- a listener of its own (EAL_METRICS_PORT) ---------------------------------------------

_MAX_REQUEST_HEAD = 8192
_READ_TIMEOUT_SECONDS = 5.0


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        async with asyncio.timeout(_READ_TIMEOUT_SECONDS):
            head = await reader.readuntil(b"\r\n\r\n")
        if len(head) > _MAX_REQUEST_HEAD:
            raise ValueError("request head too large")
        method, _, rest = head.split(b"\r\n", 1)[0].partition(b" ")
        path = rest.partition(b" ")[0].partition(b"?")[0]
        if method in (b"GET", b"HEAD") and path == b"/metrics":
            status, body, kind = b"200 OK", await scrape(), content_type().encode()
        else:
            status, body, kind = b"404 Not Found", b"not found\n", b"text/plain; charset=utf-8"
        writer.write(
            b"HTTP/1.1 "
            + status
            + b"\r\ncontent-type: "
            + kind
            + b"\r\ncontent-length: "
            + str(len(body)).encode()
            + b"\r\nconnection: close\r\n\r\n"
            + (b"" if method == b"HEAD" else body)
        )
        await writer.drain()
    except (TimeoutError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        pass  # not a request we answer: just close
    except ConnectionError:
        pass
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def start_metrics_server(host: str, port: int) -> asyncio.Server:
    """Serve GET /metrics on `host:port` from the running loop until the server is closed."""
    server = await asyncio.start_server(_answer, host, port, limit=_MAX_REQUEST_HEAD)
    log.info("metrics_listening", host=host, port=port)
    return server


@contextlib.asynccontextmanager
async def exporting(settings: Settings, db: Database) -> AsyncIterator[None]:
    """While the block runs: report on `db`, and listen on EAL_METRICS_PORT when it is set.

    When metrics are on, this is where the process starts counting (`enable()`);
    when they are off it does nothing. A port that cannot be bound fails here,
    at start-up, rather than leaving the operator's scrapes to fail unexplained.
    """
    if not settings.metrics_enabled:
        yield
        return
    state = enable().STATE
    state.attach(db)
    server = None
    try:
        if settings.metrics_port is not None:
            server = await start_metrics_server(settings.metrics_host, settings.metrics_port)
        yield
    finally:
        if server is not None:
            server.close()
            with contextlib.suppress(Exception):
                await server.wait_closed()
        state.detach(db)
