"""Response bodies of the audit-log endpoints."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel

from eal.kit.paging import Page
from eal.kit.schemas import Timestamp


class AuditEntryOut(BaseModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    action: str
    source: str
    correlation_id: str | None
    payload: dict[str, Any]
    created_at: Timestamp


class AuditPage(Page[AuditEntryOut]):
    """GET /audit-log."""
