"""GET /health: service pulse plus the calling identity when a key is sent."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from sqlalchemy import text

from eal.api.deps import DbConn
from eal.api.routing import api_router
from eal.auth.deps import OptionalAuth
from eal.kit.clock import utcnow
from eal.kit.schemas import Timestamp

router = api_router(tags=["health"])


class HealthOut(BaseModel):
    status: str
    version: str
    tenant_id: str | None = None
    environment: str | None = None
    scopes: list[str] | None = None
    timestamp: Timestamp


@router.get("/health", response_model=HealthOut, response_model_exclude_none=True)
async def health(auth: OptionalAuth, conn: DbConn) -> dict[str, Any]:
    """200 when the API and its database answer; with a key, who you are."""
    await conn.execute(text("SELECT 1"))
    body: dict[str, Any] = {"status": "ok", "version": "v1", "timestamp": utcnow()}
    if auth is not None:
        body.update(
            tenant_id=str(auth.key_organization_id),
            environment=auth.environment.value,
            scopes=list(auth.scopes),
        )
    return body
