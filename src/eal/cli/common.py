"""What every `eal` command shares: JSON output, clean failures, settings, the database."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer

from eal.config import Settings, get_settings

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

    from eal.db.embedded import EmbeddedServer
    from eal.db.engine import Database
    from eal.kit.identity import Actor
    from eal.runtime import Runtime

T = TypeVar("T")


def emit(obj: Any) -> None:
    """Print one JSON object on stdout (the command's whole report)."""
    sys.stdout.write(json.dumps(jsonable(obj), default=str) + "\n")
    sys.stdout.flush()


def fail(message: str, code: int = 1) -> NoReturn:
    """End the command with `error: message` on stderr and exit status `code`."""
    sys.stderr.write(f"error: {message}\n")
    raise typer.Exit(code)


def load_settings() -> Settings:
    """The environment's settings; invalid ones end the command with a readable message."""
    from pydantic import ValidationError

    try:
        return get_settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()
        )
        fail(f"invalid configuration: {problems}", 2)


@dataclass(frozen=True)
class Target:
    """The database a command works on."""

    url: URL
    """Its SQLAlchemy URL (asyncpg driver, password included)."""
    shown: str
    """Where it is, as told to the user: the data directory, or the URL without its password."""
    embedded: EmbeddedServer | None
    """This process's handle on the embedded server, when that is the one used."""


def prepare(settings: Settings, *, create: bool = False, migrate_in_child: bool = False) -> Target:
    """Resolve (and start, if embedded) the database, apply migrations, say which one it is.

    Only `create=True` (eal serve, eal migrate) may create a database: an
    empty data directory, or a database without eal's schema, is otherwise
    refused with a message saying how to point at the right one.
    `migrate_in_child` runs the migrations in a child process, so that a
    long-running process never loads Alembic. Prints `using database ...`
    on stderr once the database is known to work.
    """
    from eal.logging import configure_logging

    configure_logging(settings)
    target = _resolve(settings, create=create)
    if not create:
        _require_schema(target)
    if migrate_in_child:
        _migrate_in_child(target)
    else:
        _migrate(target)
    sys.stderr.write(f"using database {target.shown}\n")
    sys.stderr.flush()
    return target


def _resolve(settings: Settings, *, create: bool) -> Target:
    from eal.db.url import async_url, shown_url

    if settings.database_url:
        from sqlalchemy.exc import ArgumentError

        shown = shown_url(settings.database_url)
        try:
            return Target(async_url(settings.database_url), shown, None)
        except ArgumentError:
            fail(f"invalid configuration: DATABASE_URL {shown}", 2)

    from eal.db.embedded import EmbeddedServerError, NoDatabase, attach

    where = settings.data_dir.absolute()
    try:
        server = attach(settings.data_dir, create=create)
    except NoDatabase:
        fail(
            f"no eal database in {where} (EAL_DATA_DIR): this command works on an existing "
            "database and creates none. Point it at the server's data with "
            "EAL_DATA_DIR=/path/to/data (the directory `eal serve` uses) or "
            "DATABASE_URL=postgresql://...; `eal serve` or `eal migrate` create a new one.",
            2,
        )
    except EmbeddedServerError as exc:
        fail(f"cannot start the embedded PostgreSQL in {where}: {exc}", 1)
    return Target(async_url(server.url), f"{where} (embedded)", server)


def database_unusable(target: Target, exc: BaseException) -> NoReturn:
    """End the command for a database it cannot use (unreachable, unknown database or
    role, bad password): one line naming it, no traceback."""
    from sqlalchemy.exc import DBAPIError

    reason = exc.orig if isinstance(exc, DBAPIError) else exc
    fail(f"cannot use the database {target.shown}: {reason}", 1)


