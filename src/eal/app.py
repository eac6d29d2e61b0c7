"""The FastAPI application: lifespan, middleware and routers."""

from __future__ import annotations

# First of all: structlog and httpx are imported without rich (see eal.kit.lean).
from eal.kit import lean  # noqa: F401

# isort: split
import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.routing import APIRoute
from fastapi_offline import FastAPIOffline
from starlette.responses import HTMLResponse, Response

from eal import __version__, metrics
from eal.api.docs import swagger_ui_page
from eal.api.errors import install_error_handlers
from eal.api.index import router as index_router
from eal.api.middleware import EdgeMiddleware
from eal.api.openapi import build_openapi
from eal.api.responses import FastJSONResponse
from eal.config import Settings, get_settings
from eal.geo import load_postal_index
from eal.kit.clock import Clock
from eal.runtime import Runtime, settle_memory

API_PREFIX = "/api/v1"
DOCS_ASSETS = "/docs/assets"


def _operation_id(route: APIRoute) -> str:
    tag = route.tags[0] if route.tags else "api"
    return f"{tag}-{route.name.replace('_', '-')}"


def create_app(
    settings: Settings | None = None, *, run_worker: bool = False, clock: Clock | None = None
) -> FastAPI:
    """Build the ASGI app. `run_worker` starts the background worker in-process.

    The runtime (databases, secret box, HTTP client, rate limiter, `clock`) is
    built when the app starts and reachable as `app.state.runtime`.
    """
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = Runtime.build(settings, clock=clock)
        app.state.runtime = runtime
        # Build the postal-code index now, not on the first scored lead.
        await asyncio.to_thread(load_postal_index)
        background: list[Any] = []
        try:
            async with metrics.exporting(settings, runtime.db):
                if run_worker:
                    from eal.worker.runner import start_in_process

                    background.append(await start_in_process(runtime))
                settle_memory()
                try:
                    yield
                finally:
                    for task in background:
                        await task.stop()
        finally:
            await runtime.aclose()

    # Swagger UI's assets are served by the service itself, so /docs works offline;
    # the page itself is ours (below), to send it with its Content-Security-Policy.
    app = FastAPIOffline(
        static_url=DOCS_ASSETS,
        title="eal API",
        version=__version__,
        summary="The orchestration layer between lead, call, job and follow-up.",
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
        redirect_slashes=False,
        default_response_class=FastJSONResponse,
        generate_unique_id_function=_operation_id,
        lifespan=lifespan,
    )
    app.openapi = lambda: build_openapi(app)  # type: ignore[method-assign]
    from eal.console.web import PAGE_PREFIXES, STATIC_PREFIX, error_page

    install_error_handlers(app, pages=(PAGE_PREFIXES, error_page))
    # Around every route: it sees every request (errors and 404s included) and times all of it.
    app.add_middleware(
        EdgeMiddleware,
        access_log=settings.access_log,
        metrics=settings.metrics_enabled,
        pages=(PAGE_PREFIXES, error_page),
    )
    if settings.metrics_on_api:
        # Registered only when asked for: otherwise /metrics is the API's usual 404.
        @app.get("/metrics", include_in_schema=False)
        async def prometheus_metrics() -> Response:
            return Response(await metrics.scrape(), media_type=metrics.content_type())

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return swagger_ui_page(
            title=f"{app.title} - Swagger UI",
            openapi_url=f"{root}{app.openapi_url}",
            assets_url=f"{root}{DOCS_ASSETS}",
        )

    app.include_router(index_router)
    for router in _routers():
        app.include_router(router, prefix=API_PREFIX)
    # Unsubscribe and open-tracking links sit at the root: they go out in
    # mail, so they are short and carry no API version. So do the signed
    # links of claims (uploads, thumbnails, summaries) and the console's pages.
    from eal.claims.endpoints import files as claim_files
    from eal.console.routes import router as console
    from eal.console.routes import static as console_static
    from eal.outreach.hooks import links

    app.include_router(links)
    app.include_router(claim_files)
    app.include_router(console)
    app.mount(STATIC_PREFIX, console_static, name="console-static")
    return app


def _routers() -> list[Any]:
    from eal.api.health import router as health
    from eal.audit.endpoints import router as audit
    from eal.calls.endpoints import hooks as calls_hooks
    from eal.calls.endpoints import router as calls
    from eal.claims.endpoints import router as claims
    from eal.content.endpoints import router as content
    from eal.leads.endpoints import router as leads
    from eal.organizations.endpoints import router as organizations
    from eal.outreach.endpoints import router as outreach
    from eal.outreach.hooks import router as outreach_hooks
    from eal.prospects.endpoints import router as prospects
    from eal.reviews.endpoints import router as reviews
    from eal.weather.endpoints import router as weather
    from eal.webhooks.endpoints import router as webhooks

    return [
        health,
        organizations,
        audit,
        leads,
        weather,
        webhooks,
        outreach,
        outreach_hooks,
        calls,
        calls_hooks,
        prospects,
        content,
        reviews,
        claims,
    ]
