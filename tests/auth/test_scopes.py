"""The scope ladder admin ⊇ write ⊇ read, through the real dependencies on probe routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends

from eal.api.routing import api_router
from eal.app import create_app
from eal.auth.context import AuthContext
from eal.auth.deps import require
from eal.auth.scopes import Scope
from tests.support import assert_error

ReadAuth = Annotated[AuthContext, Depends(require(Scope.READ))]
WriteAuth = Annotated[AuthContext, Depends(require(Scope.WRITE))]
AdminAuth = Annotated[AuthContext, Depends(require(Scope.ADMIN))]


@pytest.fixture(scope="module")
async def probe_client(settings) -> AsyncIterator[httpx.AsyncClient]:
    """An app with one route per scope level (and the real auth dependencies)."""
    app = create_app(settings)
    router = api_router(tags=["probe"])

    @router.get("/probe/read")
    async def probe_read(auth: ReadAuth) -> dict[str, Any]:
        return {"scope": "read", "org": str(auth.organization_id)}

    @router.post("/probe/write")
    async def probe_write(auth: WriteAuth) -> dict[str, Any]:
        return {"scope": "write", "org": str(auth.organization_id)}

    @router.post("/probe/admin")
    async def probe_admin(auth: AdminAuth) -> dict[str, Any]:
        return {"scope": "admin", "org": str(auth.organization_id)}

    app.include_router(router, prefix="/api/v1")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


async def _status(client: httpx.AsyncClient, level: str, headers: dict[str, str]) -> int:
    method = client.get if level == "read" else client.post
    r = await method(f"/api/v1/probe/{level}", headers=headers)
    if r.status_code == 403:
        error = assert_error(r, 403, "forbidden")
        assert error["details"]["required_scope"] == level
    return r.status_code


@pytest.mark.parametrize(
    ("scopes", "expected"),
    [
        ("read", {"read": 200, "write": 403, "admin": 403}),
        ("write", {"read": 200, "write": 200, "admin": 403}),
        ("read,write", {"read": 200, "write": 200, "admin": 403}),
        ("admin", {"read": 200, "write": 200, "admin": 200}),
    ],
)
async def test_scope_ladder(probe_client, factory, scopes, expected):
    t = await factory.tenant(f"Ladder {scopes}", scopes=scopes)
    got = {level: await _status(probe_client, level, t.headers) for level in expected}
    assert got == expected


async def test_missing_key_is_401_before_any_scope_check(probe_client):
    for level in ("read", "write", "admin"):
        method = probe_client.get if level == "read" else probe_client.post
        assert_error(await method(f"/api/v1/probe/{level}"), 401, "unauthenticated")


async def test_admin_only_organizations_endpoints_refuse_a_write_key(client, factory):
    t = await factory.tenant("Writer Co", scopes="read,write")
    r = await client.get("/api/v1/organizations", headers=t.headers)
    assert_error(r, 403, "forbidden")
    r = await client.patch(f"/api/v1/organizations/{t.id}", json={"name": "X"}, headers=t.headers)
    assert_error(r, 403, "forbidden")
