"""What the calls tests share: configured tenants, posting calls, the worker, waiting."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import text

import eal.calls.tasks
import eal.outreach.tasks  # noqa: F401
from eal.calls.service import CLASSIFY_TASK, DISPATCH_TASK, TRANSCRIBE_TASK
from eal.db.engine import Database
from eal.jobs.registry import TASKS
from eal.jobs.worker import JobWorker
from eal.outreach.service import DELIVER_TASK
from eal.runtime import Runtime
from tests.factories import Factory, Tenant
from tests.integrations.fake_jobnimbus import FakeJobNimbus
from tests.integrations.fake_twilio import FakeTwilio
from tests.jobs.support import job_worker
from tests.outreach.support import FROM_NUMBER, wait_until

CALLS = "/api/v1/calls"
ORGS = "/api/v1/organizations"
TRACKING = "+17705550199"
JOBNIMBUS_KEY = "jn-test-key-7Hq2Lm9Zp4"
#: Every day, all day (a test about business hours sets its own).
ALWAYS_OPEN = {
    day: [["00:00", "12:00"], ["12:00", "00:00"]]
    for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
}
WATER = (
    "Caller: Hi, I have water coming through my basement ceiling, I think a pipe burst "
    "upstairs. It's my house, I'm the homeowner, can you send someone right now? "
    "We're at 1420 Powder Springs Road in Marietta, zip code 30064."
)
PITCH = (
    "Hi, this is Derek with Premier Restoration Leads. We have homeowners in your area with "
    "flooded basements searching for water damage help right now, and we can send you "
    "exclusive leads for forty dollars each. Do you have a minute to hear about our program?"
)


async def configure_calls(
    client: httpx.AsyncClient,
    tenant: Tenant,
    *,
    twilio: FakeTwilio | None = None,
    account: tuple[str, str] | None = None,
    jobnimbus: FakeJobNimbus | None = None,
    dispatch: dict[str, Any] | None = None,
    business_hours: dict[str, Any] | None = None,
    service_area: dict[str, Any] | None = None,
    callrail: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Set the tenant's calls settings (PATCH); its settings as shown."""
    integrations: dict[str, Any] = {}
    if twilio is not None:
        assert account is not None
        integrations["sms"] = {
            "vendor": "twilio",
            "account_sid": account[0],
            "auth_token": account[1],
            "from_number": FROM_NUMBER,
            "base_url": twilio.base_url,
        }
    if jobnimbus is not None:
        integrations["crm"] = {
            "vendor": "jobnimbus",
            "api_key": JOBNIMBUS_KEY,
            "base_url": jobnimbus.base_url,
        }
    if callrail is not None:
        integrations["callrail"] = callrail
    settings: dict[str, Any] = {
        "service_area": service_area or {"center_postal_code": "30075", "radius_miles": 30},
        "business_hours": business_hours or ALWAYS_OPEN,
        "dispatch": dispatch if dispatch is not None else {"auto_dispatch": True},
        **(extra or {}),
    }
    if integrations:
        settings["integrations"] = integrations
    response = await client.patch(
        f"{ORGS}/{tenant.id}", json={"settings": settings}, headers=tenant.headers
    )
    assert response.status_code == 200, response.text
    shown: dict[str, Any] = response.json()["settings"]
    return shown


async def calls_tenant(
    client: httpx.AsyncClient,
    factory: Factory,
    name: str,
    *,
    environment: str = "live",
    **config: Any,
) -> Tenant:
    """A new organization with its calls settings (configured with a live admin key)."""
    tenant = await factory.tenant(name, environment=environment)
    admin = tenant
    if environment != "live":
        key = await factory.key(tenant.id, "admin", "live")
        admin = Tenant(id=tenant.id, key=key["key"], key_id=key["id"], org=tenant.org)
    await configure_calls(client, admin, **config)
    return tenant


def call_body(received_at: datetime, **fields: Any) -> dict[str, Any]:
    """A POST /calls body (a water call unless fields say otherwise)."""
    body: dict[str, Any] = {
        "tracking_number": TRACKING,
        "caller_number": "(404) 555-0173",
        "duration_seconds": 142,
        "received_at": received_at.isoformat(),
        "transcript": WATER,
        "caller_name": "Dana Whitfield",
    }
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


async def post_call(
    client: httpx.AsyncClient, tenant: Tenant, received_at: datetime, **fields: Any
) -> dict[str, Any]:
    """POST a call; its body (201 expected)."""
    r = await client.post(CALLS, json=call_body(received_at, **fields), headers=tenant.headers)
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


async def get_call(client: httpx.AsyncClient, tenant: Tenant, call_id: str) -> dict[str, Any]:
    r = await client.get(f"{CALLS}/{call_id}", headers=tenant.headers)
    assert r.status_code == 200, r.text
    found: dict[str, Any] = r.json()
    return found


async def wait_for_call(
    client: httpx.AsyncClient,
    tenant: Tenant,
    call_id: str,
    *statuses: str,
    within: float = 30.0,
) -> dict[str, Any]:
    """GET the call until its status is one of `statuses`; the call."""

    async def check() -> dict[str, Any] | None:
        call = await get_call(client, tenant, call_id)
        return call if call["status"] in statuses else None

    found: dict[str, Any] = await wait_until(
        check, within=within, what=f"{call_id} to reach {statuses}"
    )
    return found


@asynccontextmanager
async def calls_worker(runtime: Runtime, *, concurrency: int = 10) -> AsyncIterator[JobWorker]:
    """A job worker for the calls tasks and outreach delivery, in this event loop."""
    tasks = [
        TASKS[CLASSIFY_TASK],
        TASKS[TRANSCRIBE_TASK],
        TASKS[DISPATCH_TASK],
        TASKS[DELIVER_TASK],
    ]
    async with job_worker(runtime, tasks, concurrency=concurrency) as worker:
        yield worker


async def call_row(db: Database, call_id: str) -> dict[str, Any]:
    """The calls row behind a `call_...` id."""
    uid = uuid.UUID(hex=call_id.removeprefix("call_"))
    async with db.system_transaction() as conn:
        row = (await conn.execute(text("SELECT * FROM calls WHERE id = :id"), {"id": uid})).one()
        return dict(row._mapping)


async def jobs_of(db: Database, task: str, call_id: str) -> list[dict[str, Any]]:
    """The queue rows of `task` for a call."""
    uid = call_id.removeprefix("call_")
    async with db.system_transaction() as conn:
        rows = await conn.execute(
            text(
                "SELECT id, status FROM pgqueuer WHERE entrypoint = :task "
                "AND replace(convert_from(payload, 'UTF8')::jsonb -> 'payload' ->> 'call_id', '-', '') = :id"
            ),
            {"task": task, "id": uid},
        )
        return [dict(r._mapping) for r in rows]
