"""Routes whose request is one database transaction.

`TransactionalRoute` opens the runtime-role connection, describes it with a
`Tx`, runs the endpoint (dependencies included) inside that one transaction,
stores an idempotent response in that same transaction, and commits before
the response leaves. Any error rolls everything back. Endpoints and services
never commit.

The Idempotency-Key is claimed here too, next to where its response is
stored: as soon as the auth dependency has settled who acts
(`authenticated`), since a key belongs to an API key.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import unquote_to_bytes

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from eal.api.deps import runtime_of
from eal.api.errors import fields_failed
from eal.auth.context import AuthContext
from eal.db.tx import Tx
from eal.errors import UnsupportedMediaType
from eal.kit import idempotency
from eal.kit.schemas import NOT_UTF8, query_problems, text_problem
from eal.logging import bind_organization

BODY_METHODS = {"POST", "PUT", "PATCH"}


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


FORM = "application/x-www-form-urlencoded"
CSV = "text/csv"


async def check_content_type(
    request: Request, *, form: bool = False, csv: bool = False, files: bool = False
) -> None:
    """A request with a body must send it as JSON (or as a form, CSV or a file, where allowed)."""
    if request.method not in BODY_METHODS or files:
        return
    body = await request.body()
    if not body:
        return
    content_type = request.headers.get("content-type", "")
    media = content_type.split(";", 1)[0].strip().lower()
    if (form and media == FORM) or (csv and media == CSV):
        return
    if not _is_json(content_type):
        raise UnsupportedMediaType(
            "Request bodies must be JSON: send 'Content-Type: application/json'.",
            details={"content_type": content_type or None},
        )


def _path_problems(scope: Scope) -> list[dict[str, str]]:
    """The path parameters that are not storable text (NUL, invalid UTF-8)."""
    problems: list[dict[str, str]] = []
    lossy: bool | None = None
    for name, value in scope.get("path_params", {}).items():
        if not isinstance(value, str):
            continue
        message = text_problem(value)
        if message is None and "\ufffd" in value:
            # The server decodes the path leniently (invalid UTF-8 becomes U+FFFD);
            # the raw path tells a sent U+FFFD from a replaced byte sequence.
            if lossy is None:
                raw = bytes(scope.get("raw_path") or b"").partition(b"?")[0]
                try:
                    unquote_to_bytes(raw).decode("utf-8")
                    lossy = False
                except UnicodeDecodeError:
                    lossy = True
            message = NOT_UTF8 if lossy else None
        if message is not None:
            problems.append({"field": name, "message": message})
    return problems


def check_text_parameters(request: Request) -> None:
    """Query and path parameters must be text PostgreSQL can store, as body strings must.

    One rule for every parameter of every route, checked before any dependency
    or endpoint sees them: a NUL would fail in the database as a 500, and a
    lone surrogate (invalid UTF-8) would be silently replaced and searched for.
    """
    problems = query_problems(request.scope["query_string"])
    problems += _path_problems(request.scope)
    if problems:
        raise fields_failed(problems)


async def authenticated(request: Request, auth: AuthContext) -> None:
    """Bind the request's settled identity to its transaction; claim its Idempotency-Key.

    Called by the auth dependency once the key, its scope and any roll-up
    grant are checked. A replayable first response ends the request here
    (`IdempotentReplay`, turned into that response by the route).
    """
    tx: Tx = request.state.tx
    tx.bind(auth.actor, config_revision=auth.config_revision)
    request.state.auth = auth
    # Lines logged from here on name the tenant (the edge middleware resets it).
    bind_organization(auth.organization_id)
    raw = request.headers.get("idempotency-key")
    if raw is None or request.method != "POST":
        return
    key = idempotency.check_key(raw)
    body = await request.body()
    request.state.idempotency = await idempotency.claim(
        tx.conn,
        api_key_id=auth.key_id,
        organization_id=auth.organization_id,
        key=key,
        request_hash=idempotency.request_fingerprint(
            request.method, request.url.path, request.url.query, body
        ),
        box=runtime_of(request).secret_box,
        now=tx.now(),
    )


class TransactionalRoute(APIRoute):
    """An APIRoute whose handler runs inside one database transaction."""

    accepts_form = False
    """Routes that vendors call with form bodies (Twilio, RFC 8058 one-click) set this."""
    accepts_csv = False
    """Routes that import CSV files (`text/csv`) set this."""
    accepts_files = False
    """Routes that store a file as sent (a signed photo upload) set this: they check its type."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def transactional_handler(request: Request) -> Response:
            check_text_parameters(request)
            await check_content_type(
                request, form=self.accepts_form, csv=self.accepts_csv, files=self.accepts_files
            )
            runtime = runtime_of(request)
            db = runtime.db
            conn, transaction = await db.begin_runtime()
            commit = False
            try:
                tx = Tx(conn, clock=runtime.clock)
                request.state.tx = tx
                try:
                    response = await handler(request)
                except idempotency.IdempotentReplay as replay:
                    return replay.response
                if response.status_code >= 400:
                    return response
                held = getattr(request.state, "idempotency", None)
                if held is not None and hasattr(response, "body"):
                    await idempotency.store(conn, held, response, runtime.secret_box, now=tx.now())
                commit = True
            finally:
                await db.end_runtime(conn, transaction, commit=commit)
            return response

        return transactional_handler


class FormRoute(TransactionalRoute):
    """A transactional route that also takes `application/x-www-form-urlencoded` bodies."""

    accepts_form = True


class CsvRoute(TransactionalRoute):
    """A transactional route that also takes `text/csv` bodies."""

    accepts_csv = True


class FileRoute(TransactionalRoute):
    """A transactional route whose body is a file of any type (the handler checks it)."""

    accepts_files = True


def api_router(
    *,
    accepts_form: bool = False,
    accepts_csv: bool = False,
    accepts_files: bool = False,
    **kwargs: Any,
) -> APIRouter:
    """An APIRouter whose routes are transactional (and take form, CSV or file bodies when asked)."""
    route_class: type[TransactionalRoute] = (
        FormRoute
        if accepts_form
        else CsvRoute
        if accepts_csv
        else FileRoute
        if accepts_files
        else TransactionalRoute
    )
    return APIRouter(route_class=route_class, **kwargs)
