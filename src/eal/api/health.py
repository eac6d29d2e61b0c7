"""GET /health: service pulse plus the calling identity when a key is sent."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy import text

from eal.api.deps import TxDep
from eal.api.routing import api_router
from eal.auth.deps import OptionalAuth
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
async def health(auth: OptionalAuth, tx: TxDep) -> HealthOut:
    """200 when the API and its database answer; with a key, who you are."""
    await tx.conn.execute(text("SELECT 1"))
    out = HealthOut(status="ok", version="v1", timestamp=tx.clock.now())
    if auth is not None:
        out.tenant_id = str(auth.key_organization_id)
        out.environment = auth.environment.value
        out.scopes = list(auth.scopes)
    return out
