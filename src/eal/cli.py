"""The `eal` command line: serve, worker, migrate, orgs, keys, audit.

Every command that reports something prints exactly one JSON object on stdout
(logs go to stderr), so scripts can pipe it into `jq`.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer

from eal.config import Settings, get_settings

# Tracebacks never print local variables: they hold database URLs and API keys.
app = typer.Typer(
    help="eal: orchestration for restoration franchises.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
orgs_app = typer.Typer(help="Organizations (tenants).", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit log.", no_args_is_help=True)
app.add_typer(orgs_app, name="orgs")
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")

T = TypeVar("T")


def _emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj, default=str) + "\n")
    sys.stdout.flush()


def _fail(message: str, code: int = 1) -> None:
    sys.stderr.write(f"error: {message}\n")
    raise typer.Exit(code)


def _settings() -> Settings:
    """The environment's settings; invalid ones end the command with a readable message."""
    from pydantic import ValidationError

    try:
        return get_settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()
        )
        _fail(f"invalid configuration: {problems}", 2)
        raise


def _prepare(settings: Settings) -> Any:
    """Resolve (and start, if embedded) the database and apply migrations."""
    from sqlalchemy.exc import DBAPIError

    from eal.db.migrate import upgrade_to_head
    from eal.db.url import resolve_database_url
    from eal.logging import configure_logging

    configure_logging(settings)
    url = resolve_database_url(settings.database_url, settings.data_dir)
    try:
        upgrade_to_head(url)
    except (OSError, DBAPIError) as exc:
        # Unreachable server, unknown database or role, bad password: say so, no traceback.
        reason = exc.orig if isinstance(exc, DBAPIError) else exc
        where = url.render_as_string(hide_password=True)
        _fail(f"cannot use the database {where}: {reason}", 1)
    return url


def _run(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    from eal.db.engine import Database

    url = _prepare(settings)

    async def main() -> T:
        db = Database.connect(url, pool_size=1, max_overflow=1)
        try:
            return await work(db)
        finally:
            await db.dispose()

    return asyncio.run(main())


def _system_actor(organization_id: uuid.UUID) -> Any:
    from eal.auth.context import Actor

    return Actor(
        organization_id=organization_id,
        source="system",
        correlation_id=f"cli_{uuid.uuid4().hex[:12]}",
    )


@app.command()
def migrate() -> None:
    """Apply pending database migrations."""
    from eal.db.migrate import head_revisions

    settings = _settings()
    url = _prepare(settings)
    _emit({"status": "ok", "revisions": head_revisions(url)})


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    worker: Annotated[
        bool, typer.Option("--worker/--no-worker", help="Run a worker in-process.")
    ] = True,
) -> None:
    """Start the HTTP API (embedded PostgreSQL unless DATABASE_URL is set)."""
    import uvicorn

    from eal.app import create_app
    from eal.bootstrap import bootstrap_first_organization

    settings = _settings()
    url = _prepare(settings)
    update: dict[str, Any] = {"database_url": url.render_as_string(hide_password=False)}
    if "public_url" not in settings.model_fields_set:
        # Links handed out (invite URLs) point at this server unless EAL_PUBLIC_URL says otherwise.
        shown_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        shown_host = f"[{shown_host}]" if ":" in shown_host else shown_host
        update["public_url"] = f"http://{shown_host}:{port}"
    settings = settings.model_copy(update=update)
    created = asyncio.run(bootstrap_first_organization(url))
    if created is not None:
        _emit(
            {
                "message": "Created the first organization. Save this admin API key now; it will not be shown again.",
                "organization": {
                    "id": created["organization"]["id"],
                    "name": created["organization"]["name"],
                },
                "api_key": {
                    "id": created["api_key"]["id"],
                    "key": created["api_key"]["key"],
                    "scopes": created["api_key"]["scopes"],
                },
            }
        )
    # uvicorn shuts down gracefully on SIGTERM, then re-raises it; the default
    # action would kill the process before exit handlers run, leaving the
    # embedded PostgreSQL running. Exit normally instead.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    uvicorn.run(
        create_app(settings, run_worker=worker),
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        access_log=False,
        loop="auto",
    )


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)


@app.command("worker")
def worker_command() -> None:
    """Run a background worker (webhook deliveries, maintenance) until interrupted."""
    from eal.worker.main import run_forever

    settings = _settings()
    url = _prepare(settings)
    settings = settings.model_copy(
        update={"database_url": url.render_as_string(hide_password=False)}
    )
    asyncio.run(run_forever(settings))


@orgs_app.command("create")
def orgs_create(
    name: Annotated[str, typer.Option(help="Display name.")],
    industry: Annotated[str, typer.Option()] = "restoration",
    timezone: Annotated[str, typer.Option(help="IANA time zone.")] = "America/New_York",
    parent: Annotated[str | None, typer.Option(help="Parent organization id.")] = None,
) -> None:
    """Create an organization and print it as JSON."""
    from typing import get_args

    from eal.organizations.schemas import Industry, check_timezone

    try:
        check_timezone(timezone)
    except ValueError as exc:
        _fail(str(exc), 2)
    if industry not in get_args(Industry):
        _fail(f"--industry must be one of {', '.join(get_args(Industry))}", 2)
    name = name.strip()
    if not name or len(name) > 200:
        _fail("--name must be 1 to 200 characters", 2)
    parent_id = None
    if parent:
        try:
            parent_id = uuid.UUID(parent)
        except ValueError:
            _fail("--parent must be an organization id (UUID)", 2)

    async def work(db: Any) -> dict[str, Any]:
        from sqlalchemy import select

        from eal.db.engine import set_tenant
        from eal.organizations.models import organizations
        from eal.organizations.service import insert_organization

        async with db.system_transaction() as conn:
            if parent_id is not None:
                exists = await conn.scalar(
                    select(organizations.c.id).where(organizations.c.id == parent_id)
                )
                if exists is None:
                    _fail(f"parent organization {parent_id} does not exist", 2)
                await set_tenant(conn, parent_id)
            return await insert_organization(
                conn,
                _system_actor(parent_id or uuid.uuid4()),
                name=name,
                industry=industry,
                settings={"timezone": timezone},
                parent_id=parent_id,
            )

    org = _run(_settings(), work)
    _emit(_jsonable(org))


