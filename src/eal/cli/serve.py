"""`eal serve`, `eal worker` and `eal migrate`: running the service."""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated, Any

import typer

from eal.cli.common import database_unusable, emit, load_settings, prepare


def migrate() -> None:
    """Apply pending database migrations (creating the database if there is none)."""
    from eal.db.migrate import head_revisions

    target = prepare(load_settings(), create=True)
    emit({"status": "ok", "revisions": head_revisions(target.url)})


def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    worker: Annotated[
        bool, typer.Option("--worker/--no-worker", help="Run a worker in-process.")
    ] = True,
) -> None:
    """Start the HTTP API (embedded PostgreSQL unless DATABASE_URL is set)."""
    import uvicorn
    from sqlalchemy.exc import DBAPIError

    from eal.app import create_app
    from eal.bootstrap import bootstrap_first_organization
    from eal.db.supervisor import supervising

    settings = load_settings()
    target = prepare(settings, create=True, migrate_in_child=True)
    url = target.url
    update: dict[str, Any] = {"database_url": url.render_as_string(hide_password=False)}
    if "public_url" not in settings.model_fields_set:
        # Links handed out (invite URLs) point at this server unless EAL_PUBLIC_URL says otherwise.
        shown_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        shown_host = f"[{shown_host}]" if ":" in shown_host else shown_host
        update["public_url"] = f"http://{shown_host}:{port}"
    settings = settings.model_copy(update=update)
    try:
        created = asyncio.run(bootstrap_first_organization(url))
    except (OSError, DBAPIError) as exc:
        database_unusable(target, exc)
    if created is not None:
        emit(
            {
                "message": "Created the first organization. Save this admin API key now; "
                "it will not be shown again.",
                "organization": {
                    "id": created.organization.id,
                    "name": created.organization.name,
                },
                "api_key": {
                    "id": created.api_key.id,
                    "key": created.api_key.key,
                    "scopes": created.api_key.scopes,
                },
            }
        )
    # uvicorn shuts down gracefully on SIGTERM, then re-raises it; the default
    # action would kill the process before exit handlers run, leaving the
    # embedded PostgreSQL running. Exit normally instead.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    with supervising(target.embedded):
        uvicorn.run(
            create_app(settings, run_worker=worker),
            host=host,
            port=port,
            log_level=settings.log_level.lower(),
            log_config=None,  # its lines go through eal.logging's handler, in our format
            access_log=False,
            loop="auto",
            ws="none",  # no websocket routes: the websocket stack need not be loaded
        )


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)


def worker() -> None:
    """Run a background worker (webhook deliveries, maintenance) until interrupted.

    It works on an existing database only: a worker started on an empty data
    directory would wait for work nobody can give it.
    """
    from eal.db.supervisor import supervising
    from eal.worker.main import run_forever

    settings = load_settings()
    target = prepare(settings, migrate_in_child=True)
    settings = settings.model_copy(
        update={"database_url": target.url.render_as_string(hide_password=False)}
    )
    # Until the worker's loop installs its own handlers, SIGTERM exits normally
    # (see `serve`): the embedded server is then stopped, not left running.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    with supervising(target.embedded):
        asyncio.run(run_forever(settings))
