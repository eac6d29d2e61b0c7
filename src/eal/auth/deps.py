"""Authentication and authorisation as FastAPI dependencies.

Each endpoint states its scope in its signature, e.g. `auth: LeadsRead`.
Resolution happens on the request's own connection: `eal_authenticate`
finds the key and sets the transaction's tenant in the same statement.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import text

from eal.api.state import app_state
from eal.auth.context import AuthContext
from eal.auth.keys import hash_key, looks_like_key
from eal.auth.scopes import Environment, GrantScope, Scope, grants
from eal.db.engine import driver_connection, set_tenant
from eal.errors import Forbidden, InvalidRequest, RateLimited, Unauthenticated
from eal.kit import idempotency

# Every authenticated request runs this first, so it runs on the driver.
_AUTHENTICATE = (
    "SELECT key_id, organization_id, scopes, environment, parent_organization_id, "
    "config_revision FROM eal_authenticate($1)"
)
_GRANT_COVERS = text(
    "SELECT 1 FROM org_grants g JOIN organizations o ON o.id = g.organization_id "
    "WHERE g.organization_id = :child AND g.parent_organization_id = :parent "
    "AND o.parent_organization_id = :parent AND g.expires_at > now() "
    "AND :scope = ANY(g.scopes) LIMIT 1"
)
ORG_HEADER = "x-eal-organization"
SOURCE_HEADER = "x-eal-source"
CLIENT_SOURCES = {"api": "api", "n8n": "n8n"}
READ_METHODS = {"GET", "HEAD"}


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated(
            "Authorization header must be 'Bearer eal_live_...' or 'Bearer eal_test_...'."
        )
    return token.strip()


async def _rate_limit(request: Request, bucket: str) -> None:
    decision = await app_state(request).rate_limiter.hit(bucket)
    request.state.rate_limit = decision
    if not decision.allowed:
        headers = decision.headers()
        raise RateLimited(
            "Rate limit exceeded; retry after the time given in Retry-After.",
            details={
                "limit": decision.limit,
                "retry_after_seconds": int(headers["Retry-After"]),
            },
            headers=headers,
        )


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def limit_anonymous(request: Request) -> None:
    """Rate-limit a request that carries no key (by client address)."""
    await _rate_limit(request, f"ip:{_client_ip(request)}")


async def resolve_key(request: Request) -> AuthContext | None:
    """Resolve the Bearer key, if any, and apply the rate limit. No scope check."""
    token = _bearer(request)
    if token is None:
        await _rate_limit(request, f"ip:{_client_ip(request)}")
        return None
    if not looks_like_key(token):
        await _rate_limit(request, f"ip:{_client_ip(request)}")
        raise Unauthenticated("The API key is malformed.")
    driver = await driver_connection(request.state.conn)
    row = await driver.fetchrow(_AUTHENTICATE, hash_key(token))
    if row is None:
        await _rate_limit(request, f"ip:{_client_ip(request)}")
        raise Unauthenticated("The API key is unknown or has been revoked.")
    await _rate_limit(request, f"key:{row['key_id']}")
    source_header = request.headers.get(SOURCE_HEADER)
    if source_header is not None and source_header.lower() not in CLIENT_SOURCES:
        raise InvalidRequest(
            "X-EAL-Source may only be 'api' or 'n8n'.", details={"header": "X-EAL-Source"}
        )
    ctx = AuthContext(
        key_id=row["key_id"],
        organization_id=row["organization_id"],
        key_organization_id=row["organization_id"],
        parent_organization_id=row["parent_organization_id"],
        scopes=tuple(row["scopes"]),
        environment=Environment(row["environment"]),
        source=CLIENT_SOURCES[(source_header or "api").lower()],
        correlation_id=request.state.request_id,
        config_revision=row["config_revision"],
    )
    request.state.auth = ctx
    return ctx


async def _act_for_child(
    request: Request, ctx: AuthContext, resource: GrantScope | None
) -> AuthContext:
    raw = request.headers.get(ORG_HEADER)
    if raw is None:
        return ctx
    if request.method not in READ_METHODS:
        raise Forbidden("X-EAL-Organization allows read-only (GET) requests only.")
    try:
        child = uuid.UUID(raw)
    except ValueError as exc:
        raise InvalidRequest(
            "X-EAL-Organization must be an organization id (UUID).",
            details={"header": "X-EAL-Organization"},
        ) from exc
    if child == ctx.organization_id:
        return ctx
    if resource is None:
        raise Forbidden("This endpoint cannot be read on behalf of another organization.")
    conn = request.state.conn
    covered = await conn.scalar(
        _GRANT_COVERS, {"child": child, "parent": ctx.organization_id, "scope": resource.value}
    )
    if not covered:
        raise Forbidden(
            f"No active grant from organization {child} covers {resource.value}.",
            details={"organization_id": str(child), "required_grant": resource.value},
        )
    await set_tenant(conn, child)
    acting = replace(ctx, organization_id=child, config_revision=None)
    request.state.auth = acting
    return acting


async def _claim_idempotency(request: Request, ctx: AuthContext) -> None:
    raw = request.headers.get("idempotency-key")
    if raw is None or request.method != "POST":
        return
    key = idempotency.check_key(raw)
    body = await request.body()
    request.state.idempotency = await idempotency.claim(
        request.state.conn,
        api_key_id=ctx.key_id,
        organization_id=ctx.organization_id,
        key=key,
        request_hash=idempotency.request_fingerprint(
            request.method, request.url.path, request.url.query, body
        ),
        box=app_state(request).secret_box,
    )


def require(
    scope: Scope, resource: GrantScope | None = None
) -> Callable[[Request], Awaitable[AuthContext]]:
    """A dependency that demands a key holding `scope`.

    `resource` names the grant that lets a parent organization read this
    endpoint for a child (X-EAL-Organization); without it, roll-up is refused.
    """

    async def dependency(request: Request) -> AuthContext:
        ctx = await resolve_key(request)
        if ctx is None:
            raise Unauthenticated("Missing API key: send 'Authorization: Bearer eal_live_...'.")
        if not grants(ctx.scopes, scope):
            raise Forbidden(
                f"This API key lacks the '{scope.value}' scope.",
                details={"required_scope": scope.value, "key_scopes": list(ctx.scopes)},
            )
        ctx = await _act_for_child(request, ctx, resource)
        await _claim_idempotency(request, ctx)
        return ctx

    return dependency


async def optional_auth(request: Request) -> AuthContext | None:
    """Resolve a key when one is sent (health), without demanding a scope."""
    return await resolve_key(request)


ReadAuth = Annotated[AuthContext, Depends(require(Scope.READ))]
WriteAuth = Annotated[AuthContext, Depends(require(Scope.WRITE))]
AdminAuth = Annotated[AuthContext, Depends(require(Scope.ADMIN))]
AuditRead = Annotated[AuthContext, Depends(require(Scope.READ, GrantScope.AUDIT_LOG_READ))]
LeadsRead = Annotated[AuthContext, Depends(require(Scope.READ, GrantScope.LEADS_READ))]
CallsRead = Annotated[AuthContext, Depends(require(Scope.READ, GrantScope.CALLS_READ))]
OptionalAuth = Annotated[AuthContext | None, Depends(optional_auth)]
