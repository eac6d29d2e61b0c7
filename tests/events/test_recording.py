"""The audit trail: written in the request's transaction, append-only for everyone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from starlette.responses import JSONResponse

from eal import events
from eal.api.deps import TxDep
from eal.api.routing import api_router
from eal.app import create_app
from eal.auth.context import AuthContext
from eal.auth.deps import require
from eal.auth.scopes import Scope
from eal.errors import Conflict
from eal.events import Action
from tests.support import assert_error, audit_entries


@pytest.fixture(scope="module")
async def probe_client(settings) -> AsyncIterator[httpx.AsyncClient]:
    """Routes that write an audit entry and then succeed or fail in different ways."""
    app = create_app(settings)
    router = api_router(tags=["probe"])

    @router.post("/probe/audit/{outcome}")
    async def audit_then(
        outcome: str, auth: Annotated[AuthContext, Depends(require(Scope.WRITE))], tx: TxDep
    ) -> Any:
        await events.record(tx, Action.LEAD_SCORED, {"outcome": outcome})
        if outcome == "conflict":
            raise Conflict("refused after writing")
        if outcome == "crash":
            raise RuntimeError("crashed after writing")
        if outcome == "status":
            return JSONResponse({"refused": True}, status_code=409)
        return {"ok": True}

    app.include_router(router, prefix="/api/v1")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


async def test_entry_commits_with_a_successful_request(probe_client, factory, db):
    t = await factory.tenant("Committed Co", scopes="read,write")
    r = await probe_client.post(
        "/api/v1/probe/audit/ok", headers={**t.headers, "X-Request-ID": "corr_ok"}
    )
    assert r.status_code == 200, r.text
    [entry] = await audit_entries(db, t.id, "lead.scored")
    assert entry["payload"] == {"outcome": "ok", "key_id": str(t.key_id)}
    assert entry["correlation_id"] == "corr_ok"


@pytest.mark.parametrize(
    ("outcome", "status"), [("conflict", 409), ("status", 409), ("crash", 500)]
)
async def test_entry_rolls_back_with_a_failed_request(probe_client, factory, db, outcome, status):
    t = await factory.tenant(f"Rolled Back {outcome}", scopes="read,write")
    r = await probe_client.post(f"/api/v1/probe/audit/{outcome}", headers=t.headers)
    assert r.status_code == status
    assert await audit_entries(db, t.id, "lead.scored") == []


async def test_runtime_role_cannot_update_or_delete_entries(db, factory):
    t = await factory.tenant("Tamper Co")
    for statement in (
        "UPDATE platform_events SET action = 'forged' WHERE organization_id = :org",
        "DELETE FROM platform_events WHERE organization_id = :org",
    ):
        with pytest.raises(DBAPIError, match="permission denied"):
            async with db.tenant_transaction(t.id) as conn:
                await conn.execute(text(statement), {"org": t.id})
    assert len(await audit_entries(db, t.id)) == 2


async def test_trigger_refuses_update_and_delete_even_for_the_owner(db, factory):
    t = await factory.tenant("Superuser Tamper Co")
    for statement in (
        "UPDATE platform_events SET payload = '{}'::jsonb WHERE organization_id = :org",
        "DELETE FROM platform_events WHERE organization_id = :org",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            async with db.system_transaction() as conn:
                await conn.execute(text(statement), {"org": t.id})
    assert [e["action"] for e in await audit_entries(db, t.id)] == [
        "organization.created",
        "api_key.created",
    ]


async def test_every_core_change_is_audited_once(client, factory, db):
    parent = await factory.tenant("Trail Parent")
    r = await client.post(
        "/api/v1/organizations", json={"name": "Trail Child"}, headers=parent.headers
    )
    child_id = r.json()["id"]
    token = r.json()["invite_url"].rsplit("/", 1)[-1]
    accepted = (await client.post(f"/api/v1/invites/{token}/accept")).json()
    child_headers = {"Authorization": f"Bearer {accepted['api_key']['key']}"}
    r = await client.patch(
        f"/api/v1/organizations/{child_id}", json={"name": "Trail Child 2"}, headers=child_headers
    )
    assert r.status_code == 200, r.text
    r = await client.post(
        f"/api/v1/organizations/{child_id}/grants",
        json={
            "parent_organization_id": str(parent.id),
            "scopes": ["audit_log.read"],
            "expires_at": "2099-01-01T00:00:00Z",
        },
        headers=child_headers,
    )
    assert r.status_code == 201, r.text
    assert [e["action"] for e in await audit_entries(db, child_id)] == [
        "organization.created",
        "invite.accepted",
        "api_key.created",
        "organization.updated",
        "grant.created",
    ]
    # A rejected request adds nothing.
    r = await client.patch(
        f"/api/v1/organizations/{child_id}", json={"name": ""}, headers=child_headers
    )
    assert_error(r, 422, "validation_failed")
    assert len(await audit_entries(db, child_id)) == 5
