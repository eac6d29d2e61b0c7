"""What the key service returns."""

from __future__ import annotations

import uuid

from pydantic import BaseModel

from eal.kit.schemas import Timestamp


class ApiKeyCreated(BaseModel):
    """A newly issued key: the secret appears only here."""

    id: uuid.UUID
    organization_id: uuid.UUID
    name: str | None
    key: str
    prefix: str
    scopes: list[str]
    environment: str
    created_at: Timestamp


class ApiKeyRevoked(BaseModel):
    """A key that stopped working."""

    id: uuid.UUID
    organization_id: uuid.UUID
    revoked_at: Timestamp
