"""What the prospects tests share: creating prospects, a service area, weather, the worker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

import eal.prospects.tasks  # noqa: F401  (registers the batch task)
from eal.jobs.registry import TASKS
from eal.jobs.worker import JobWorker
from eal.prospects.service import QUALIFY_BATCH_TASK
from eal.runtime import Runtime
from tests.factories import Tenant
from tests.jobs.support import job_worker

PROSPECTS = "/api/v1/prospects"
ORGS = "/api/v1/organizations"
#: Roswell, GA and 25 miles around it.
AREA = {"center_postal_code": "30075", "radius_miles": 25}
SANDY_SPRINGS = {
    "company_name": "Sandy Springs Property Group",
    "contact_name": "Daniel Park",
    "contact_email": "dpark@example.com",
    "vertical": "property_management",
    "postal_code": "30328",
    "buildings_managed": 28,
    "units": 1400,
}


async def create_prospect(
    client: httpx.AsyncClient, tenant: Tenant, **fields: Any
) -> dict[str, Any]:
    """POST /prospects (201 asserted); the prospect."""
    r = await client.post(PROSPECTS, json=fields, headers=tenant.headers)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def set_service_area(
    client: httpx.AsyncClient, tenant: Tenant, area: dict[str, Any] | None = None, **extra: Any
) -> None:
    """Give the tenant a service area (and other settings)."""
    settings = {"service_area": area or AREA, **extra}
    r = await client.patch(
        f"{ORGS}/{tenant.id}", json={"settings": settings}, headers=tenant.headers
    )
    assert r.status_code == 200, r.text


async def qualify(client: httpx.AsyncClient, tenant: Tenant, prospect_id: str) -> dict[str, Any]:
    """POST /prospects/qualify for one prospect (200 asserted); the verdict."""
    r = await client.post(
        f"{PROSPECTS}/qualify", json={"prospect_id": prospect_id}, headers=tenant.headers
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


@asynccontextmanager
async def prospects_worker(runtime: Runtime) -> AsyncIterator[JobWorker]:
    """A job worker running the batch qualification task, in this event loop."""
    async with job_worker(runtime, [TASKS[QUALIFY_BATCH_TASK]]) as worker:
        yield worker
