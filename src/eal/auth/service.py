"""Issuing and revoking API keys (no HTTP)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncConnection

from eal import events
from eal.auth.context import Actor
from eal.auth.keys import generate_key, hash_key, key_prefix
from eal.auth.models import api_keys
from eal.auth.scopes import Environment, Scope
from eal.errors import NotFound
from eal.kit.clock import utcnow


async def create_api_key(
    conn: AsyncConnection,
    actor: Actor,
    *,
    organization_id: uuid.UUID,
    scopes: list[Scope],
    environment: Environment = Environment.LIVE,
    name: str | None = None,
) -> dict[str, Any]:
    """Issue a key for `organization_id`; the returned dict holds the secret once."""
    secret = generate_key(environment)
    now = utcnow()
    scope_values = [s.value for s in dict.fromkeys(scopes)]
    row = (
        await conn.execute(
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
        conn,
        actor,
        "api_key.created",
        {
            "api_key_id": str(row.id),
            "name": name,
            "prefix": key_prefix(secret),
            "scopes": scope_values,
            "environment": environment.value,
        },
        organization_id=organization_id,
    )
    return {
        "id": row.id,
        "organization_id": organization_id,
        "name": name,
        "key": secret,
        "prefix": key_prefix(secret),
        "scopes": scope_values,
        "environment": environment.value,
        "created_at": now,
    }


async def revoke_api_key(conn: AsyncConnection, actor: Actor, key_id: uuid.UUID) -> dict[str, Any]:
    """Revoke a key; it stops working for the next request."""
    row = (
        await conn.execute(
            update(api_keys)
            .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=utcnow())
            .returning(api_keys.c.id, api_keys.c.organization_id, api_keys.c.revoked_at)
        )
    ).first()
    if row is None:
        raise NotFound(f"No active API key {key_id}.")
    await events.record(
        conn,
        actor,
        "api_key.revoked",
        {"api_key_id": str(key_id)},
        organization_id=row.organization_id,
    )
    return {"id": row.id, "organization_id": row.organization_id, "revoked_at": row.revoked_at}
