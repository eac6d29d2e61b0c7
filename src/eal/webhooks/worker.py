"""The delivery worker: claim due deliveries, send them, record every attempt.

Claiming: one statement leases a batch of due rows with ``FOR UPDATE SKIP
LOCKED`` by moving their ``next_attempt_at`` to the end of the lease, so any
number of workers share the queue without sending one attempt twice, and a
worker that dies mid-send leaves its rows to become due again when the lease
ends. Each claim takes at most the free send slots of every endpoint (and of
the worker), so one slow receiver occupies only its own few slots.

Waking: a dedicated connection LISTENs on ``eal_webhooks``; the insert trigger
notifies it when a transaction that queued deliveries commits. The worker also
polls every ``poll_interval`` seconds and wakes when its own retries fall due.

Recording: results are written in batches (one statement for the deliveries
and their attempt rows, one for the endpoints' last-delivery fields), guarded
by the lease so a worker that lost its lease cannot overwrite a newer result.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import structlog
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from structlog.contextvars import bind_contextvars

from eal.config import Settings
from eal.db.engine import Database
from eal.events import OUTBOX_CHANNEL
from eal.kit.clock import Clock, SystemClock, utcnow
from eal.kit.outbound import OutboundPolicy
from eal.kit.secretbox import SecretBox
from eal.metrics import count_webhook
from eal.runtime import Runtime
from eal.webhooks.delivery import SendResult, WebhookSender, truncate_error, valid_secrets
from eal.webhooks.recording import Outcome, disable_endpoints, write_outcomes
from eal.webhooks.schemas import DeliveryStatus, public_delivery_id
from eal.webhooks.signing import signature_headers

log = structlog.get_logger(__name__)

PER_ENDPOINT_CONCURRENCY = 4
MAX_IN_FLIGHT = 64
POLL_INTERVAL_SECONDS = 1.0
FLUSH_INTERVAL_SECONDS = 0.01
CLAIM_COALESCE_SECONDS = 0.003
#: After a failed claim the next waits this long, doubling up to MAX_CLAIM_RETRY_SECONDS.
CLAIM_RETRY_SECONDS = 1.0
MAX_CLAIM_RETRY_SECONDS = 5.0


def default_lease_seconds(timeout_seconds: float) -> float:
    """A lease long enough for one attempt plus recording it, with a wide margin."""
    return max(60.0, timeout_seconds * 2 + 30.0)


_CLAIM = text(
    """
WITH due AS (
  SELECT d.id, d.endpoint_id, d.next_attempt_at
    FROM webhook_deliveries d
   WHERE d.status IN ('pending', 'retrying') AND d.next_attempt_at <= now()
     AND d.endpoint_id <> ALL(CAST(:full AS uuid[]))
   ORDER BY d.next_attempt_at
   LIMIT :scan
   FOR UPDATE SKIP LOCKED
), ranked AS (
  SELECT due.id, due.next_attempt_at,
         row_number() OVER (PARTITION BY due.endpoint_id
                            ORDER BY due.next_attempt_at, due.id) AS rn,
         COALESCE(b.free, :per_endpoint) AS free
    FROM due
    LEFT JOIN unnest(CAST(:busy_ids AS uuid[]), CAST(:busy_free AS int[])) AS b(endpoint_id, free)
      ON b.endpoint_id = due.endpoint_id
), picked AS (
  SELECT id, next_attempt_at FROM ranked WHERE rn <= free ORDER BY next_attempt_at, id LIMIT :limit
)
UPDATE webhook_deliveries d
   SET attempt = d.attempt + 1,
       leased_by = :worker,
       leased_until = now() + make_interval(secs => CAST(:lease AS double precision)),
       next_attempt_at = now() + make_interval(secs => CAST(:lease AS double precision)),
       updated_at = now()
  FROM picked p, webhook_endpoints e
 WHERE d.id = p.id AND e.id = d.endpoint_id