@keys_app.command("create")
def keys_create(
    org: Annotated[str, typer.Option(help="Organization id.")],
    scopes: Annotated[str, typer.Option(help="Comma-separated: read,write,admin.")] = "read",
    environment: Annotated[str, typer.Option(help="live or test.")] = "live",
    name: Annotated[str | None, typer.Option(help="A label for the key.")] = None,
) -> None:
    """Issue an API key; the secret is printed once."""
    from eal.auth.scopes import Environment, Scope

    try:
        org_id = uuid.UUID(org)
        scope_list = [Scope(s.strip()) for s in scopes.split(",") if s.strip()]
        env = Environment(environment)
    except ValueError as exc:
        _fail(f"invalid option: {exc}", 2)
    if name is not None and not 1 <= len(name.strip()) <= 200:
        _fail("--name must be 1 to 200 characters", 2)
    if not scope_list:
        _fail("--scopes must name at least one of read, write, admin", 2)

    async def work(db: Any) -> dict[str, Any]:
        from sqlalchemy import select

        from eal.auth.service import create_api_key
        from eal.db.engine import set_tenant
        from eal.organizations.models import organizations

        async with db.system_transaction() as conn:
            exists = await conn.scalar(
                select(organizations.c.id).where(organizations.c.id == org_id)
            )
            if exists is None:
                _fail(f"organization {org_id} does not exist", 2)
            await set_tenant(conn, org_id)
            return await create_api_key(
                conn,
                _system_actor(org_id),
                organization_id=org_id,
                scopes=scope_list,
                environment=env,
                name=name,
            )

    _emit(_jsonable(_run(_settings(), work)))


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key's id.")]) -> None:
    """Revoke an API key immediately."""
    try:
        kid = uuid.UUID(key_id)
    except ValueError:
        _fail("KEY_ID must be a key id (UUID)", 2)

    async def work(db: Any) -> dict[str, Any]:
        from sqlalchemy import select

        from eal.auth.models import api_keys
        from eal.auth.service import revoke_api_key
        from eal.db.engine import set_tenant
        from eal.errors import NotFound

        async with db.system_transaction() as conn:
            org_id = await conn.scalar(
                select(api_keys.c.organization_id).where(api_keys.c.id == kid)
            )
            if org_id is None:
                _fail(f"no API key {kid}", 2)
            await set_tenant(conn, org_id)
            try:
                return await revoke_api_key(conn, _system_actor(org_id), kid)
            except NotFound:
                _fail(f"API key {kid} is already revoked", 2)
                raise

    _emit(_jsonable(_run(_settings(), work)))


@audit_app.command("verify")
def audit_verify(
    org: Annotated[str | None, typer.Option(help="Verify one organization only.")] = None,
) -> None:
    """Verify the audit log hash chains; exit 1 at the first broken link."""
    org_id = None
    if org:
        try:
            org_id = uuid.UUID(org)
        except ValueError:
            _fail("--org must be an organization id (UUID)", 2)

    async def work(db: Any) -> Any:
        from sqlalchemy import select

        from eal.audit.chain import verify_chains
        from eal.organizations.models import organizations

        # One snapshot for the whole walk: appends committing meanwhile are not half-seen.
        async with db.snapshot_transaction() as conn:
            if org_id is not None:
                exists = await conn.scalar(
                    select(organizations.c.id).where(organizations.c.id == org_id)
                )
                if exists is None:
                    _fail(f"organization {org_id} does not exist", 2)
            return await verify_chains(conn, org_id)

    report = _run(_settings(), work)
    out: dict[str, Any] = {
        "ok": report.ok,
        "organizations": report.organizations,
        "entries": report.entries,
        "broken": [
            {
                "organization_id": b.organization_id,
                "entry_id": b.entry_id,
                "seq": b.seq,
                "reason": b.reason,
            }
            for b in report.broken
        ],
    }
    _emit(_jsonable(out))
    if not report.ok:
        raise typer.Exit(1)


@audit_app.command("purge")
def audit_purge() -> None:
    """Delete audit entries older than the 7-year retention period now."""

    async def work(db: Any) -> int:
        from eal.audit.retention import purge_expired_entries

        async with db.system_transaction() as conn:
            return await purge_expired_entries(conn)

    _emit({"deleted": _run(_settings(), work)})


def _jsonable(obj: Any) -> Any:
    from datetime import datetime

    from eal.kit.clock import isoformat

    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, uuid.UUID):
        return str(obj)
    if isinstance(obj, datetime):
        return isoformat(obj)
    return obj


def main() -> None:
    """Entry point of the `eal` console script."""
    app()


if __name__ == "__main__":
    main()
