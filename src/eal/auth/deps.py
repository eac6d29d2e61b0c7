"""Authentication and authorisation as FastAPI dependencies.

Each endpoint states its scope in its signature through its domain's alias,
e.g. `auth: LeadsRead` (aliases live with their domain, built with
`require`). Resolution happens on the request's own connection:
`eal_authenticate` finds the key and sets the transaction's tenant in the
same statement. The steps are separate functions: `authenticate` (the key and
its rate limit), the scope check, `act_for_child` (a parent reading a child
through a grant), then the route binds the identity to the transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import text

from eal.api.deps import runtime_of
from eal.api.routing import authenticated
from eal.auth.context import AuthContext
from eal.auth.keys import hash_key, looks_like_key
from eal.auth.scopes import GrantScope, Scope, grants
from eal.db.tx import Tx
from eal.errors import Forbidden, InvalidRequest, RateLimited, Unauthenticated
from eal.kit.identity import Environment, Source

# Every authenticated request runs this first, so it runs on the driver.
_AUTHENTICATE = (
    "SELECT key_id, organization_id, scopes, environment, config_revision FROM eal_authenticate($1)"
)
_GRANT_COVERS = text(
    "SELECT 1 FROM org_grants g JOIN organizations o ON o.id = g.organization_id "
    "WHERE g.organization_id = :child AND g.parent_organization_id = :parent "
    "AND o.parent_organization_id = :parent AND g.expires_at > :now "
    "AND :scope = ANY(g.scopes) LIMIT 1"
)
ORG_HEADER = "x-eal-organization"
SOURCE_HEADER = "x-eal-source"
#: What a client may declare itself as (X-EAL-Source).
CLIENT_SOURCES = {"api": Source.API, "n8n": Source.N8N}
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
    decision = await runtime_of(request).rate_limiter.hit(bucket)
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


async def authenticate(request: Request) -> AuthContext | None:
    """Resolve the Bearer key, if any, and apply its rate limit. No scope check.

    Without a key the client address's bucket is charged and None returned.
    """
    return await authenticate_key(request, _bearer(request))


async def authenticate_key(request: Request, token: str | None) -> AuthContext | None:
    """Like `authenticate`, for a key given otherwise (the console's sign-in form)."""
    if token is None:
        await limit_anonymous(request)
        return None
    if not looks_like_key(token):
        await limit_anonymous(request)
        raise Unauthenticated("The API key is malformed.")
    tx: Tx = request.state.tx
    driver = await tx.driver()
    row = await driver.fetchrow(_AUTHENTICATE, hash_key(token))
    if row is None:
        await limit_anonymous(request)
        raise Unauthenticated("The API key is unknown or has been revoked.")
    await _rate_limit(request, f"key:{row['key_id']}")
    source_header = request.headers.get(SOURCE_HEADER)
    if source_header is not None and source_header.lower() not in CLIENT_SOURCES:
        raise InvalidRequest(
            "X-EAL-Source may only be 'api' or 'n8n'.", details={"header": "X-EAL-Source"}
        )
    return AuthContext(
        key_id=row["key_id"],
        organization_id=row["organization_id"],
        key_organization_id=row["organization_id"],
        scopes=tuple(row["scopes"]),
        environment=Environment(row["environment"]),
        source=CLIENT_SOURCES[(source_header or "api").lower()],
        correlation_id=request.state.request_id,
        config_revision=row["config_revision"],
    )


def check_scope(auth: AuthContext, scope: Scope) -> None:
    """Refuse a key that does not hold `scope` (403 naming what is missing)."""
    if not grants(auth.scopes, scope):
        raise Forbidden(
            f"This API key lacks the '{scope.value}' scope.",
            details={"required_scope": scope.value, "key_scopes": list(auth.scopes)},
        )


async def act_for_child(
    request: Request, auth: AuthContext, resource: GrantScope | None
) -> AuthContext:
    """Switch to the child named by X-EAL-Organization when an active grant allows it."""
    raw = request.headers.get(ORG_HEADER)
    if raw is None:
        return auth
    if request.method not in READ_METHODS:
        raise Forbidden("X-EAL-Organization allows read-only (GET) requests only.")
    try:
        child = uuid.UUID(raw)
    except ValueError as exc:
        raise InvalidRequest(
            "X-EAL-Organization must be an organization id (UUID).",
            details={"header": "X-EAL-Organization"},
        ) from exc
    if child == auth.organization_id:
        return auth
    if resource is None:
        raise Forbidden("This endpoint cannot be read on behalf of another organization.")
    tx: Tx = request.state.tx
    covered = await tx.conn.scalar(
        _GRANT_COVERS,
        {
            "child": child,
            "parent": auth.organization_id,
            "scope": resource.value,
            "now": tx.now(),
        },
    )
    if not covered:
        raise Forbidden(
            f"No active grant from organization {child} covers {resource.value}.",
            details={"organization_id": str(child), "required_grant": resource.value},
        )
    await tx.set_tenant(child)
    return replace(auth, organization_id=child, config_revision=None)


def require(
    scope: Scope, resource: GrantScope | None = None
) -> Callable[[Request], Awaitable[AuthContext]]:
    """A dependency that demands a key holding `scope`.

    `resource` names the grant that lets a parent organization read this
    endpoint for a child (X-EAL-Organization); without it, roll-up is refused.
    """

    async def dependency(request: Request) -> AuthContext:
        auth = await authenticate(request)
        if auth is None:
            raise Unauthenticated("Missing API key: send 'Authorization: Bearer eal_live_...'.")
        check_scope(auth, scope)
        auth = await act_for_child(request, auth, resource)
        await authenticated(request, auth)
        return auth

    return dependency


async def optional_auth(request: Request) -> AuthContext | None:
    """Resolve a key when one is sent (health), without demanding a scope."""
    auth = await authenticate(request)
    if auth is not None:
        await authenticated(request, auth)
    return auth


OptionalAuth = Annotated[AuthContext | None, Depends(optional_auth)]