RETURNING d.id, d.organization_id, d.endpoint_id, d.event_type, d.body, d.attempt,
          d.retry_step, d.leased_until, e.url, (e.enabled AND e.deleted_at IS NULL) AS active,
          e.secret_encrypted, e.previous_secret_encrypted, e.previous_secret_expires_at,
          p.next_attempt_at AS due_at
"""
)


def _is_outage(exc: BaseException) -> bool:
    """True for errors meaning the database cannot be reached right now (not a bug)."""
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError):
            return True
        # The driver's own error (cannot connect now, shutting down) is the cause of .orig.
        cause = exc.orig.__cause__ if exc.orig is not None else None
        return cause is not None and _is_outage(cause)
    return isinstance(
        exc,
        OSError
        | TimeoutError
        | PoolTimeout
        | asyncpg.PostgresConnectionError
        | asyncpg.CannotConnectNowError
        | asyncpg.AdminShutdownError
        | asyncpg.CrashShutdownError
        | asyncpg.InterfaceError,
    )


@dataclass(frozen=True)
class Claimed:
    """A leased delivery and what is needed to send it."""

    id: uuid.UUID
    organization_id: uuid.UUID
    endpoint_id: uuid.UUID
    event_type: str
    body: str
    attempt: int
    retry_step: int
    leased_until: datetime
    url: str
    active: bool
    secret_encrypted: str
    previous_secret_encrypted: str | None
    previous_secret_expires_at: datetime | None
    due_at: datetime | None = None
    """When the attempt fell due (before the lease moved it): the delivery's lag starts there."""


