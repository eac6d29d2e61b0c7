"""Issuing and revoking API keys (no HTTP)."""

from __future__ import annotations

import uuid

from sqlalchemy import insert, update

from eal import events
from eal.apikeys.models import api_keys
from eal.apikeys.schemas import ApiKeyCreated, ApiKeyRevoked
from eal.auth.keys import generate_key, hash_key, key_prefix
from eal.auth.scopes import Scope
from eal.db.tx import Tx
from eal.errors import NotFound
from eal.events import Action
from eal.kit.identity import Environment


async def create_api_key(
    tx: Tx,
    *,
    organization_id: uuid.UUID,
    scopes: list[Scope],
    environment: Environment = Environment.LIVE,
    name: str | None = None,
) -> ApiKeyCreated:
    """Issue a key for `organization_id`; the result holds the secret, this once."""
    secret = generate_key(environment)
    now = tx.now()
    scope_values = [s.value for s in dict.fromkeys(scopes)]
    row = (
        await tx.conn.execute(
            insert(api_keys)
            .values(
                organization_id=organization_id,
                name=name,
                prefix=key_prefix(secret),
                key_hash=hash_key(secret),
                scopes=scope_values,
                environment=environment.value,
                created_at=now,
            )
            .returning(api_keys.c.id)
        )
    ).one()
    await events.record(
        tx,
        Action.API_KEY_CREATED,
        {
            "api_key_id": str(row.id),
            "name": name,
            "prefix": key_prefix(secret),
            "scopes": scope_values,
            "environment": environment.value,
        },
        organization_id=organization_id,
    )
    return ApiKeyCreated(
        id=row.id,
        organization_id=organization_id,
        name=name,
        key=secret,
        prefix=key_prefix(secret),
        scopes=scope_values,
        environment=environment.value,
        created_at=now,
    )


async def revoke_api_key(tx: Tx, key_id: uuid.UUID) -> ApiKeyRevoked:
    """Revoke a key; it stops working for the next request."""
    row = (
        await tx.conn.execute(
            update(api_keys)
            .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=tx.now())
            .returning(api_keys.c.id, api_keys.c.organization_id, api_keys.c.revoked_at)
        )
    ).first()
    if row is None:
        raise NotFound(f"No active API key {key_id}.")
    await events.record(
        tx,
        Action.API_KEY_REVOKED,
        {"api_key_id": str(key_id)},
        organization_id=row.organization_id,
    )
    return ApiKeyRevoked(id=row.id, organization_id=row.organization_id, revoked_at=row.revoked_at)
