"""`eal secrets rotate` and `eal secrets add-key`: real processes on a database of their own.

Rotation walks every organization of the database, so each test gets a fresh
database (cloned from a migrated template): values other tests stored under
other keys would otherwise be reported as unreadable.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL

from eal.db.engine import Database
from eal.db.migrate import upgrade_to_head
from eal.kit.secretbox import KEY_FILE_NAME, SecretBox, read_key_file
from eal.rotation import (
    IDEMPOTENT_RESPONSES,
    INTEGRATION_SECRETS,
    WEBHOOK_PREVIOUS_SECRETS,
    WEBHOOK_SECRETS,
    rotate_stored_secrets,
)
from eal.webhooks import verify
from tests.cli.servers import cli_env, eal_serve, run_eal, run_eal_json
from tests.integrations.fake_jobnimbus import FakeJobNimbus, run_fake_jobnimbus
from tests.webhooks.support import Receiver

KEY_A = "rotation-key-a"
KEY_B = "rotation-key-b"
CRM_KEY = "jn_live_rotation_5f3c9a1e"

# -- a database per test ------------------------------------------------------


def _admin(url: URL, sql: str) -> None:
    """Run one statement on the test server (outside any event loop, like conftest)."""

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


@pytest.fixture(scope="module")
def template_url(database_url: URL) -> Iterator[URL]:
    name = f"eal_rotation_tmpl_{os.getpid()}_{secrets.token_hex(3)}"
    _admin(database_url, f"CREATE DATABASE {name}")
    try:
        url = database_url.set(database=name)
        upgrade_to_head(url)
        yield url
    finally:
        _admin(database_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def fresh_url(database_url: URL, template_url: URL) -> Iterator[URL]:
    name = f"eal_rotation_{os.getpid()}_{secrets.token_hex(4)}"
    _admin(database_url, f"CREATE DATABASE {name} TEMPLATE {template_url.database}")
    try:
        yield database_url.set(database=name)
    finally:
        _admin(database_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
async def fresh_db(fresh_url: URL) -> AsyncIterator[Database]:
    database = Database.connect(fresh_url, pool_size=2, max_overflow=0)
    yield database
    await database.dispose()


# -- reading and planting stored values ---------------------------------------


async def rows(db: Database, sql: str, **params: Any) -> list[Any]:
    async with db.system_transaction() as conn:
        return list((await conn.execute(text(sql), params)).all())


async def stored_values(db: Database) -> dict[str, str]:
    """Every ciphertext of the database, by where it lives."""
    stored: dict[str, str] = {}
    for row in await rows(
        db, "SELECT id, secret_encrypted, previous_secret_encrypted FROM webhook_endpoints"
    ):
        stored[f"webhook {row.id} secret"] = row.secret_encrypted
        if row.previous_secret_encrypted is not None:
            stored[f"webhook {row.id} previous"] = row.previous_secret_encrypted
    for row in await rows(
        db,
        "SELECT id, settings #>> '{integrations,crm,api_key_encrypted}' AS crm FROM organizations",
    ):
        if row.crm is not None:
            stored[f"organization {row.id} crm"] = row.crm
    for row in await rows(
        db, "SELECT api_key_id, idempotency_key, response_body FROM idempotency_keys"
    ):
        where = f"idempotency {row.api_key_id} {row.idempotency_key}"
        stored[where] = bytes(row.response_body).decode("ascii")
    return stored


async def settings_without_secrets(db: Database) -> dict[str, str]:
    """Each organization's settings as PostgreSQL renders them, ciphertexts removed."""
    found = await rows(
        db,
        "SELECT id, (settings #- '{integrations,crm,api_key_encrypted}')::text AS rest "
        "FROM organizations",
    )
    return {str(row.id): row.rest for row in found}


async def audit_of(db: Database, action: str) -> list[Any]:
    return await rows(
        db,
        "SELECT organization_id, source, correlation_id, payload FROM platform_events "
        "WHERE action = :action ORDER BY organization_id, seq",
        action=action,
    )


def opens(box: SecretBox, token: str) -> bool:
    try:
        box.decrypt(token)
    except ValueError:
        return False
    return True


async def plant_organization(db: Database, name: str, settings: str = "{}") -> uuid.UUID:
    """An organization row written directly (settings given as JSON text)."""
    (row,) = await rows(
        db,
        "INSERT INTO organizations (name, settings) VALUES (:name, CAST(:settings AS jsonb)) "
        "RETURNING id",
        name=name,
        settings=settings,
    )
    return uuid.UUID(str(row.id))


