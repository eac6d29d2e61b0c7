"""Prospects CRUD through the API: create, read, list with filters and pages, update,
duplicates, bad input (an envelope, nothing changed), scopes and tenant isolation."""

from __future__ import annotations

import uuid

import httpx
import pytest

from eal.db.engine import Database
from tests.factories import Factory
from tests.prospects.support import PROSPECTS, SANDY_SPRINGS, create_prospect
from tests.support import assert_error, audit_entries, error_fields, table_counts

LIST_FIELDS = {
    "id",
    "company_name",
    "contact_name",
    "contact_email",
    "vertical",
    "qualification_status",
    "outreach_status",
    "created_at",
}


async def _count(db: Database) -> int:
    from sqlalchemy import text

    async with db.system_transaction() as conn:
        return int(await conn.scalar(text("SELECT count(*) FROM prospects")) or 0)


async def test_create_get_and_list_in_the_spec_shape(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Prospects CRUD Co")
    created = await create_prospect(client, tenant, **SANDY_SPRINGS, contact_phone="(404) 555-0142")
    uuid.UUID(created["id"])
    assert created["qualification_status"] == "pending"
    assert created["outreach_status"] == "none"
    assert created["contact_phone"] == "+14045550142"
    assert created["fit_score"] is None and created["engagement_score"] is None
    assert created["rationale"] is None and created["provider"] is None

    got = await client.get(f"{PROSPECTS}/{created['id']}", headers=tenant.headers)
    assert got.status_code == 200 and got.json() == created

    listed = await client.get(PROSPECTS, headers=tenant.headers)
    assert listed.status_code == 200
    body = listed.json()
    assert set(body) == {"data", "next_cursor"} and body["next_cursor"] is None
    (item,) = body["data"]
    assert set(item) == LIST_FIELDS
    assert item["company_name"] == "Sandy Springs Property Group"
    (entry,) = await audit_entries(db, tenant.id, "prospect.created")
    assert entry["payload"]["prospect_id"] == created["id"]


async def test_list_filters_and_keyset_pages(client: httpx.AsyncClient, factory: Factory) -> None:
    tenant = await factory.tenant("Prospects Paging Co")
    ids = []
    for n in range(5):
        vertical = "hoa" if n % 2 else "healthcare"
        made = await create_prospect(
            client, tenant, company_name=f"Pager {n}", vertical=vertical, contact_email=f"p{n}@x.io"
        )
        ids.append(made["id"])
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(PROSPECTS, params=params, headers=tenant.headers)).json()
        seen += [p["id"] for p in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))
    hoa = (await client.get(PROSPECTS, params={"vertical": "hoa"}, headers=tenant.headers)).json()
    assert [p["company_name"] for p in hoa["data"]] == ["Pager 3", "Pager 1"]
    pending = await client.get(
        PROSPECTS, params={"qualification_status": "pending"}, headers=tenant.headers
    )
    assert len(pending.json()["data"]) == 5
    active = await client.get(
        PROSPECTS, params={"outreach_status": "sequence_active"}, headers=tenant.headers
    )
    assert active.json()["data"] == []
    bad = await client.get(PROSPECTS, params={"vertical": "castle"}, headers=tenant.headers)
    assert error_fields(bad) == ["vertical"]


