"""What the outreach tests share: a real SMTP server, configured tenants, the worker, waiting."""

from __future__ import annotations

import asyncio
import email
import email.policy
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from typing import Any

import httpx
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import text

import eal.outreach.tasks  # noqa: F401  (registers the outreach tasks)
from eal.app import create_app
from eal.config import Settings
from eal.db.engine import Database
from eal.jobs.context import JobContext
from eal.jobs.registry import TASKS
from eal.jobs.worker import JobWorker
from eal.kit.clock import ManualClock
from eal.outreach import runs
from eal.outreach.runs import RUN_TASK, SWEEP_TASK
from eal.outreach.service import DELIVER_TASK
from eal.runtime import Runtime
from tests.factories import Factory, Tenant
from tests.integrations.fake_twilio import FakeTwilio
from tests.jobs.support import job_worker

LOOPBACK = "127.0.0.1"
ORGS = "/api/v1/organizations"
OUTREACH = "/api/v1/outreach"
FROM_NUMBER = "+14045550100"
FROM_ADDRESS = "help@puroclean-westcobb.example"


def twilio_account() -> tuple[str, str]:
    """A fresh (account SID, auth token) pair."""
    return "AC" + secrets.token_hex(16), secrets.token_hex(16)


@dataclass
class Received:
    """One message the SMTP server accepted."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class SmtpSink:
    """A real aiosmtpd server on 127.0.0.1 recording what it accepts.

    `rcpt_replies` scripts the answer to RCPT TO per address (e.g. a 550 for a
    mailbox that does not exist); `delay` holds every DATA answer that long.
    """

    port: int = 0
    received: list[Received] = field(default_factory=list)
    rcpt_replies: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        reply = self.rcpt_replies.get(address)
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        assert isinstance(envelope.content, bytes)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos), parsed))
        return "250 2.0.0 Ok: queued"

    def to(self, address: str) -> list[EmailMessage]:
        """The messages received for `address`."""
        return [r.message for r in self.received if address in r.rcpt_tos]


@asynccontextmanager
async def smtp_sink() -> AsyncIterator[SmtpSink]:
    """Run an SmtpSink on this event loop for the duration of the block."""
    sink = SmtpSink()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(sink, hostname="mx.test", require_starttls=False), LOOPBACK, 0
    )
    sink.port = server.sockets[0].getsockname()[1]
    try:
        yield sink
    finally:
        server.close()
        await server.wait_closed()


async def configure(
    client: httpx.AsyncClient,
    tenant: Tenant,
    *,
    smtp: SmtpSink | None = None,
    twilio: FakeTwilio | None = None,
    account: tuple[str, str] | None = None,
    outreach: dict[str, Any] | None = None,
    timezone: str | None = None,
) -> dict[str, Any]:
    """Point the tenant's SMS and email at the local servers; its settings as shown."""
    integrations: dict[str, Any] = {}
    if smtp is not None:
        integrations["email"] = {
            "vendor": "smtp",
            "host": LOOPBACK,
            "port": smtp.port,
            "security": "none",
            "from_address": FROM_ADDRESS,
            "from_name": "PuroClean of West Cobb",
        }
    if twilio is not None:
        assert account is not None
        integrations["sms"] = {
            "vendor": "twilio",
            "account_sid": account[0],
            "auth_token": account[1],
            "from_number": FROM_NUMBER,
            "base_url": twilio.base_url,
        }
    settings: dict[str, Any] = {}
    if integrations:
        settings["integrations"] = integrations
    if outreach is not None:
        settings["outreach"] = outreach
    body: dict[str, Any] = {"settings": settings}
    if timezone is not None:
        body["settings"]["timezone"] = timezone
    response = await client.patch(f"{ORGS}/{tenant.id}", json=body, headers=tenant.headers)
    assert response.status_code == 200, response.text
    shown: dict[str, Any] = response.json()["settings"]
    return shown


