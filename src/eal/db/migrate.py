"""Applying migrations programmatically (used by `eal migrate` and `eal serve`)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import URL

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(url: URL) -> Config:
    """An Alembic config pointing at our migrations and the given database."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = url
    return config


def upgrade_to_head(url: URL) -> None:
    """Apply every pending migration. Must run outside a running event loop."""
    command.upgrade(alembic_config(url), "heads")


def run_sql(sql: str) -> None:
    """Run a multi-statement SQL script inside the current migration's transaction.

    asyncpg prepares every statement SQLAlchemy sends, and a prepared statement
    holds one command; a script goes through the driver's simple-query path.
    """
    from alembic import op

    dbapi_connection = op.get_bind().connection.dbapi_connection
    assert dbapi_connection is not None
    dbapi_connection.run_async(lambda raw: raw.execute(sql))  # type: ignore[attr-defined]


def head_revisions(url: URL) -> list[str]:
    """The head revisions of the migration tree (what upgrade_to_head reaches)."""
    from alembic.script import ScriptDirectory

    return sorted(ScriptDirectory.from_config(alembic_config(url)).get_heads())