class DeliveryWorker:
    """One worker: a claim loop, concurrent sends, a batched recorder and a listener."""

    def __init__(
        self,
        *,
        settings: Settings,
        db: Database,
        box: SecretBox,
        worker_id: str | None = None,
        lease_seconds: float | None = None,
        per_endpoint_concurrency: int = PER_ENDPOINT_CONCURRENCY,
        max_in_flight: int = MAX_IN_FLIGHT,
        poll_interval: float = POLL_INTERVAL_SECONDS,
        clock: Clock | None = None,
        policy: OutboundPolicy | None = None,
    ) -> None:
        """A sender for `db`'s outbox; `clock` decides which secrets are still valid
        and when an endpoint has failed long enough, `policy` where it may connect."""
        self.settings = settings
        self.db = db
        self.box = box
        self.clock: Clock = clock or SystemClock()
        self.policy = policy or OutboundPolicy(settings.allow_private_webhook_urls)
        self.worker_id = worker_id or (
            f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        )
        self.lease_seconds = lease_seconds or default_lease_seconds(
            settings.webhook_timeout_seconds
        )
        self.per_endpoint = per_endpoint_concurrency
        self.max_in_flight = max_in_flight
        self.poll_interval = poll_interval
        self.schedule = tuple(settings.webhook_retry_schedule)
        self.listening = asyncio.Event()
        """Set while the LISTEN connection is up (tests wait for it)."""
        self.sent = 0
        """Attempts this worker has completed (sent or refused), for benchmarks."""
        self._wake = asyncio.Event()
        self._notified = False
        self._maybe_more = False
        self._next_due: float | None = None
        self._in_flight: dict[uuid.UUID, int] = defaultdict(int)
        self._in_flight_total = 0
        self._tasks: dict[uuid.UUID, set[asyncio.Task[None]]] = defaultdict(set)
        self._results: list[Outcome] = []
        self._results_ready = asyncio.Event()
        self._closing = False
        self._secrets: dict[str, str] = {}
        self._sender: WebhookSender | None = None
        self._claims_failing_since: float | None = None
        self._claim_failures = 0
        self._claim_pause = CLAIM_RETRY_SECONDS

    @property
    def in_flight(self) -> int:
        """Sends in progress right now."""
        return self._in_flight_total

    # -- main loop -----------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set, then finish in-flight sends and record them."""
        self._sender = WebhookSender(
            timeout_seconds=self.settings.webhook_timeout_seconds,
            policy=self.policy,
        )
        loop = asyncio.get_running_loop()
        helpers = [
            asyncio.create_task(self._listen(), name="eal-webhooks-listen"),
            asyncio.create_task(self._wake_on(stop), name="eal-webhooks-stop"),
        ]
        recorder = asyncio.create_task(self._record_loop(), name="eal-webhooks-record")
        last_sweep = loop.time()
        try:
            while not stop.is_set():
                # Every pass takes in the wake-up that started it, also when it cannot
                # claim: a wake left set makes the next wait return without yielding,
                # and at capacity that loop would starve the sends it waits for.
                self._wake.clear()
                self._notified = False
                if self._in_flight_total < self.max_in_flight:
                    await self._claim_and_start()
                else:
                    # Nothing is claimable until a send finishes: that wakes this loop,
                    # and its claim finds whatever was notified meanwhile.
                    self._maybe_more = True
                if loop.time() - last_sweep >= 1.0:
                    last_sweep = loop.time()
                    self._sender.sweep()
                await self._wait_for_work(stop)
        finally:
            for helper in helpers:
                helper.cancel()
            await self._drain()
            self._closing = True
            self._results_ready.set()
            await recorder
            await asyncio.gather(*helpers, return_exceptions=True)
            await self._sender.aclose()

    async def _wake_on(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._wake.set()

    async def _wait_for_work(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        timeout = self.poll_interval
        if self._next_due is not None:
            # Wake when a retry this worker scheduled falls due. The due time is
            # forgotten once reached (below): a retry whose endpoint is still at its
            # cap costs one empty claim, and the claim a freed slot wakes takes it.
            timeout = max(0.0, min(timeout, self._next_due - loop.time()))
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._wake.wait()
        if self._next_due is not None and self._next_due <= loop.time():
            self._next_due = None
        if not self._notified and not stop.is_set():
            # Woken by a freed slot: let a few more finish so one claim serves them all.
            await asyncio.sleep(CLAIM_COALESCE_SECONDS)

    async def _claim_and_start(self) -> None:
        full = [e for e, n in self._in_flight.items() if n >= self.per_endpoint]
        busy = [
            (e, self.per_endpoint - n)
            for e, n in self._in_flight.items()
            if 0 < n < self.per_endpoint
        ]
        limit = self.max_in_flight - self._in_flight_total
        try:
            async with self.db.system_transaction() as conn:
                rows = (
                    await conn.execute(
                        _CLAIM,
                        {
                            "full": full,
                            "busy_ids": [e for e, _ in busy],
                            "busy_free": [n for _, n in busy],
                            "per_endpoint": self.per_endpoint,
                            "scan": min(1000, max(100, limit * 4)),
                            "limit": limit,
                            "worker": self.worker_id,
                            "lease": self.lease_seconds,
                        },
                    )
                ).all()
        except Exception as exc:
            await self._claims_failing(exc)
            return
        self._claims_working()
        # More may be due when this claim was capped, or some endpoint is at its cap.
        self._maybe_more = bool(rows) or bool(full)
        for row in rows:
            self._start(Claimed(**row._mapping))

    async def _claims_failing(self, exc: Exception) -> None:
        """Log a claim failure once per outage, then wait a growing pause before the next."""
        now = time.monotonic()
        if self._claims_failing_since is None:
            self._claims_failing_since = now
            self._claim_failures = 0
            self._claim_pause = CLAIM_RETRY_SECONDS
            if _is_outage(exc):
                # The driver's message, without the statement SQLAlchemy appends.
                reason = exc.orig if isinstance(exc, DBAPIError) and exc.orig else exc
                log.warning(
                    "webhook_claims_failing",
                    worker=self.worker_id,
                    error=f"{type(reason).__name__}: {reason}",
                )
            else:
                # Not the database going away: the traceback is worth its lines, once.
                log.exception("webhook_claims_failing", worker=self.worker_id)
        self._claim_failures += 1
        await asyncio.sleep(self._claim_pause)
        self._claim_pause = min(self._claim_pause * 2, MAX_CLAIM_RETRY_SECONDS)

    def _claims_working(self) -> None:
        if self._claims_failing_since is None:
            return
        log.info(
            "webhook_claims_resumed",
            worker=self.worker_id,
            failed_seconds=round(time.monotonic() - self._claims_failing_since, 1),
            failed_claims=self._claim_failures,
        )
        self._claims_failing_since = None

    def _start(self, claimed: Claimed) -> None:
        self._in_flight[claimed.endpoint_id] += 1
        self._in_flight_total += 1
        task = asyncio.create_task(self._deliver(claimed))
        self._tasks[claimed.endpoint_id].add(task)
        task.add_done_callback(lambda t: self._finished(claimed, t))

    def _finished(self, claimed: Claimed, task: asyncio.Task[None]) -> None:
        endpoint = claimed.endpoint_id
        self._in_flight[endpoint] -= 1
        if self._in_flight[endpoint] <= 0:
            del self._in_flight[endpoint]
        self._in_flight_total -= 1
        tasks = self._tasks.get(endpoint)
        if tasks is not None:
            tasks.discard(task)
            if not tasks:
                del self._tasks[endpoint]
        if not task.cancelled() and task.exception() is not None:
            # The row keeps its lease and is retried when it ends.
            log.error(
                "webhook_send_crashed",
                delivery_id=public_delivery_id(claimed.id),
                organization_id=str(claimed.organization_id),
                error=repr(task.exception()),
            )
        if self._maybe_more:
            self._wake.set()

    async def _drain(self) -> None:
        tasks = [t for group in self._tasks.values() for t in group]
        if not tasks:
            return
        _done, pending = await asyncio.wait(
            tasks, timeout=self.settings.webhook_timeout_seconds + 1
        )
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)

    # -- one attempt ---------------------------------------------------------

    def _decrypt(self, token: str) -> str:
        plain = self._secrets.get(token)
        if plain is None:
            if len(self._secrets) > 4096:
                self._secrets.clear()
            plain = self.box.decrypt(token)
            self._secrets[token] = plain
        return plain

    async def _deliver(self, claimed: Claimed) -> None:
        # Each send is a task of its own: what it logs names its delivery and tenant.
        bind_contextvars(
            delivery_id=public_delivery_id(claimed.id),
            organization_id=str(claimed.organization_id),
        )
        started_at = utcnow()
        if not claimed.active:
            # Disabled or deleted after this row was queued: cancel, never send.
            self._push(
                Outcome.cancelled(
                    claimed.id,
                    claimed.organization_id,
                    claimed.endpoint_id,
                    claimed.leased_until,
                    started_at,
                )
            )
            return
        body = claimed.body.encode("utf-8")
        try:
            current = self._decrypt(claimed.secret_encrypted)
            previous = (
                self._decrypt(claimed.previous_secret_encrypted)
                if claimed.previous_secret_encrypted
                else None
            )
            headers = signature_headers(
                valid_secrets(
                    current, previous, claimed.previous_secret_expires_at, self.clock.now()
                ),
                body=body,
                timestamp=int(time.time()),
                delivery_id=public_delivery_id(claimed.id),
                event_type=claimed.event_type,
            )
        except ValueError as exc:
            result = SendResult(None, 0, truncate_error(f"cannot sign the delivery: {exc}"))
        else:
            assert self._sender is not None
            result = await self._sender.send(claimed.url, body, headers)
        self.sent += 1
        self._push(self._outcome(claimed, result, started_at))

    def _outcome(self, claimed: Claimed, result: SendResult, started_at: datetime) -> Outcome:
        finished_at = utcnow()
        common: dict[str, Any] = {
            "delivery_id": claimed.id,
            "organization_id": claimed.organization_id,
            "endpoint_id": claimed.endpoint_id,
            "lease_token": claimed.leased_until,
            "response_status": result.response_status,
            "latency_ms": result.latency_ms,
            "error": result.error,
            "started_at": started_at,
            "finished_at": finished_at,
            "sent": True,
            "lag_seconds": None
            if claimed.due_at is None
            else (started_at - claimed.due_at).total_seconds(),
        }
        if result.ok:
            return Outcome(
                status=DeliveryStatus.DELIVERED,
                next_attempt_at=None,
                delivered_at=finished_at,
                retry_step=claimed.retry_step,
                gone=False,
                **common,
            )
        if not result.gone and claimed.retry_step < len(self.schedule):
            delay = self.schedule[claimed.retry_step]
            self._remember_due(delay)
            return Outcome(
                status=DeliveryStatus.RETRYING,
                next_attempt_at=finished_at + timedelta(seconds=delay),
                delivered_at=None,
                retry_step=claimed.retry_step + 1,
                gone=False,
                **common,
            )
        return Outcome(
            status=DeliveryStatus.FAILED,
            next_attempt_at=None,
            delivered_at=None,
            retry_step=claimed.retry_step,
            gone=result.gone,
            **common,
        )

    def _remember_due(self, delay: float) -> None:
        due = asyncio.get_running_loop().time() + delay
        if self._next_due is None or due < self._next_due:
            self._next_due = due

    def _push(self, outcome: Outcome) -> None:
        self._results.append(outcome)
        self._results_ready.set()

    # -- recording -------------------------------------------------------------

    async def _record_loop(self) -> None:
        while True:
            await self._results_ready.wait()
            if not self._closing:
                # Collect a batch: one transaction records many attempts.
                await asyncio.sleep(FLUSH_INTERVAL_SECONDS)
            self._results_ready.clear()
            batch, self._results = self._results, []
            if batch:
                await self._record(batch)
            if self._closing and not self._results:
                return

    async def _record(self, batch: list[Outcome]) -> None:
        for attempt in range(5):
            try:
                disable = await write_outcomes(
                    self.db, batch, worker_id=self.worker_id, clock=self.clock
                )
                if disable:
                    await disable_endpoints(self.db, disable, clock=self.clock)
                for outcome in batch:
                    count_webhook(outcome.status.value, outcome.lag_seconds)
                return
            except Exception:
                log.exception("webhook_record_failed", worker=self.worker_id, attempt=attempt)
                await asyncio.sleep(min(0.2 * 2**attempt, 5.0))
        # The rows keep their leases and are sent again when those end.
        log.error("webhook_results_dropped", worker=self.worker_id, count=len(batch))

    # -- LISTEN ----------------------------------------------------------------

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        if payload.startswith("cancel:"):
            with contextlib.suppress(ValueError):
                for task in list(self._tasks.get(uuid.UUID(payload[7:]), ())):
                    task.cancel()
            return
        self._notified = True
        self._wake.set()

    async def _listen(self) -> None:
        backoff = 0.5
        dsn = self.db.driver_dsn()
        while True:
            conn = None
            try:
                conn = await asyncpg.connect(
                    dsn, server_settings={"application_name": "eal-webhooks-listen"}
                )
                closed = asyncio.Event()
                conn.add_termination_listener(lambda _c, done=closed: done.set())
                await conn.add_listener(OUTBOX_CHANNEL, self._on_notify)
                backoff = 0.5
                self.listening.set()
                # Anything committed while nobody listened is found by this claim.
                self._notified = True
                self._wake.set()
                await closed.wait()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("webhook_listen_failed", error=repr(exc), retry_in=backoff)
            finally:
                self.listening.clear()
                if conn is not None and not conn.is_closed():
                    with contextlib.suppress(Exception):
                        await asyncio.shield(conn.close(timeout=2))
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10.0)


async def deliver_webhooks(runtime: Runtime, stop: asyncio.Event) -> None:
    """Deliver webhooks until `stop` is set (restarts after a crash)."""
    while not stop.is_set():
        worker = DeliveryWorker(
            settings=runtime.settings,
            db=runtime.db,
            box=runtime.secret_box,
            clock=runtime.clock,
            policy=runtime.outbound,
        )
        try:
            await worker.run(stop)
        except Exception:
            log.exception("webhook_worker_crashed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=5.0)
