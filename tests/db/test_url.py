"""DATABASE_URL spellings the service accepts, checked against the real server."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL

from eal.db.engine import Database
from eal.db.url import async_url


@pytest.mark.parametrize(
    "raw",
    [
        "postgres://u:p@db.example:5432/eal",
        "postgresql://u:p@db.example:5432/eal",
        "postgresql+psycopg://u:p@db.example:5432/eal",
        "postgresql+asyncpg://u:p@db.example:5432/eal",
    ],
)
def test_every_spelling_uses_asyncpg(raw: str) -> None:
    url = async_url(raw)
    assert url.drivername == "postgresql+asyncpg"
    assert (url.username, url.password, url.host, url.port, url.database) == (
        "u",
        "p",
        "db.example",
        5432,
        "eal",
    )


def test_libpq_parameters_are_translated() -> None:
    url = async_url("postgresql://u@h/eal?sslmode=require&connect_timeout=10&application_name=psql")
    assert dict(url.query) == {"ssl": "require"}
    explicit = async_url("postgresql://u@h/eal?sslmode=require&ssl=verify-full")
    assert dict(explicit.query) == {"ssl": "verify-full"}


async def test_a_libpq_style_url_connects(database_url: URL) -> None:
    libpq_style = database_url.set(drivername="postgresql").update_query_dict(
        {"sslmode": "disable", "connect_timeout": "5", "application_name": "ops"}
    )
    db = Database.connect(async_url(libpq_style.render_as_string(hide_password=False)))
    try:
        async with db.tenant_transaction("00000000-0000-0000-0000-000000000000") as conn:
            assert await conn.scalar(text("SELECT current_user")) == "eal_app"
        async with db.system_transaction() as conn:
            assert await conn.scalar(text("SELECT 1")) == 1
    finally:
        await db.dispose()
