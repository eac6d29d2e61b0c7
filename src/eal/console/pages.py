"""The console's routes: sign-in, sign-out, Today, and the invite page.

Each request is one transaction (the API's route class), so a page reads and a
form changes under the session's tenant exactly as an API request would.
"""

from __future__ import annotations

import structlog
from email_validator import EmailNotValidError, validate_email
from fastapi import Request
from starlette.responses import Response

from eal.api.deps import runtime_of
from eal.api.routing import api_router
from eal.auth.deps import authenticate_key, check_scope
from eal.auth.scopes import Scope
from eal.console import service, today
from eal.console.mail import send_sign_in_link
from eal.console.roles import Role
from eal.console.web import (
    LOGIN,
    bind_session,
    check_csrf,
    check_form_token,
    clear_session_cookie,
    current_session,
    form,
    form_page,
    page,
    redirect,
    set_session_cookie,
)
from eal.db.tx import Tx
from eal.errors import Forbidden, Unauthenticated
from eal.organizations import repository as organizations_repository
from eal.organizations import service as organizations

log = structlog.get_logger(__name__)

router = api_router(accepts_form=True, include_in_schema=False)


def _link_url(request: Request, token: str) -> str:
    base = runtime_of(request).settings.public_url.rstrip("/")
    return f"{base}/console/sign-in/{token}"


@router.get("/console")
async def today_page(request: Request) -> Response:
    """Today: what came in over the last day and what waits for someone."""
    session = await current_session(request)
    if session is None:
        return redirect(LOGIN)
    figures = await today.today(request.state.tx)
    return page(request, "today.html", session=session, today=figures, title="Today")


@router.get("/console/login")
async def login_page(request: Request) -> Response:
    """Sign in: a link by email, or an admin API key."""
    if await current_session(request) is not None:
        return redirect("/console")
    return form_page(request, "login.html", title="Sign in")


@router.post("/console/login")
async def login(request: Request) -> Response:
    """Email a sign-in link to every console user with this address.

    The answer is the same whether or not the address has an account, so the
    page does not tell who uses the console.
    """
    fields = await form(request)
    check_form_token(request, fields)
    raw = fields.get("email", "").strip()
    try:
        email = validate_email(raw, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return form_page(
            request,
            "login.html",
            status=422,
            title="Sign in",
            email=raw[:254],
            email_error="Enter the email address you sign in with.",
        )
    tx: Tx = request.state.tx
    runtime = runtime_of(request)
    for user_id, organization_id in await service.users_with_email(tx, email):
        await tx.set_tenant(organization_id)
        token = await service.issue_link(tx, user_id, service.EMAIL_LINK_TTL)
        await send_sign_in_link(runtime, organization_id, email, _link_url(request, token), tx)
    return form_page(request, "login.html", title="Check your email", sent_to=email)


@router.post("/console/key")
async def key_login(request: Request) -> Response:
    """Open a session with an admin API key (an owner's session, ended with the key)."""
    fields = await form(request)
    check_form_token(request, fields)
    key = fields.get("api_key", "").strip()
    try:
        auth = await authenticate_key(request, key or None)
        if auth is None:
            raise Unauthenticated("Enter an admin API key.")
        check_scope(auth, Scope.ADMIN)
    except (Unauthenticated, Forbidden) as exc:
        message = (
            "That key cannot open the console: it needs the admin scope."
            if isinstance(exc, Forbidden)
            else "That API key is unknown or has been revoked."
        )
        return form_page(
            request, "login.html", status=exc.status_code, title="Sign in", key_error=message
        )
    tx: Tx = request.state.tx
    cookie, session = await service.open_session(
        tx, auth.organization_id, Role.OWNER, api_key_id=auth.key_id, environment=auth.environment
    )
    bind_session(request, session)
    log.info("console_signed_in", by="api_key", session_id=str(session.id))
    response = redirect("/console")
    set_session_cookie(request, response, cookie)
    return response


@router.get("/console/sign-in/{token}")
async def sign_in_page(request: Request, token: str) -> Response:
    """A sign-in link's page: one button that uses it (a GET never does, so mail
    scanners that open links cannot spend them)."""
    tx: Tx = request.state.tx
    target = await service.link_target(tx, token)
    org = await organizations_repository.get(tx.conn, target.organization_id)
    return form_page(
        request,
        "sign_in.html",
        title="Sign in",
        email=target.email,
        organization=org.name if org is not None else "",
    )


@router.post("/console/sign-in/{token}")
async def sign_in(request: Request, token: str) -> Response:
    """Use a sign-in link: a new session, then Today."""
    check_form_token(request, await form(request))
    tx: Tx = request.state.tx
    cookie, session = await service.redeem_link(tx, token)
    bind_session(request, session)
    log.info("console_signed_in", by="link", session_id=str(session.id))
    response = redirect("/console")
    set_session_cookie(request, response, cookie)
    return response


@router.post("/console/logout")
async def logout(request: Request) -> Response:
    """Sign out: the session ends on the server, not only in this browser."""
    session = await current_session(request)
    if session is not None:
        check_csrf(session, request, await form(request))
        await service.revoke_session(request.state.tx, session.id)
    response = redirect(LOGIN)
    clear_session_cookie(request, response)
    return response


@router.get("/invite/{token}")
async def invite_page(request: Request, token: str) -> Response:
    """An invite to a new organization: who it is for, and a button to accept it."""
    view = await organizations.view_invite(request.state.tx, token)
    return form_page(request, "invite.html", title="Invitation", invite=view)


@router.post("/invite/{token}")
async def accept_invite(request: Request, token: str) -> Response:
    """Accept an invite: the organization's first admin key (and owner), shown once."""
    check_form_token(request, await form(request))
    tx: Tx = request.state.tx
    view = await organizations.view_invite(tx, token)
    accepted = await organizations.accept_invite(tx, token, correlation_id=request.state.request_id)
    later = None
    if view.primary_admin_email:
        owner = await service.create_user(tx, view.primary_admin_email, Role.OWNER)
        cookie, session = await service.open_session(
            tx, owner.organization_id, Role.OWNER, user_id=owner.id, email=owner.email
        )
        # The owner's own link, to sign in later or on another device.
        later = _link_url(request, await service.issue_link(tx, owner.id))
    else:
        cookie, session = await service.open_session(
            tx, accepted.organization.id, Role.OWNER, api_key_id=accepted.api_key.id
        )
    bind_session(request, session)
    response = page(
        request,
        "invite_accepted.html",
        session=session,
        title="Welcome",
        organization=accepted.organization,
        api_key=accepted.api_key,
        sign_in_link=later,
    )
    set_session_cookie(request, response, cookie)
    return response
