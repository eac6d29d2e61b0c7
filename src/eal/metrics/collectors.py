"""The Prometheus side of `eal.metrics`: the registry, its metrics and the state collector.

Imported by `eal.metrics.enable()` only, so a process with metrics off never
loads prometheus_client (about 2.4 MB of memory with this module).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import text

from eal.metrics.labels import KNOWN_METHODS, UNMATCHED_ROUTE

if TYPE_CHECKING:
    from eal.db.engine import Database

log = structlog.get_logger(__name__)

CONTENT_TYPE = CONTENT_TYPE_LATEST
"""The media type of a scrape (Prometheus text format 0.0.4)."""
#: Seconds a scrape may spend asking PostgreSQL about the job queue.
QUEUE_QUERY_TIMEOUT_SECONDS = 1.0

REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter(
    "eal_http_requests_total",
    "HTTP requests answered, by method, route template and status.",
    ("method", "route", "status"),
    registry=REGISTRY,
)
HTTP_DURATION = Histogram(
    "eal_http_request_duration_seconds",
    "Time from the request's arrival to its last byte, by method, route template and status.",
    ("method", "route", "status"),
    registry=REGISTRY,
)
WEBHOOK_DELIVERIES = Counter(
    "eal_webhook_deliveries_total",
    "Webhook delivery attempts recorded, by outcome (delivered, retrying, failed, cancelled).",
    ("outcome",),
    registry=REGISTRY,
)
WEBHOOK_LAG = Histogram(
    "eal_webhook_delivery_lag_seconds",
    "How long after it fell due an attempt was sent.",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 60, 300, 1800, 3600),
    registry=REGISTRY,
)
JOBS = Counter(
    "eal_jobs_total",
    "Job runs finished, by task and outcome (done, retry, failed).",
    ("task", "outcome"),
    registry=REGISTRY,
)
JOB_DURATION = Histogram(
    "eal_job_duration_seconds",
    "Time one job run took, by task.",
    ("task",),
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
    registry=REGISTRY,
)
CLASSIFICATION_DURATION = Histogram(
    "eal_call_classification_seconds",
    "Time one call classification took, by provider (embedded, llm).",
    ("provider",),
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)
OUTREACH_SENDS = Counter(
    "eal_outreach_sends_total",
    "Outbound SMS and email, by channel and outcome (sent, failed, retry, simulated).",
    ("channel", "outcome"),
    registry=REGISTRY,
)
COLLECT_ERRORS = Counter(
    "eal_metrics_collect_errors_total",
    "Scrapes that could not read a source (its gauges were left out), by source.",
    ("source",),
    registry=REGISTRY,
)

# The request path looks its two children up once per label set: labels() validates
# and converts its arguments, which costs more than the increment itself.
_request_children: dict[tuple[str, str | None, int | None], tuple[Any, Any]] = {}


def observe_request(method: str, route: str | None, status: int | None, seconds: float) -> None:
    """Count one answered request and its duration (route: the template, None if unmatched)."""
    key = (method, route, status)
    children = _request_children.get(key)
    if children is None:
        labels = (
            method if method in KNOWN_METHODS else "other",
            route or UNMATCHED_ROUTE,
            "none" if status is None else str(status),
        )
        children = (HTTP_REQUESTS.labels(*labels), HTTP_DURATION.labels(*labels))
        _request_children[key] = children
    children[0].inc()
    children[1].observe(seconds)


def count_webhook(outcome: str, lag_seconds: float | None = None) -> None:
    """Count one recorded delivery attempt; `lag_seconds` when it was sent late by that much."""
    WEBHOOK_DELIVERIES.labels(outcome).inc()
    if lag_seconds is not None:
        WEBHOOK_LAG.observe(max(0.0, lag_seconds))


def observe_job(task: str, outcome: str, seconds: float) -> None:
    """Count one finished job run (done, retry, failed) and its duration."""
    JOBS.labels(task, outcome).inc()
    JOB_DURATION.labels(task).observe(seconds)


def observe_classification(provider: str, seconds: float) -> None:
    """Time one call classification; `llm:<model>` is counted as `llm` (the model is config)."""
    CLASSIFICATION_DURATION.labels(provider.partition(":")[0]).observe(seconds)


def count_send(channel: str, outcome: str, count: int = 1) -> None:
    """Count outbound messages of `channel` (sms, email) that ended the attempt as `outcome`."""
    if count:
        OUTREACH_SENDS.labels(channel, outcome).inc(count)


# --- read at scrape time ------------------------------------------------------------------

_QUEUE = text(
    """
SELECT entrypoint, status::text AS status, count(*) AS depth,
       EXTRACT(EPOCH FROM now() - min(execute_after) FILTER (WHERE execute_after <= now()))
         AS age
  FROM pgqueuer
 GROUP BY entrypoint, status
