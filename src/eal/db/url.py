"""Normalising database URLs to the asyncpg driver."""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

# libpq connection parameters that asyncpg does not take as keywords: passed
# through, each would fail every connection with a TypeError. The engines set
# their own application_name.
_LIBPQ_ONLY = ("connect_timeout", "application_name")


def async_url(raw: str) -> URL:
    """Return `raw` as a SQLAlchemy URL that uses the asyncpg driver.

    Accepts the usual spellings (postgres://, postgresql://, +psycopg, +asyncpg)
    and libpq-style query parameters: `sslmode` becomes asyncpg's `ssl` (same
    values: disable, allow, prefer, require, verify-ca, verify-full);
    `connect_timeout` and `application_name` are dropped.
    """
    url = make_url(raw)
    if url.drivername in ("postgres", "postgresql", "postgresql+psycopg", "postgresql+psycopg2"):
        url = url.set(drivername="postgresql+asyncpg")
    if url.drivername != "postgresql+asyncpg":
        return url
    query = dict(url.query)
    sslmode = query.pop("sslmode", None)
    if sslmode is not None and "ssl" not in query:
        query["ssl"] = sslmode
    for name in _LIBPQ_ONLY:
        query.pop(name, None)
    return url.set(query=query)


def resolve_database_url(database_url: str | None, data_dir: object) -> URL:
    """The configured server's URL, or the embedded server's (started, and created, on demand)."""
    if database_url:
        return async_url(database_url)
    from pathlib import Path

    from eal.db.embedded import embedded_database_url

    return async_url(embedded_database_url(Path(str(data_dir))))


def shown_url(raw: str) -> str:
    """`raw` as it may be shown or logged: the password hidden, the rest as written."""
    try:
        url = make_url(raw)
    except ArgumentError:
        return "(a DATABASE_URL that is not a database URL)"
    if "password" in url.query:  # libpq also takes it as a query parameter
        url = url.update_query_dict({"password": "***"})
    return url.render_as_string(hide_password=True)
