"""`eal calls import-callrail`: history from CallRail's API, idempotent, never auto-dispatched."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import URL

from eal.db.engine import Database
from eal.runtime import Runtime
from tests.calls.support import calls_tenant, calls_worker, wait_for_call
from tests.cli.servers import cli_env, run_eal, run_eal_json
from tests.factories import Factory
from tests.integrations.fake_callrail import FakeCallRail, run_fake_callrail
from tests.support import audit_entries

API_KEY = "cr-api-key-5Hq8Wz"
ACCOUNT = "ACC8f3k2q9w"


@pytest.fixture
def callrail() -> Iterator[FakeCallRail]:
    with run_fake_callrail(API_KEY, ACCOUNT) as fake:
        yield fake


async def test_an_import_stores_each_call_once_and_classifies_without_dispatching(
    client: httpx.AsyncClient,
    factory: Factory,
    db: Database,
    runtime: Runtime,
    callrail: FakeCallRail,
    database_url: URL,
    tmp_path: Path,
) -> None:
    # The CLI encrypts with its own secret key, so the settings are written through it too.
    env = cli_env(
        tmp_path,
        database_url,
        EAL_SECRET_KEY="test-secret-key",
        EAL_ALLOW_PRIVATE_WEBHOOK_URLS="1",
    )
    tenant = await calls_tenant(
        client,
        factory,
        "Import Co",
        callrail={"api_key": API_KEY, "account_id": ACCOUNT, "base_url": callrail.base_url},
    )
    now = datetime.now(UTC)
    old = (now - timedelta(days=3)).isoformat(timespec="milliseconds")
    fresh = (now - timedelta(minutes=20)).isoformat(timespec="milliseconds")
    transcript = (
        "Caller: my upstairs bathroom pipe burst and water is pouring through the kitchen "
        "ceiling right now, I own the home, zip code 30064"
    )
    for start in (old, fresh):
        callrail.add_call(
            start_time=start,
            transcription=transcript,
            customer_phone_number="+14045550173",
            customer_state="GA",
        )
    callrail.add_call(start_time=old, direction="outbound")
    since = (now - timedelta(days=10)).date().isoformat()

    first = run_eal_json(
        ["calls", "import-callrail", "--org", str(tenant.id), "--since", since], env, tmp_path
    )
    assert (first["listed"], first["created"], first["outbound_skipped"]) == (3, 2, 1)
    again = run_eal_json(
        ["calls", "import-callrail", "--org", str(tenant.id), "--since", since], env, tmp_path
    )
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 2)
    listed = (await client.get("/api/v1/calls", headers=tenant.headers)).json()["data"]
    assert len(listed) == 2
    async with calls_worker(runtime):
        decided = [
            await wait_for_call(
                client, tenant, c["id"], "classified", "dispatched", "dispatch_failed"
            )
            for c in listed
        ]
    by_age = {c["received_at"][:16]: c for c in decided}
    old_call = next(c for c in decided if c["received_at"] < fresh[:19])
    assert old_call["dispatch_decision"]["action"] == "callback_queue"
    assert old_call["dispatch_decision"]["reason"] == "stale"
    assert len(by_age) == 2
    assert len(await audit_entries(db, tenant.id, "call.received")) == 2


async def test_an_import_needs_callrail_credentials_and_a_real_organization(
    client: httpx.AsyncClient, factory: Factory, database_url: URL, tmp_path: Path
) -> None:
    env = cli_env(
        tmp_path,
        database_url,
        EAL_SECRET_KEY="test-secret-key",
        EAL_ALLOW_PRIVATE_WEBHOOK_URLS="1",
    )
    tenant = await factory.tenant("No CallRail Co")
    r = run_eal(
        ["calls", "import-callrail", "--org", str(tenant.id), "--since", "2026-01-01"],
        env,
        tmp_path,
    )
    assert r.returncode == 2 and "CallRail API key" in r.stderr
    r = run_eal(
        ["calls", "import-callrail", "--org", "nope", "--since", "2026-01-01"], env, tmp_path
    )
    assert r.returncode == 2 and "--org" in r.stderr
    r = run_eal(
        ["calls", "import-callrail", "--org", str(tenant.id), "--since", "Jan 1"], env, tmp_path
    )
    assert r.returncode == 2 and "--since" in r.stderr