async def plant_webhook(
    db: Database,
    org_id: uuid.UUID,
    secret: str,
    previous: str | None = None,
    *,
    deleted: bool = False,
) -> uuid.UUID:
    (row,) = await rows(
        db,
        "INSERT INTO webhook_endpoints (organization_id, url, events, secret_encrypted, "
        "secret_prefix, previous_secret_encrypted, previous_secret_expires_at, deleted_at) "
        "VALUES (:org, 'https://hooks.example.com/in', ARRAY['lead.created'], :secret, "
        "'whsec_ab', :previous, CASE WHEN :has_previous THEN now() + interval '1 day' END, "
        "CASE WHEN :deleted THEN now() END) RETURNING id",
        org=org_id,
        secret=secret,
        previous=previous,
        has_previous=previous is not None,
        deleted=deleted,
    )
    return uuid.UUID(str(row.id))


async def plant_api_key(db: Database, org_id: uuid.UUID) -> uuid.UUID:
    (row,) = await rows(
        db,
        "INSERT INTO api_keys (organization_id, prefix, key_hash, scopes, environment) "
        "VALUES (:org, 'eal_live_x', :hash, ARRAY['admin'], 'live') RETURNING id",
        org=org_id,
        hash=secrets.token_bytes(32),
    )
    return uuid.UUID(str(row.id))


async def plant_response(
    db: Database, org_id: uuid.UUID, key_id: uuid.UUID, ikey: str, sealed: str
) -> None:
    await rows(
        db,
        "INSERT INTO idempotency_keys (api_key_id, idempotency_key, organization_id, "
        "request_hash, response_status, response_body) "
        "VALUES (:kid, :ikey, :org, :hash, 201, :body) RETURNING api_key_id",
        kid=key_id,
        ikey=ikey,
        org=org_id,
        hash=secrets.token_bytes(32),
        body=sealed.encode("ascii"),
    )


def rotate(env: dict[str, str], cwd: Path) -> tuple[int, dict[str, Any], str]:
    """Run `eal secrets rotate`; (exit status, its one JSON object, stdout)."""
    result = run_eal(["secrets", "rotate"], env, cwd)
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one JSON line: {result.stdout!r} {result.stderr}"
    report = json.loads(lines[0])
    assert "Traceback" not in result.stderr
    return result.returncode, report, result.stdout


def triple(counts: dict[str, int]) -> tuple[int, int, int]:
    return counts["rewritten"], counts["already_current"], counts["unreadable"]


def kind_counts(report: dict[str, Any], name: str) -> tuple[int, int, int]:
    return triple(report["kinds"][name])


# -- the whole story through the API ------------------------------------------


@pytest.fixture
async def hooks() -> AsyncIterator[Receiver]:
    async with Receiver() as receiver:
        yield receiver


@pytest.fixture
def crm() -> Iterator[FakeJobNimbus]:
    with run_fake_jobnimbus(CRM_KEY) as fake:
        yield fake