def _require_schema(target: Target) -> None:
    """Refuse a database that eal's migrations never ran on (creating it is not this command's)."""
    from sqlalchemy import pool, text
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.ext.asyncio import create_async_engine

    async def has_schema() -> bool:
        engine = create_async_engine(target.url, poolclass=pool.NullPool)
        try:
            async with engine.connect() as conn:
                found = await conn.scalar(text("SELECT to_regclass('alembic_version') IS NOT NULL"))
                return bool(found)
        finally:
            await engine.dispose()

    try:
        found = asyncio.run(has_schema())
    except (OSError, DBAPIError) as exc:
        database_unusable(target, exc)
    if not found:
        setting = "EAL_DATA_DIR" if target.embedded is not None else "DATABASE_URL"
        fail(
            f"the database {target.shown} holds no eal data (it was never migrated): this "
            f"command works on an existing database and creates none. Check that {setting} "
            "points at the server's data (EAL_DATA_DIR=/path/to/data or "
            "DATABASE_URL=postgresql://...), or run `eal migrate` to set this one up.",
            2,
        )


def _migrate(target: Target) -> None:
    from sqlalchemy.exc import DBAPIError

    from eal.db.migrate import upgrade_to_head

    try:
        upgrade_to_head(target.url)
    except (OSError, DBAPIError) as exc:
        database_unusable(target, exc)


def _migrate_in_child(target: Target) -> None:
    """`eal migrate` in a child process, on the database this process resolved.

    The child's report (stdout) is dropped; what it prints on stderr is
    passed on (an `error: ...` line when it fails), except its own `using
    database` line, which names the resolved URL rather than what the user
    configured.
    """
    import os
    import subprocess

    env = dict(os.environ)
    env.pop("EAL_DATABASE_URL", None)
    env["DATABASE_URL"] = target.url.render_as_string(hide_password=False)
    done = subprocess.run(
        [sys.executable, "-m", "eal.cli", "migrate"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    for line in done.stderr.splitlines(keepends=True):
        if not line.startswith("using database "):
            sys.stderr.write(line)
    sys.stderr.flush()
    if done.returncode != 0:
        raise typer.Exit(done.returncode)


def run_with_runtime(work: Callable[[Runtime], Awaitable[T]]) -> T:
    """Prepare the (existing) database, then run `work(runtime)` with a small connection pool."""
    from eal.runtime import Runtime

    settings = load_settings()
    target = prepare(settings)
    settings = settings.model_copy(
        update={"database_url": target.url.render_as_string(hide_password=False)}
    )

    async def main() -> T:
        runtime = Runtime.build(settings, pool_size=1, max_overflow=1)
        try:
            return await work(runtime)
        finally:
            await runtime.aclose()

    return asyncio.run(main())


def run_with_database(work: Callable[[Database], Awaitable[T]]) -> T:
    """Like `run_with_runtime`, for commands that need only the databases."""

    async def with_db(runtime: Runtime) -> T:
        return await work(runtime.db)

    return run_with_runtime(with_db)


def system_actor(organization_id: uuid.UUID) -> Actor:
    """The audit identity of a change made from the command line."""
    from eal.kit.identity import Actor, Source

    return Actor(
        organization_id=organization_id,
        source=Source.SYSTEM,
        correlation_id=f"cli_{uuid.uuid4().hex[:12]}",
    )


def parse_uuid(value: str, message: str) -> uuid.UUID:
    """`value` as a UUID, or a clean failure saying `message` (which names the option)."""
    try:
        return uuid.UUID(value)
    except ValueError:
        fail(message, 2)


def jsonable(obj: Any) -> Any:
    """`obj` with ids and timestamps rendered as the API renders them."""
    from datetime import datetime

    from pydantic import BaseModel

    from eal.kit.clock import isoformat

    if isinstance(obj, BaseModel):
        return jsonable(obj.model_dump())
    if isinstance(obj, dict):
        return {k: jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, uuid.UUID):
        return str(obj)
    if isinstance(obj, datetime):
        return isoformat(obj)
    return obj
