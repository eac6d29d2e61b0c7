"""Normalising database URLs to the asyncpg driver."""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url


def async_url(raw: str) -> URL:
    """Return `raw` as a SQLAlchemy URL that uses the asyncpg driver."""
    url = make_url(raw)
    if url.drivername in ("postgres", "postgresql", "postgresql+psycopg", "postgresql+psycopg2"):
        url = url.set(drivername="postgresql+asyncpg")
    return url


def resolve_database_url(database_url: str | None, data_dir: object) -> URL:
    """The configured server's URL, or the embedded server's (started on demand)."""
    if database_url:
        return async_url(database_url)
    from pathlib import Path

    from eal.db.embedded import embedded_database_url

    return async_url(embedded_database_url(Path(str(data_dir))))