async def test_rotate_moves_every_stored_secret_to_the_new_key_and_the_api_keeps_working(
    fresh_url: URL,
    fresh_db: Database,
    tmp_path: Path,
    hooks: Receiver,
    crm: FakeJobNimbus,
) -> None:
    extra = {"EAL_ALLOW_PRIVATE_WEBHOOK_URLS": "1", "EAL_WEBHOOK_RETRY_SCHEDULE": "1"}
    env_a = cli_env(tmp_path, fresh_url, EAL_SECRET_KEY=KEY_A, **extra)
    env_ba = {**env_a, "EAL_SECRET_KEY": f"{KEY_B},{KEY_A}"}
    env_b = {**env_a, "EAL_SECRET_KEY": KEY_B}
    org = run_eal_json(["orgs", "create", "--name", "Rotation Restoration"], env_a, tmp_path)
    admin = run_eal_json(
        ["keys", "create", "--org", org["id"], "--scopes", "read,write,admin"], env_a, tmp_path
    )
    auth = {"Authorization": f"Bearer {admin['key']}"}
    hook_request = {"url": hooks.url, "events": ["lead.created"], "description": "rotation"}
    lead_request = {"name": "Dana Whitfield", "email": "dana@example.com", "source": "website"}

    # Everything is first stored under key A.
    with eal_serve(env_a, tmp_path) as (base, _server):
        api = httpx.AsyncClient(base_url=f"{base}/api/v1", headers=auth, timeout=15)
        created = await api.post("/webhooks", json=hook_request, headers={"Idempotency-Key": "h-1"})
        assert created.status_code == 201, created.text
        webhook_id = created.json()["id"]
        first_secret = created.json()["signing_secret"]
        turned = await api.post(f"/webhooks/{webhook_id}/rotate-secret")
        assert turned.status_code == 200, turned.text
        signing_secret = turned.json()["signing_secret"]
        crm_settings = {"vendor": "jobnimbus", "api_key": CRM_KEY, "base_url": crm.base_url}
        configured = await api.patch(
            f"/organizations/{org['id']}",
            json={"settings": {"integrations": {"crm": crm_settings}}},
        )
        assert configured.status_code == 200, configured.text
        lead = await api.post("/leads", json=lead_request, headers={"Idempotency-Key": "l-1"})
        assert lead.status_code == 201, lead.text
        (first_delivery,) = await hooks.wait_for(1, within=20)
        verify(signing_secret, first_delivery.headers, first_delivery.body)
        verify(first_secret, first_delivery.headers, first_delivery.body)
        pushed = await api.post(f"/leads/{lead.json()['id']}/push-to-crm")
        assert pushed.status_code == 200, pushed.text
        await api.aclose()

    before = await stored_values(fresh_db)
    assert len([w for w in before if w.startswith("webhook")]) == 2
    assert len([w for w in before if w.startswith("organization")]) == 1
    assert len([w for w in before if w.startswith("idempotency")]) == 2
    both, only_b = SecretBox(f"{KEY_B},{KEY_A}"), SecretBox(KEY_B)
    plain = {where: both.decrypt(token) for where, token in before.items()}
    assert plain[f"webhook {webhook_id} secret"] == signing_secret
    assert plain[f"webhook {webhook_id} previous"] == first_secret
    assert plain[f"organization {org['id']} crm"] == CRM_KEY
    for where, token in before.items():
        assert not both.is_current(token), where
        assert not opens(only_b, token), where
    settings_before = await settings_without_secrets(fresh_db)

    status, report, stdout = rotate(env_ba, tmp_path)
    assert status == 0, report
    assert report["status"] == "ok" and report["keys"] == 2
    assert kind_counts(report, WEBHOOK_SECRETS) == (1, 0, 0)
    assert kind_counts(report, WEBHOOK_PREVIOUS_SECRETS) == (1, 0, 0)
    assert kind_counts(report, INTEGRATION_SECRETS) == (1, 0, 0)
    assert kind_counts(report, IDEMPOTENT_RESPONSES) == (2, 0, 0)
    assert (report["rewritten"], report["already_current"], report["unreadable"]) == (5, 0, 0)
    assert (report["organizations"], report["organizations_rewritten"]) == (1, 1)
    assert report["unreadable_values"] == []
    assert all(token not in stdout for token in before.values())

    after = await stored_values(fresh_db)
    assert after.keys() == before.keys()
    for where, token in after.items():
        assert token != before[where], where
        assert only_b.is_current(token), where
    assert {where: only_b.decrypt(token) for where, token in after.items()} == plain
    assert await settings_without_secrets(fresh_db) == settings_before
    (entry,) = await audit_of(fresh_db, "secrets.rotated")
    assert str(entry.organization_id) == org["id"] and entry.source == "system"
    assert triple(entry.payload["counts"][IDEMPOTENT_RESPONSES]) == (2, 0, 0)
    assert all(token not in json.dumps(entry.payload) for token in after.values())
    assert run_eal(["audit", "verify"], env_b, tmp_path).returncode == 0

    # Idempotent: nothing left to rewrite, with both keys or with B alone.
    for env in (env_ba, env_b):
        status, again, _ = rotate(env, tmp_path)
        assert status == 0, again
        assert (again["rewritten"], again["already_current"], again["unreadable"]) == (0, 5, 0)
        assert again["organizations_rewritten"] == 0
    assert await stored_values(fresh_db) == after
    assert len(await audit_of(fresh_db, "secrets.rotated")) == 1

    # Key A is gone: the service runs with B alone and uses every secret.
    with eal_serve(env_b, tmp_path) as (base, _server):
        api = httpx.AsyncClient(base_url=f"{base}/api/v1", headers=auth, timeout=15)
        replayed = await api.post(
            "/webhooks", json=hook_request, headers={"Idempotency-Key": "h-1"}
        )
        assert replayed.status_code == 201, replayed.text
        assert replayed.headers["idempotent-replayed"] == "true"
        assert replayed.json() == created.json()
        lead_again = await api.post("/leads", json=lead_request, headers={"Idempotency-Key": "l-1"})
        assert lead_again.headers["idempotent-replayed"] == "true"
        assert lead_again.json() == lead.json()

        second = await api.post("/leads", json={"email": "second@example.com"})
        assert second.status_code == 201, second.text
        delivered = (await hooks.wait_for(2, within=20))[1]
        verify(signing_secret, delivered.headers, delivered.body)
        verify(first_secret, delivered.headers, delivered.body)
        crm_calls = len(crm.requests)
        pushed = await api.post(f"/leads/{second.json()['id']}/push-to-crm")
        assert pushed.status_code == 200, pushed.text
        assert pushed.json()["crm_sync"]["status"] == "ok"
        new_calls = crm.requests[crm_calls:]
        assert new_calls and all(
            r.headers["authorization"] == f"Bearer {CRM_KEY}" for r in new_calls
        )
        await api.aclose()


