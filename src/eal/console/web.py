"""What every console page shares: templates, the session, CSRF, cookies, error pages.

Pages are rendered on the server (Jinja2, autoescaped) and served by `eal serve`
itself; their scripts and styles are vendored under `console/static`, so the
console works offline and its Content-Security-Policy allows this origin only.

Every state-changing request (a form POST, or an htmx request) carries the
session's CSRF token, in the `csrf_token` field or the `X-CSRF-Token` header.
Before a session exists (the sign-in and invite forms) a random value is kept in
a short-lived cookie and repeated in the form (double submit).
"""

from __future__ import annotations

import hmac
import secrets
import uuid
from datetime import UTC, datetime, time
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import Request
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse, RedirectResponse, Response

from eal.api.deps import runtime_of
from eal.auth.scopes import Scope
from eal.console import service
from eal.console.roles import Role, role_allows
from eal.db.tx import Tx
from eal.errors import AppError, Forbidden, InvalidRequest, NotFound
from eal.kit.identity import Actor, Source
from eal.logging import bind_organization

HERE = Path(__file__).resolve().parent
STATIC_PREFIX = "/console/static"
LOGIN = "/console/login"
SESSION_COOKIE = "eal_console"
FORM_COOKIE = "eal_console_form"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
#: Paths whose errors are pages, not JSON envelopes.
PAGE_PREFIXES = ("/console", "/invite/")
#: The form fields a console form may send, at most.
MAX_FORM_FIELDS = 50
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# Pages show a tenant's data and some a secret shown once: no cache may keep one.
_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


@cache
def templates() -> Environment:
    """The console's Jinja2 environment (autoescaping every template)."""
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["static"] = STATIC_PREFIX
    return env


def _secure(request: Request) -> bool:
    return runtime_of(request).settings.public_url.startswith("https://")


def page(
    request: Request,
    template: str,
    *,
    status: int = 200,
    session: service.Session | None = None,
    **context: Any,
) -> HTMLResponse:
    """Render a page (with the signed-in session's name, role and CSRF token, if any)."""
    html = (
        templates()
        .get_template(template)
        .render(
            request_path=request.url.path,
            session=session,
            csrf=session.csrf_token if session else None,
            can=_can(session),
            **context,
        )
    )
    return HTMLResponse(html, status_code=status, headers=_PAGE_HEADERS)


def _can(session: service.Session | None) -> dict[str, bool]:
    if session is None:
        return {"read": False, "write": False, "admin": False}
    return {scope.value: role_allows(session.role, scope) for scope in Scope}


def redirect(location: str) -> RedirectResponse:
    """See other: where a form's POST leads."""
    return RedirectResponse(location, status_code=303)


def set_session_cookie(request: Request, response: Response, cookie: str) -> None:
    """Hand the browser its session: HttpOnly, SameSite=Lax, Secure over https."""
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=int(service.SESSION_IDLE.total_seconds()),
        path="/",
        httponly=True,
        secure=_secure(request),
        samesite="lax",
    )


def clear_session_cookie(request: Request, response: Response) -> None:
    """Forget the session in the browser."""
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, secure=_secure(request), samesite="lax"
    )


async def form(request: Request) -> dict[str, str]:
    """The POSTed form's fields (the first of each name)."""
    text = (await request.body()).decode("utf-8", "replace")
    fields: dict[str, str] = {}
    for name, value in parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS):
        fields.setdefault(name, value)
    return fields


def _bind(tx: Tx, request: Request, session: service.Session) -> None:
    tx.bind(
        Actor(
            organization_id=session.organization_id,
            source=Source.API,
            correlation_id=request.state.request_id,
            key_id=session.api_key_id,
            environment=session.environment,
            person=session.email,
        ),
        config_revision=None,
    )
    bind_organization(session.organization_id)