"""
)
_TIMEOUT = text(f"SET LOCAL statement_timeout = {int(QUEUE_QUERY_TIMEOUT_SECONDS * 1000)}")
QUEUE_STATUSES = ("queued", "picked", "failed")


class StateCollector(Collector):
    """The job queue and the connection pools of the databases `attach`ed, as gauges.

    The queue is read by `refresh()` (async, before each scrape); the pools are
    read in `collect()`, from the pools' own counters, without I/O.
    """

    def __init__(self) -> None:
        self._databases: list[Database] = []
        self._queue: list[tuple[str, str, int, float | None]] | None = None
        self._tasks: set[str] = set()

    def attach(self, db: Database) -> None:
        """Report on `db` (the most recently attached one is the one reported)."""
        self._databases.append(db)

    def detach(self, db: Database) -> None:
        """Stop reporting on `db`."""
        with contextlib.suppress(ValueError):
            self._databases.remove(db)
        if not self._databases:
            self._queue = None

    @property
    def database(self) -> Database | None:
        """The database reported on, if any."""
        return self._databases[-1] if self._databases else None

    async def refresh(self) -> None:
        """Read the job queue's depth and age per task; never raises."""
        db = self.database
        if db is None:
            self._queue = None
            return
        try:
            async with asyncio.timeout(QUEUE_QUERY_TIMEOUT_SECONDS * 2):
                async with db.system_transaction() as conn:
                    await conn.execute(_TIMEOUT)
                    rows = (await conn.execute(_QUEUE)).all()
        except Exception as exc:
            self._queue = None
            COLLECT_ERRORS.labels("job_queue").inc()
            log.warning("metrics_collect_failed", source="job_queue", error=type(exc).__name__)
            return
        self._queue = [
            (r.entrypoint, r.status, int(r.depth), None if r.age is None else float(r.age))
            for r in rows
        ]

    def collect(self) -> Iterator[Metric]:
        """The gauges, from the last `refresh()` and the pools as they are now."""
        yield from self._queue_gauges()
        db = self.database
        if db is not None:
            yield from _pool_gauges(db)

    def _queue_gauges(self) -> Iterator[Metric]:
        queue = self._queue
        if queue is None:
            return
        depth = GaugeMetricFamily(
            "eal_job_queue_depth",
            "Jobs in the queue table, by task and status (queued, picked, failed).",
            labels=("task", "status"),
        )
        age = GaugeMetricFamily(
            "eal_job_queue_age_seconds",
            "How long the oldest due, still queued job of each task has waited (0: none).",
            labels=("task",),
        )
        self._tasks.update(task for task, _, _, _ in queue)
        counts = {(task, status): n for task, status, n, _ in queue}
        ages = {task: a for task, status, _, a in queue if status == "queued" and a is not None}
        # Tasks seen once keep their series at 0, so an emptied queue reads 0, not absent.
        for task in sorted(self._tasks):
            for status in QUEUE_STATUSES:
                depth.add_metric((task, status), counts.get((task, status), 0))
            age.add_metric((task,), max(0.0, ages.get(task, 0.0)))
        yield depth
        yield age


def _pool_gauges(db: Database) -> Iterator[Metric]:
    # Keyed by the pool's own method names (QueuePool: size(), checkedout(), ...).
    families = {
        "size": GaugeMetricFamily(
            "eal_db_pool_size", "Connections the pool keeps, by engine.", labels=("engine",)
        ),
        "checkedout": GaugeMetricFamily(
            "eal_db_pool_checked_out",
            "Pooled connections in use right now, by engine.",
            labels=("engine",),
        ),
        "checkedin": GaugeMetricFamily(
            "eal_db_pool_checked_in",
            "Open pooled connections waiting to be used, by engine.",
            labels=("engine",),
        ),
        "overflow": GaugeMetricFamily(
            "eal_db_pool_overflow",
            "Connections open beyond the pool's size (negative: room left below it), by engine.",
            labels=("engine",),
        ),
    }
    for engine_name, engine in (("app", db.app), ("system", db.system)):
        pool: Any = engine.pool
        values: dict[str, float] = {}
        for name in families:
            reader = getattr(pool, name, None)
            if reader is None:
                continue  # a pool class without that counter (NullPool has none)
            with contextlib.suppress(Exception):
                values[name] = float(reader())
        if engine_name == "app" and "checkedout" in values:
            # The app engine's connections stay checked out of its pool between
            # uses (eal.db.connections): in use means leased, idle ones wait there.
            kept = db.connections
            values["checkedin"] = values.get("checkedin", 0.0) + kept.idle
            values["checkedout"] = float(kept.leased)
        for name, value in values.items():
            families[name].add_metric((engine_name,), value)
    yield from families.values()


STATE = StateCollector()
REGISTRY.register(STATE)


async def scrape() -> bytes:
    """The whole registry in Prometheus text format, with the state gauges read now."""
    await STATE.refresh()
    return generate_latest(REGISTRY)