# -- what no key opens ---------------------------------------------------------


async def test_a_value_no_key_opens_is_reported_and_left_alone(
    fresh_url: URL, fresh_db: Database, tmp_path: Path
) -> None:
    env = cli_env(tmp_path, fresh_url, EAL_SECRET_KEY=f"{KEY_B},{KEY_A}")
    old, lost = SecretBox(KEY_A), SecretBox("a-key-nobody-has")
    org_id = await plant_organization(fresh_db, "Lost Key Co")
    readable = await plant_webhook(fresh_db, org_id, old.encrypt("whsec_kept"))
    broken = await plant_webhook(
        fresh_db, org_id, old.encrypt("whsec_current"), lost.encrypt("whsec_gone")
    )
    key_id = await plant_api_key(fresh_db, org_id)
    await plant_response(fresh_db, org_id, key_id, "ok-1", old.encrypt('{"id": 1}'))
    await plant_response(fresh_db, org_id, key_id, "junk", "not-a-token")
    before = await stored_values(fresh_db)

    status, report, stdout = rotate(env, tmp_path)
    assert status == 1
    assert report["status"] == "unreadable"
    assert kind_counts(report, WEBHOOK_SECRETS) == (2, 0, 0)
    assert kind_counts(report, WEBHOOK_PREVIOUS_SECRETS) == (0, 0, 1)
    assert kind_counts(report, IDEMPOTENT_RESPONSES) == (1, 0, 1)
    assert report["unreadable"] == 2
    assert sorted(report["unreadable_values"], key=lambda v: v["table"]) == [
        {
            "kind": IDEMPOTENT_RESPONSES,
            "organization_id": str(org_id),
            "table": "idempotency_keys",
            "row": {"api_key_id": str(key_id), "idempotency_key": "junk"},
            "field": "response_body",
        },
        {
            "kind": WEBHOOK_PREVIOUS_SECRETS,
            "organization_id": str(org_id),
            "table": "webhook_endpoints",
            "row": {"id": str(broken)},
            "field": "previous_secret_encrypted",
        },
    ]
    assert all(token not in stdout for token in before.values())

    after = await stored_values(fresh_db)
    unreadable = {f"webhook {broken} previous", f"idempotency {key_id} junk"}
    for where, token in after.items():
        if where in unreadable:
            assert token == before[where], f"{where} was overwritten"
        else:
            assert SecretBox(KEY_B).is_current(token), where
    assert SecretBox(KEY_B).decrypt(after[f"webhook {readable} secret"]) == "whsec_kept"
    (entry,) = await audit_of(fresh_db, "secrets.rotated")
    assert entry.payload["counts"][WEBHOOK_PREVIOUS_SECRETS]["unreadable"] == 1

    # Still reported on the next run; nothing else to do.
    status, again, _ = rotate(env, tmp_path)
    assert status == 1
    assert (again["rewritten"], again["already_current"], again["unreadable"]) == (0, 3, 2)
    assert await stored_values(fresh_db) == after


# -- the rotation's guarantees, in-process ------------------------------------