async def test_patch_changes_fields_and_audits_them(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Prospects Patch Co")
    made = await create_prospect(client, tenant, **SANDY_SPRINGS)
    r = await client.patch(
        f"{PROSPECTS}/{made['id']}",
        json={"buildings_managed": 31, "incumbent_vendor": "none", "notes": None},
        headers=tenant.headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["buildings_managed"] == 31 and r.json()["incumbent_vendor"] == "none"
    (entry,) = await audit_entries(db, tenant.id, "prospect.updated")
    assert entry["payload"]["fields"] == ["buildings_managed", "incumbent_vendor"]
    # The same values again change nothing and record nothing.
    again = await client.patch(
        f"{PROSPECTS}/{made['id']}", json={"buildings_managed": 31}, headers=tenant.headers
    )
    assert again.status_code == 200
    assert len(await audit_entries(db, tenant.id, "prospect.updated")) == 1
    cleared = await client.patch(
        f"{PROSPECTS}/{made['id']}", json={"company_name": None}, headers=tenant.headers
    )
    assert error_fields(cleared) == ["company_name"]


async def test_duplicates_are_a_409_naming_the_existing_prospect(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Prospects Duplicates Co")
    first = await create_prospect(client, tenant, **SANDY_SPRINGS)
    same_email = await client.post(
        PROSPECTS,
        json={"company_name": "Other Name", "contact_email": "DPark@Example.com"},
        headers=tenant.headers,
    )
    error = assert_error(same_email, 409, "conflict")
    assert error["details"]["existing_prospect_id"] == first["id"]
    assert error["details"]["field"] == "contact_email"
    assert "Sandy Springs Property Group" in error["message"]

    same_company = await client.post(
        PROSPECTS,
        json={"company_name": "The Sandy Springs Property Group, LLC", "postal_code": "30328"},
        headers=tenant.headers,
    )
    error = assert_error(same_company, 409, "conflict")
    assert error["details"] == {
        "field": "company",
        "existing_prospect_id": first["id"],
        "existing_company_name": "Sandy Springs Property Group",
    }
    # The same company elsewhere is another prospect.
    await create_prospect(
        client, tenant, company_name="Sandy Springs Property Group", postal_code="30075"
    )
    # A PATCH into a duplicate is refused too, and changes nothing.
    other = await create_prospect(client, tenant, company_name="Roswell HOA", vertical="hoa")
    r = await client.patch(
        f"{PROSPECTS}/{other['id']}",
        json={"contact_email": "dpark@example.com"},
        headers=tenant.headers,
    )
    assert assert_error(r, 409, "conflict")["details"]["existing_prospect_id"] == first["id"]
    shown = (await client.get(f"{PROSPECTS}/{other['id']}", headers=tenant.headers)).json()
    assert shown["contact_email"] is None
    assert len(await audit_entries(db, tenant.id, "prospect.created")) == 3


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, ["company_name"]),
        ({"company_name": "   "}, ["company_name"]),
        ({"company_name": "A", "vertical": "castle"}, ["vertical"]),
        ({"company_name": "A", "contact_email": "not-an-email"}, ["contact_email"]),
        ({"company_name": "A", "buildings_managed": -1}, ["buildings_managed"]),
        ({"company_name": "A", "units": "many"}, ["units"]),
        ({"company_name": "A", "units": 2.5}, ["units"]),
        ({"company_name": "A", "website": "not a site"}, ["website"]),
        ({"company_name": "A", "colour": "red"}, ["colour"]),
        ({"company_name": "A" * 201}, ["company_name"]),
    ],
)
async def test_bad_input_is_a_422_envelope_and_changes_nothing(
    client: httpx.AsyncClient, factory: Factory, db: Database, body: dict, fields: list[str]
) -> None:
    tenant = await factory.tenant("Prospects Validation Co")
    before = await table_counts(db)
    count = await _count(db)
    r = await client.post(PROSPECTS, json=body, headers=tenant.headers)
    assert error_fields(r) == fields
    assert await _count(db) == count
    assert await table_counts(db) == before


async def test_not_json_is_refused(client: httpx.AsyncClient, factory: Factory) -> None:
    tenant = await factory.tenant("Prospects Media Co")
    r = await client.post(
        PROSPECTS,
        content=b"company_name\nAcme\n",
        headers={**tenant.headers, "Content-Type": "text/csv"},
    )
    assert_error(r, 415, "unsupported_media_type")


async def test_tenants_are_isolated_and_scopes_apply(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    mine = await factory.tenant("Prospects Tenant A")
    theirs = await factory.tenant("Prospects Tenant B")
    made = await create_prospect(client, mine, **SANDY_SPRINGS)
    assert_error(
        await client.get(f"{PROSPECTS}/{made['id']}", headers=theirs.headers), 404, "not_found"
    )
    assert_error(
        await client.patch(f"{PROSPECTS}/{made['id']}", json={"units": 1}, headers=theirs.headers),
        404,
        "not_found",
    )
    assert (await client.get(PROSPECTS, headers=theirs.headers)).json()["data"] == []
    # The same email is another tenant's own prospect, not a duplicate.
    await create_prospect(client, theirs, **SANDY_SPRINGS)
    reader = await factory.tenant("Prospects Reader", scopes="read")
    assert (await client.get(PROSPECTS, headers=reader.headers)).status_code == 200
    r = await client.post(PROSPECTS, json={"company_name": "A"}, headers=reader.headers)
    assert_error(r, 403, "forbidden")
    assert_error(await client.get(PROSPECTS), 401, "unauthenticated")


async def test_row_level_security_hides_other_tenants_rows(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    from sqlalchemy import text

    from tests.support import tenant_tx

    mine = await factory.tenant("Prospects RLS A")
    theirs = await factory.tenant("Prospects RLS B")
    await create_prospect(client, mine, company_name="Mine Only")
    async with tenant_tx(db, theirs.id) as tx:
        seen = await tx.conn.scalar(
            text("SELECT count(*) FROM prospects WHERE company_name = 'Mine Only'")
        )
        batches = await tx.conn.scalar(
            text("SELECT count(*) FROM prospect_qualify_batches WHERE organization_id = :o"),
            {"o": mine.id},
        )
    assert seen == 0 and batches == 0