async def outreach_tenant(
    client: httpx.AsyncClient,
    factory: Factory,
    name: str,
    *,
    smtp: SmtpSink | None = None,
    twilio: FakeTwilio | None = None,
    account: tuple[str, str] | None = None,
    outreach: dict[str, Any] | None = None,
    environment: str = "live",
) -> Tenant:
    """A new organization with its providers configured."""
    tenant = await factory.tenant(name, environment=environment)
    if smtp is not None or twilio is not None or outreach is not None:
        if environment == "live":
            await configure(
                client, tenant, smtp=smtp, twilio=twilio, account=account, outreach=outreach
            )
        else:
            admin = await factory.key(tenant.id, "admin", "live")
            live = Tenant(id=tenant.id, key=admin["key"], key_id=admin["id"], org=tenant.org)
            await configure(
                client, live, smtp=smtp, twilio=twilio, account=account, outreach=outreach
            )
    return tenant


@asynccontextmanager
async def outreach_worker(runtime: Runtime, *, concurrency: int = 10) -> AsyncIterator[JobWorker]:
    """A job worker for the outreach tasks, in this event loop."""
    async with job_worker(
        runtime, [TASKS[DELIVER_TASK], TASKS[RUN_TASK]], concurrency=concurrency
    ) as worker:
        yield worker


async def wait_until(
    check: Callable[[], Awaitable[Any]], *, within: float = 30.0, what: str = "condition"
) -> Any:
    """Poll `check` until it returns something truthy; that value."""
    deadline = time.monotonic() + within
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def message_rows(db: Database, organization_id: uuid.UUID) -> list[dict[str, Any]]:
    """The organization's outreach_messages rows, oldest first."""
    async with db.system_transaction() as conn:
        rows = await conn.execute(
            text(
                "SELECT * FROM outreach_messages WHERE organization_id = :org "
                "ORDER BY created_at, id"
            ),
            {"org": organization_id},
        )
        return [dict(r._mapping) for r in rows]


async def wait_for_status(
    client: httpx.AsyncClient, tenant: Tenant, message_id: str, *statuses: str, within: float = 30
) -> dict[str, Any]:
    """GET the message until its status is one of `statuses`; the message."""

    async def check() -> dict[str, Any] | None:
        r = await client.get(f"{OUTREACH}/messages/{message_id}", headers=tenant.headers)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body if body["status"] in statuses else None

    found: dict[str, Any] = await wait_until(
        check, within=within, what=f"{message_id} to reach {statuses}"
    )
    return found


async def release_jobs(db: Database, organization_id: uuid.UUID) -> int:
    """Make the tenant's held-back outreach jobs due now (the clock was moved past them)."""
    async with db.system_transaction() as conn:
        result = await conn.execute(
            text(
                "UPDATE pgqueuer SET execute_after = now() "
                "WHERE status = 'queued' AND entrypoint IN (:deliver, :step) "
                "AND convert_from(payload, 'UTF8')::jsonb ->> 'organization_id' = :org"
            ),
            {"deliver": DELIVER_TASK, "step": RUN_TASK, "org": str(organization_id)},
        )
        return int(result.rowcount)


async def create_lead(client: httpx.AsyncClient, tenant: Tenant, **fields: Any) -> dict[str, Any]:
    """POST a lead; its body."""
    body = {"source": "website", **fields}
    r = await client.post("/api/v1/leads", json=body, headers=tenant.headers)
    assert r.status_code == 201, r.text
    lead: dict[str, Any] = r.json()
    return lead


@dataclass
class Clocked:
    """An app whose clock only moves when the test moves it, and a client of it."""

    client: httpx.AsyncClient
    clock: ManualClock
    runtime: Runtime


@asynccontextmanager
async def clocked_app(settings: Settings, start: datetime) -> AsyncIterator[Clocked]:
    """Run an app on a ManualClock set to `start`."""
    clock = ManualClock(start)
    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Clocked(client, clock, app.state.runtime)


async def sweep_now(runtime: Runtime) -> None:
    """Run the minute sweep once, as its schedule does (on the runtime's clock)."""
    from eal import jobs

    ctx = JobContext(runtime=runtime, job_id=0, task=SWEEP_TASK, attempt=1, actor=None)
    await runs.sweep(ctx, jobs.NoPayload())