async def test_only_the_ciphertexts_of_the_settings_change(fresh_db: Database) -> None:
    old, box = SecretBox(KEY_A), SecretBox(f"{KEY_B},{KEY_A}")
    settings = {
        "timezone": "America/Chicago",
        "not_an_integration_encrypted": old.encrypt("left alone"),
        "integrations": {
            "crm": {"vendor": "jobnimbus", "api_key_hint": "****1e77"},
            "accounting": {
                "token_encrypted": old.encrypt("acct-token"),
                "oauth": {"refresh_encrypted": old.encrypt("refresh"), "expires_in": 3600},
                "accounts": [{"secret_encrypted": old.encrypt("in a list")}],
                "unset_encrypted": None,
            },
        },
        "lead_scoring": {"source_weights": {"website": 0.12345678901234567890123}},
    }
    settings["integrations"]["crm"]["api_key_encrypted"] = old.encrypt("jn-key")
    # Written as text: the long number must reach PostgreSQL (and stay) as written.
    raw = json.dumps(settings).replace("0.12345678901234568", "0.12345678901234567890123")
    org_id = await plant_organization(fresh_db, "Settings Co", raw)
    (before,) = await rows(
        fresh_db,
        "SELECT settings, config_revision, updated_at FROM organizations WHERE id = :id",
        id=org_id,
    )

    async with fresh_db.system.connect() as conn:
        report = await rotate_stored_secrets(conn, box)
    assert report.counts[INTEGRATION_SECRETS].rewritten == 4
    assert report.complete

    paths = [
        "{integrations,crm,api_key_encrypted}",
        "{integrations,accounting,token_encrypted}",
        "{integrations,accounting,oauth,refresh_encrypted}",
        "{integrations,accounting,accounts,0,secret_encrypted}",
    ]
    strip = "".join(f" #- '{path}'" for path in paths)
    (after,) = await rows(
        fresh_db,
        f"SELECT (settings{strip})::text AS rest, config_revision, updated_at, "
        + ", ".join(f"settings #>> '{path}' AS p{i}" for i, path in enumerate(paths))
        + " FROM organizations WHERE id = :id",
        id=org_id,
    )
    (expected,) = await rows(fresh_db, f"SELECT (CAST(:s AS jsonb){strip})::text AS rest", s=raw)
    assert after.rest == expected.rest
    assert "0.12345678901234567890123" in after.rest
    assert [box.decrypt(getattr(after, f"p{i}")) for i in range(4)] == [
        "jn-key",
        "acct-token",
        "refresh",
        "in a list",
    ]
    assert all(SecretBox(KEY_B).is_current(getattr(after, f"p{i}")) for i in range(4))
    assert after.config_revision > before.config_revision  # caches notice the change
    assert after.updated_at == before.updated_at


async def test_batches_cover_every_row_and_each_organization_gets_one_entry(
    fresh_db: Database,
) -> None:
    old, box = SecretBox(KEY_A), SecretBox(f"{KEY_B},{KEY_A}")
    organizations = []
    for n in range(3):
        org_id = await plant_organization(fresh_db, f"Batch Co {n}")
        organizations.append(org_id)
        await plant_webhook(fresh_db, org_id, old.encrypt(f"s{n}"), old.encrypt(f"p{n}"))
        await plant_webhook(fresh_db, org_id, box.encrypt(f"current{n}"))
        await plant_webhook(fresh_db, org_id, old.encrypt(f"gone{n}"), deleted=True)
        for k in range(2):
            key_id = await plant_api_key(fresh_db, org_id)
            for i in range(3):
                await plant_response(fresh_db, org_id, key_id, f"k{i}", old.encrypt(f"{n}{k}{i}"))
    idle = await plant_organization(fresh_db, "Nothing Stored Co")

    async with fresh_db.system.connect() as conn:
        report = await rotate_stored_secrets(conn, box, batch_size=1, correlation_id="cli_test")
    assert report.organizations == 4 and report.organizations_rewritten == 3
    assert triple(report.counts[WEBHOOK_SECRETS].as_dict()) == (6, 3, 0)
    assert report.counts[WEBHOOK_PREVIOUS_SECRETS].rewritten == 3
    assert report.counts[IDEMPOTENT_RESPONSES].rewritten == 18
    stored = await stored_values(fresh_db)
    assert len(stored) == 3 * (4 + 6)
    assert all(SecretBox(KEY_B).is_current(t) for t in stored.values())

    entries = await audit_of(fresh_db, "secrets.rotated")
    assert sorted(e.organization_id for e in entries) == sorted(organizations)
    assert idle not in {e.organization_id for e in entries}
    for entry in entries:
        assert entry.source == "system" and entry.correlation_id == "cli_test"
        assert entry.payload["counts"][IDEMPOTENT_RESPONSES]["rewritten"] == 6
        assert triple(entry.payload["counts"][WEBHOOK_SECRETS]) == (2, 1, 0)