async def current_session(request: Request) -> service.Session | None:
    """The request's live session (bound to its transaction), or None."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie or not cookie.startswith(service.SESSION_PREFIX) or len(cookie) > 100:
        return None
    tx: Tx = request.state.tx
    session = await service.session_of(tx, cookie)
    if session is not None:
        _bind(tx, request, session)
    return session


async def signed_in(request: Request, scope: Scope | None = None) -> service.Session | Response:
    """The request's session (kept as `request.state.console_session` for the page), or the
    redirect to the sign-in page; with `scope`, a role that may not do it is refused (403)."""
    session = await current_session(request)
    if session is None:
        return redirect(LOGIN)
    request.state.console_session = session
    if scope is not None:
        require_role(session, scope)
    return session


async def form_post(
    request: Request, scope: Scope
) -> tuple[service.Session, dict[str, str]] | Response:
    """A form sent by a signed-in session: its fields, once its CSRF token is checked and its
    role may do what `scope` allows (403 otherwise); or the redirect to sign in."""
    session = await signed_in(request)
    if isinstance(session, Response):
        return session
    fields = await form(request)
    check_csrf(session, request, fields)
    require_role(session, scope)
    return session, fields


def bind_session(request: Request, session: service.Session) -> None:
    """Bind a session just opened to the request's transaction."""
    _bind(request.state.tx, request, session)


def check_csrf(session: service.Session, request: Request, fields: dict[str, str]) -> None:
    """Refuse a state-changing request without the session's CSRF token (403)."""
    sent = request.headers.get(CSRF_HEADER) or fields.get(CSRF_FIELD) or ""
    if not hmac.compare_digest(sent.encode(), session.csrf_token.encode()):
        raise Forbidden("This form has expired or did not come from this console; reload the page.")


def require_role(session: service.Session, scope: Scope) -> None:
    """Refuse (403) what the session's role may not do."""
    if not role_allows(session.role, scope):
        raise Forbidden(f"A {session.role.value} cannot do this; ask an owner of the organization.")


def form_page(request: Request, template: str, *, status: int = 200, **context: Any) -> Response:
    """A page with a form shown before sign-in: its double-submit token is in the
    form (`form_token`) and in a strict same-site cookie."""
    token = request.cookies.get(FORM_COOKIE) or secrets.token_urlsafe(24)
    response = page(request, template, status=status, form_token=token, **context)
    response.set_cookie(
        FORM_COOKIE,
        token,
        max_age=3600,
        path="/",
        httponly=True,
        secure=_secure(request),
        samesite="strict",
    )
    return response


def check_form_token(request: Request, fields: dict[str, str]) -> None:
    """Refuse a pre-sign-in form whose token does not repeat its cookie (403)."""
    cookie = request.cookies.get(FORM_COOKIE) or ""
    sent = fields.get(CSRF_FIELD) or ""
    if not cookie or not hmac.compare_digest(cookie.encode(), sent.encode()):
        raise Forbidden("This form has expired or did not come from this console; reload the page.")


def error_page(request: Request, error: AppError) -> Response:
    """An error as a page (the console's paths), with the envelope's status."""
    titles = {403: "Not allowed", 404: "Not found", 409: "Not any more", 429: "Slow down"}
    response = page(
        request,
        "error.html",
        status=error.status_code,
        title=titles.get(error.status_code, "Something went wrong"),
        message=error.message,
    )
    for name, value in error.headers.items():
        response.headers[name] = value
    return response


def _day(value: str | None, name: str) -> datetime | None:
    """A date field (YYYY-MM-DD) as the start of that day, UTC; 400 naming it when wrong."""
    if not value:
        return None
    try:
        day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError as exc:
        raise InvalidRequest(f"{name}: give a date as YYYY-MM-DD.") from exc
    if not 1900 <= day.year <= 2999:
        raise InvalidRequest(f"{name}: give a date between 1900 and 2999.")
    return day


def day_range(start: str | None, end: str | None) -> tuple[datetime | None, datetime | None]:
    """A From/To pair of date fields as the first and last instant they cover (UTC)."""
    start_at = _day(start, "From")
    end_day = _day(end, "To")
    end_at = datetime.combine(end_day.date(), time.max, UTC) if end_day else None
    if start_at and end_at and start_at > end_at:
        raise InvalidRequest("From must not be after To.")
    return start_at, end_at


def filter_query(chosen: dict[str, str | None]) -> str:
    """The filters chosen on a list page as a query string (for its next-page and export
    links), each value URL-encoded; unset filters are left out."""
    return urlencode({name: value for name, value in chosen.items() if value})


def uuid_or_404(text: str, message: str) -> uuid.UUID:
    """A UUID path segment, or a 404 page saying `message` (it names nothing)."""
    try:
        return uuid.UUID(text)
    except ValueError as exc:
        raise NotFound(message) from exc


def role_label(role: Role) -> str:
    """A role as the pages name it."""
    return role.value.capitalize()
