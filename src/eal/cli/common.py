"""What every `eal` command shares: JSON output, clean failures, settings, the database."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer

from eal.config import Settings, get_settings

if TYPE_CHECKING:
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


def prepare(settings: Settings) -> Any:
    """Resolve (and start, if embedded) the database and apply migrations; its URL."""
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
        fail(f"cannot use the database {where}: {reason}", 1)
    return url


def run_with_runtime(work: Callable[[Runtime], Awaitable[T]]) -> T:
    """Prepare the database, then run `work(runtime)` with a small connection pool."""
    from eal.runtime import Runtime

    settings = load_settings()
    url = prepare(settings)
    settings = settings.model_copy(
        update={"database_url": url.render_as_string(hide_password=False)}
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