async def test_inside_a_callers_transaction_everything_commits_or_rolls_back_with_it(
    fresh_db: Database,
) -> None:
    old, box = SecretBox(KEY_A), SecretBox(f"{KEY_B},{KEY_A}")
    org_id = await plant_organization(fresh_db, "Caller Co")
    await plant_webhook(fresh_db, org_id, old.encrypt("whsec_x"))
    before = await stored_values(fresh_db)

    class Abandon(Exception):
        pass

    with pytest.raises(Abandon):
        async with fresh_db.system_transaction() as conn:
            report = await rotate_stored_secrets(conn, box)
            assert report.rewritten == 1
            raise Abandon
    assert await stored_values(fresh_db) == before
    assert await audit_of(fresh_db, "secrets.rotated") == []

    async with fresh_db.system_transaction() as conn:
        report = await rotate_stored_secrets(conn, box)
    assert report.rewritten == 1
    (token,) = (await stored_values(fresh_db)).values()
    assert SecretBox(KEY_B).decrypt(token) == "whsec_x"
    assert len(await audit_of(fresh_db, "secrets.rotated")) == 1


# -- keys in the data directory ------------------------------------------------


def data_dir_env(tmp_path: Path, url: URL | None) -> dict[str, str]:
    env = cli_env(tmp_path / "data", url)
    del env["EAL_SECRET_KEY"]  # keys come from EAL_DATA_DIR/secret.key
    return env


async def test_add_key_then_rotate_in_a_data_directory(
    fresh_url: URL, fresh_db: Database, tmp_path: Path
) -> None:
    env = data_dir_env(tmp_path, fresh_url)
    data_dir = tmp_path / "data"
    first = SecretBox.from_settings(None, data_dir)  # as `eal serve` creates it
    (first_key,) = read_key_file(data_dir)
    org_id = await plant_organization(fresh_db, "Data Dir Co")
    await plant_webhook(fresh_db, org_id, first.encrypt("whsec_dd"))

    added = run_eal_json(["secrets", "add-key"], env, tmp_path)
    assert added["keys"] == 2
    assert added["key_file"] == str((data_dir / KEY_FILE_NAME).absolute())
    new_key, old_key = read_key_file(data_dir)
    assert old_key == first_key and new_key != first_key
    assert new_key not in json.dumps(added)

    status, report, _ = rotate(env, tmp_path)
    assert status == 0, report
    assert report["keys"] == 2 and kind_counts(report, WEBHOOK_SECRETS) == (1, 0, 0)
    (token,) = (await stored_values(fresh_db)).values()
    assert SecretBox(new_key).decrypt(token) == "whsec_dd"
    assert not opens(SecretBox(old_key), token)


def test_add_key_refuses_when_the_key_is_in_the_environment(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "data", None, EAL_SECRET_KEY=KEY_A)
    SecretBox.from_settings(None, tmp_path / "data")
    keys = read_key_file(tmp_path / "data")
    result = run_eal(["secrets", "add-key"], env, tmp_path)
    assert result.returncode == 2
    assert "EAL_SECRET_KEY is set" in result.stderr and result.stdout == ""
    assert read_key_file(tmp_path / "data") == keys


def test_add_key_needs_an_existing_key_file(tmp_path: Path) -> None:
    result = run_eal(["secrets", "add-key"], data_dir_env(tmp_path, None), tmp_path)
    assert result.returncode == 2
    assert "no key file" in result.stderr and result.stdout == ""
    assert not (tmp_path / "data" / KEY_FILE_NAME).exists()


def test_rotate_without_any_key_generates_none(tmp_path: Path, fresh_url: URL) -> None:
    result = run_eal(["secrets", "rotate"], data_dir_env(tmp_path, fresh_url), tmp_path)
    assert result.returncode == 2
    assert "no secret key" in result.stderr and result.stdout == ""
    assert not (tmp_path / "data" / KEY_FILE_NAME).exists()
