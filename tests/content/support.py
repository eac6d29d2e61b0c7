"""What the content and reviews tests share: configured tenants, stored items, job runs."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from eal.content import repository
from eal.db.engine import Database
from eal.jobs.context import JobContext
from eal.kit.identity import Actor, Environment, Source
from eal.runtime import Runtime
from tests.factories import Factory, Tenant
from tests.integrations.fake_google_business import ACCOUNT_ID, LOCATION_ID, FakeGoogleBusiness
from tests.integrations.fake_wordpress import FakeWordPress
from tests.support import tenant_tx

CONTENT = "/api/v1/content"
ORGS = "/api/v1/organizations"
WP_USER = "dana.editor"
WP_PASSWORD = "Xk4t 9QmZ r2Vb Lp7N w8Ec Hs3J"
GBP_TOKEN = "ya29.a0AfB_test-7Qm2Zr8Vt4Kx9Lp3Nw6"
PHONE = "+17705550142"
BODY = (
    "Water damage in Roswell needs fast action.\n\n"
    "## What to do first\n\nShut off the water and call a restoration company.\n\n"
    "### Safety\n\n- Turn off power to wet rooms\n- Move valuables\n\n"
    "## Call us\n\nCall **Test Restoration** today."
)


async def configure(
    client: httpx.AsyncClient,
    tenant: Tenant,
    *,
    wordpress: FakeWordPress | None = None,
    google: FakeGoogleBusiness | None = None,
    **settings: Any,
) -> dict[str, Any]:
    """PATCH the tenant's content settings (with an admin key of the tenant); as shown."""
    integrations: dict[str, Any] = {}
    if wordpress is not None:
        integrations["wordpress"] = {
            "site_url": wordpress.site_url,
            "username": WP_USER,
            "application_password": WP_PASSWORD,
        }
    if google is not None:
        integrations["google_business"] = {
            "access_token": GBP_TOKEN,
            "account_id": ACCOUNT_ID,
            "location_id": LOCATION_ID,
            "base_url": google.base_url,
        }
    body = {"settings": {**settings, **({"integrations": integrations} if integrations else {})}}
    r = await client.patch(f"{ORGS}/{tenant.id}", json=body, headers=tenant.headers)
    assert r.status_code == 200, r.text
    shown: dict[str, Any] = r.json()["settings"]
    return shown


async def content_tenant(
    client: httpx.AsyncClient,
    factory: Factory,
    name: str,
    *,
    environment: str = "live",
    scopes: str = "admin",
    **config: Any,
) -> Tenant:
    """A new organization with its content settings (set with a live admin key)."""
    tenant = await factory.tenant(name, environment=environment, scopes=scopes)
    if config:
        admin = await factory.key(tenant.id, "admin", "live")
        live = Tenant(id=tenant.id, key=admin["key"], key_id=admin["id"], org=tenant.org)
        await configure(client, live, **config)
    return tenant


async def insert_blog(db: Database, tenant: Tenant, *, status: str = "draft", **values: Any) -> str:
    """Store a blog draft as the composer would have; its public id."""
    async with tenant_tx(db, tenant.id) as tx:
        row = await repository.insert(
            tx.conn,
            id=uuid.uuid4(),
            organization_id=tenant.id,
            type="blog",
            status=status,
            title=values.pop("title", "Water Damage Restoration in Roswell, GA"),
            meta_description=values.pop("meta_description", "Water damage roswell help."),
            slug=values.pop("slug", f"water-damage-roswell-{uuid.uuid4().hex[:8]}"),
            target_keyword=values.pop("target_keyword", "water damage roswell"),
            body=values.pop("body", BODY),
            word_count=40,
            estimated_read_time_min=1,
            provider="embedded",
            **values,
        )
        return repository.content_id(row.id)


def job_context(runtime: Runtime, tenant: Tenant, task: str, *, test: bool = False) -> JobContext:
    """A context to run one of the tenant's jobs directly (as the worker would)."""
    actor = Actor(
        organization_id=tenant.id,
        source=Source.WORKER,
        environment=Environment.TEST if test else Environment.LIVE,
    )
    return JobContext(runtime=runtime, job_id=0, task=task, attempt=1, actor=actor)


async def review_response(
    client: httpx.AsyncClient, tenant: Tenant, **fields: Any
) -> dict[str, Any]:
    body = {
        "platform": "google",
        "review_id": f"r_{uuid.uuid4().hex[:12]}",
        "rating": 5,
        "review_text": "The crew was fast and professional, they dried our basement in two days.",
        "reviewer_name": "Sarah Kim",
        **fields,
    }
    r = await client.post(f"{CONTENT}/review-response", json=body, headers=tenant.headers)
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created
