"""Settings in the console (owners only): users, API keys and webhook endpoints.

Each change is the service call the API or the CLI makes: a key's secret and
a new user's sign-in link are shown once, on the page that answers the form.
"""

from __future__ import annotations

import uuid
from typing import Any

from email_validator import EmailNotValidError, validate_email
from fastapi import Request
from starlette.responses import Response

from eal.api.deps import runtime_of
from eal.api.paging import page_query
from eal.api.routing import api_router
from eal.apikeys import repository as keys
from eal.apikeys.service import create_api_key, revoke_api_key
from eal.auth.scopes import Scope
from eal.console import service
from eal.console.roles import Role
from eal.console.web import form_post, page, redirect, signed_in, uuid_or_404
from eal.errors import AppError
from eal.kit.identity import Environment
from eal.kit.paging import PageQuery
from eal.webhooks import service as webhooks

router = api_router(accepts_form=True, include_in_schema=False)
#: API keys listed on the page (the CLI pages through any number).
KEYS_SHOWN = 100


def _uuid(text: str, what: str) -> uuid.UUID:
    return uuid_or_404(text, f"No such {what}.")


async def _settings_page(request: Request, *, status: int = 200, **context: Any) -> Response:
    tx = request.state.tx
    session = request.state.console_session
    key_rows = await keys.organization_page(tx.conn, session.organization_id, PageQuery(KEYS_SHOWN))
    endpoints = await webhooks.list_webhooks(tx, PageQuery(50))
    return page(
        request,
        "settings.html",
        status=status,
        session=session,
        title="Settings",
        users=await service.list_users(tx),
        keys=key_rows[:KEYS_SHOWN],
        webhooks=endpoints.data,
        roles=[role.value for role in Role],
        **context,
    )


@router.get("/console/settings")
async def settings_page(request: Request) -> Response:
    """Users, API keys and webhook endpoints."""
    acting = await signed_in(request, Scope.ADMIN)
    if isinstance(acting, Response):
        return acting
    return await _settings_page(request, notice=request.query_params.get("done") or None)


@router.post("/console/settings/users")
async def add_user(request: Request) -> Response:
    """Add a console user; their one-time sign-in link is shown once."""
    acting = await form_post(request, Scope.ADMIN)
    if isinstance(acting, Response):
        return acting
    _, fields = acting
    role = fields.get("role", "")
    try:
        email = validate_email(
            fields.get("email", "").strip(), check_deliverability=False
        ).normalized.lower()
    except EmailNotValidError:
        return await _settings_page(request, status=422, user_error="Enter an email address.")
    if role not in Role._value2member_map_:
        return await _settings_page(request, status=422, user_error="Choose a role.")
    tx = request.state.tx
    try:
        user = await service.create_user(tx, email, Role(role))
    except AppError as exc:
        return await _settings_page(request, status=exc.status_code, user_error=exc.message)
    token = await service.issue_link(tx, user.id)
    base = runtime_of(request).settings.public_url.rstrip("/")
    return await _settings_page(request, new_user=user, new_link=f"{base}/console/sign-in/{token}")


@router.post("/console/settings/users/{user_id}/disable")
async def disable_user(request: Request, user_id: str) -> Response:
    """Stop a user from signing in (their sessions end too)."""
    acting = await form_post(request, Scope.ADMIN)
    if isinstance(acting, Response):
        return acting
    session, _ = acting
    uid = _uuid(user_id, "console user")
    if uid == session.user_id:
        return await _settings_page(
            request, status=409, user_error="You cannot disable yourself; ask another owner."
        )
    await service.disable_user(request.state.tx, uid)
    return redirect("/console/settings?done=user_disabled#users")


@router.post("/console/settings/keys")
async def add_key(request: Request) -> Response:
    """Issue an API key; its secret is shown once."""
    acting = await form_post(request, Scope.ADMIN)
    if isinstance(acting, Response):
        return acting
    session, fields = acting
    scope = fields.get("scope", "")
    environment = fields.get("environment", "live")
    name = fields.get("name", "").strip() or None
    if scope not in Scope._value2member_map_ or environment not in Environment._value2member_map_:
        return await _settings_page(request, status=422, key_error="Choose a scope and a kind.")
    if name is not None and len(name) > 200:
        return await _settings_page(request, status=422, key_error="The name is too long.")
    created = await create_api_key(
        request.state.tx,
        organization_id=session.organization_id,
        scopes=[Scope(scope)],
        environment=Environment(environment),
        name=name,
    )
    return await _settings_page(request, new_key=created)


@router.post("/console/settings/keys/{key_id}/revoke")
async def revoke_key(request: Request, key_id: str) -> Response:
    """Revoke an API key: it stops working with the next request."""
    acting = await form_post(request, Scope.ADMIN)
    if isinstance(acting, Response):
        return acting
    await revoke_api_key(request.state.tx, _uuid(key_id, "API key"))
    return redirect("/console/settings?done=key_revoked#keys")


@router.get("/console/settings/webhooks/{webhook_id}")
async def webhook_page(request: Request, webhook_id: str, cursor: str | None = None) -> Response:
    """One endpoint's deliveries, newest first, with redelivery."""
    session = await signed_in(request, Scope.ADMIN)
    if isinstance(session, Response):
        return session
    tx = request.state.tx
    uid = _uuid(webhook_id, "webhook endpoint")
    endpoint = await webhooks.get_webhook(tx, uid)
    deliveries = await webhooks.list_deliveries(tx, uid, await page_query(cursor=cursor or None))
    return page(
        request,
        "webhook.html",
        session=session,
        title="Webhook endpoint",
        endpoint=endpoint,
        deliveries=deliveries.data,
        next_cursor=deliveries.next_cursor,
        notice=request.query_params.get("done") or None,
    )


@router.post("/console/settings/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver")
async def redeliver(request: Request, webhook_id: str, delivery_id: str) -> Response:
    """Send one delivery again."""
    acting = await form_post(request, Scope.ADMIN)
    if isinstance(acting, Response):
        return acting
    await webhooks.redeliver(request.state.tx, _uuid(webhook_id, "webhook endpoint"), delivery_id)
    return redirect(f"/console/settings/webhooks/{webhook_id}?done=redelivered")
