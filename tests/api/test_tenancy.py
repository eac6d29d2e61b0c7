"""Row-level security: every tenant table is isolated, even from a raw query."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from eal.db.engine import APP_ROLE, set_tenant
from tests.support import assert_error, org_row


async def _tenant_tables(db) -> list[str]:
    async with db.system_transaction() as conn:
        rows = await conn.execute(
            text(
                "SELECT c.table_name FROM information_schema.columns c "
                "JOIN information_schema.tables t USING (table_schema, table_name) "
                "WHERE c.table_schema = 'public' AND c.column_name = 'organization_id' "
                "AND t.table_type = 'BASE TABLE' ORDER BY 1"
            )
        )
        return [r.table_name for r in rows]


async def test_rls_is_enabled_and_forced_on_every_tenant_table(db):
    tables = await _tenant_tables(db)
    assert {"api_keys", "org_grants", "org_invites", "platform_events"} <= set(tables)
    async with db.system_transaction() as conn:
        rows = await conn.execute(
            text(
                "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class "
                "WHERE relnamespace = 'public'::regnamespace AND relname = ANY(:names)"
            ),
            {"names": [*tables, "organizations"]},
        )
        flags = {r.relname: (r.relrowsecurity, r.relforcerowsecurity) for r in rows}
    assert set(flags) == {*tables, "organizations"}
    unprotected = [name for name, flag in flags.items() if flag != (True, True)]
    assert unprotected == []


async def test_every_tenant_table_the_runtime_role_can_touch_has_a_policy(db):
    # A table with forced RLS and no policy denies everything: fine for
    # system-only tables, but any table eal_app may use needs its tenant policy.
    tables = await _tenant_tables(db)
    async with db.system_transaction() as conn:
        with_policy = set(
            await conn.scalars(
                text("SELECT DISTINCT tablename FROM pg_policies WHERE schemaname = 'public'")
            )
        )
        reachable = {
            table
            for table in tables
            if await conn.scalar(
                text("SELECT has_table_privilege(:role, :table, 'SELECT, INSERT, UPDATE, DELETE')"),
                {"role": APP_ROLE, "table": f"public.{table}"},
            )
        }
    assert {"api_keys", "platform_events", "org_grants"} <= reachable
    assert reachable - with_policy == set()


async def test_runtime_role_owns_nothing_and_cannot_bypass_rls(db):
    async with db.system_transaction() as conn:
        role = (
            await conn.execute(
                text(
                    "SELECT rolsuper, rolbypassrls, rolcanlogin FROM pg_roles WHERE rolname = :role"
                ),
                {"role": APP_ROLE},
            )
        ).one()
        owned = list(
            await conn.scalars(
                text("SELECT tablename FROM pg_tables WHERE tableowner = :role"),
                {"role": APP_ROLE},
            )
        )
    assert (role.rolsuper, role.rolbypassrls, role.rolcanlogin) == (False, False, False)
    assert owned == []


async def test_request_connections_run_as_the_runtime_role(db):
    async with db.runtime_transaction() as conn:
        assert await conn.scalar(text("SELECT current_user")) == APP_ROLE


async def test_raw_queries_cannot_read_another_tenants_rows(db, factory):
    a = await factory.tenant("Tenant A")
    b = await factory.tenant("Tenant B")
    async with db.tenant_transaction(a.id) as conn:
        assert (
            await conn.scalar(text("SELECT count(*) FROM organizations WHERE id = :b"), {"b": b.id})
            == 0
        )
        for table in ("api_keys", "platform_events"):
            count = await conn.scalar(
                text(f"SELECT count(*) FROM {table} WHERE organization_id = :b"), {"b": b.id}
            )
            assert count == 0, table
        # A forgotten WHERE clause still only returns the tenant's own rows.
        owners = set(await conn.scalars(text("SELECT organization_id FROM api_keys")))
        assert owners == {a.id}
        own_events = await conn.scalar(
            text("SELECT count(*) FROM platform_events WHERE organization_id = :a"), {"a": a.id}
        )
        assert own_events >= 2  # organization.created + api_key.created


async def test_no_tenant_set_sees_nothing(db, factory):
    await factory.tenant("Tenant Visible To Nobody")
    async with db.runtime_transaction() as conn:
        for table in ("organizations", "api_keys", "platform_events", "org_grants"):
            assert await conn.scalar(text(f"SELECT count(*) FROM {table}")) == 0, table


@pytest.mark.parametrize(
    ("table", "columns"),
    [
        (
            "api_keys",
            "(organization_id, prefix, key_hash, scopes, environment) "
            "VALUES (:b, 'eal_live_xxxxxxx', '\\x00'::bytea, '{read}', 'live')",
        ),
        (
            "platform_events",
            "(organization_id, action, source, seq, prev_hash, hash) "
            "VALUES (:b, 'forged', 'api', 0, ''::bytea, ''::bytea)",
        ),
        ("organizations", "(name, parent_organization_id) VALUES ('Forged child', :b)"),
    ],
)
async def test_inserting_rows_for_another_tenant_is_refused(db, factory, table, columns):
    a = await factory.tenant("Inserting Tenant A")
    b = await factory.tenant("Target Tenant B")
    with pytest.raises(DBAPIError, match="row-level security"):
        async with db.tenant_transaction(a.id) as conn:
            await conn.execute(text(f"INSERT INTO {table} {columns}"), {"b": b.id})


async def test_switching_tenant_mid_transaction_changes_visibility(db, factory):
    a = await factory.tenant("Switch A")
    b = await factory.tenant("Switch B")
    async with db.tenant_transaction(a.id) as conn:
        assert await conn.scalar(text("SELECT count(*) FROM api_keys")) == 1
        await set_tenant(conn, None)
        assert await conn.scalar(text("SELECT count(*) FROM api_keys")) == 0
        await set_tenant(conn, b.id)
        assert set(await conn.scalars(text("SELECT organization_id FROM api_keys"))) == {b.id}


async def test_another_tenants_organization_is_404(client, factory, db):
    a = await factory.tenant("Patching Tenant A")
    b = await factory.tenant("Patched Tenant B")
    before = await org_row(db, b.id)
    r = await client.patch(
        f"/api/v1/organizations/{b.id}", json={"name": "Hijacked"}, headers=a.headers
    )
    assert_error(r, 404, "not_found")
    assert await org_row(db, b.id) == before
