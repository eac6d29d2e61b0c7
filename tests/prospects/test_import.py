"""CSV import: good rows are created, bad rows reported one by one, duplicates skipped; a file
that cannot be read as the documented CSV is refused whole and changes nothing."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text

from eal.db.engine import Database
from tests.factories import Factory, Tenant
from tests.prospects.support import PROSPECTS, SANDY_SPRINGS, create_prospect
from tests.support import assert_error, audit_entries

IMPORT = f"{PROSPECTS}/import"
BOM = b"\xef\xbb\xbf"


async def _post(client: httpx.AsyncClient, tenant: Tenant, body: bytes) -> httpx.Response:
    return await client.post(
        IMPORT, content=body, headers={**tenant.headers, "Content-Type": "text/csv"}
    )


async def _count(db: Database, tenant: Tenant) -> int:
    async with db.system_transaction() as conn:
        return int(
            await conn.scalar(
                text("SELECT count(*) FROM prospects WHERE organization_id = :o"), {"o": tenant.id}
            )
            or 0
        )


async def test_good_rows_are_created_bad_ones_reported_and_duplicates_skipped(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Import Mixed Co")
    existing = await create_prospect(client, tenant, **SANDY_SPRINGS)
    csv_text = (
        "Company Name,contact_name,Contact Email,vertical,postal_code,buildings_managed,units\n"
        "Roswell Commons HOA,Ann Lee,ann@roswellcommons.example,HOA,30075,12,340\n"  # 2: ok
        ",Nobody,nobody@example.com,office,30075,,\n"  # 3: no company
        "Bad Email Co,Bo,not-an-email,castle,30075,-4,\n"  # 4: three problems
        "Sandy Dup,Dan,DPARK@example.com,office,,,\n"  # 5: duplicate of a stored prospect
        '"Peachtree Medical, Inc.",Dr. Ray,ray@peachtree.example,healthcare,30342,"1,200",\n'  # 6
        "Peachtree Medical,Other,other@peachtree.example,healthcare,30342,,\n"  # 7: dup of row 6
        "\n"  # a blank line is no row
        "Too Many Cells,x,x@example.com,office,30075,1,2,3\n"  # 9
        "Northside Apartments,Kim,kim@northside.example,Multifamily,30328,,880\n"  # 10: ok
    )
    r = await _post(client, tenant, BOM + csv_text.encode())
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["created"], body["skipped"], body["failed"]) == (3, 2, 3)
    assert body["errors"] == [
        {"row": 3, "field": "company_name", "message": "Field required"},
        {"row": 4, "field": "contact_email", "message": body["errors"][1]["message"]},
        {"row": 4, "field": "vertical", "message": body["errors"][2]["message"]},
        {"row": 4, "field": "buildings_managed", "message": body["errors"][3]["message"]},
        {"row": 9, "field": None, "message": "has 8 cells; the header has 7 columns"},
    ]
    assert "email" in body["errors"][1]["message"]
    assert "hoa" in body["errors"][2]["message"]
    assert body["skipped_rows"] == [
        {
            "row": 5,
            "reason": "duplicate contact_email",
            "existing_prospect_id": existing["id"],
            "duplicate_of_row": None,
        },
        {
            "row": 7,
            "reason": "duplicate company in this postal code",
            "existing_prospect_id": None,
            "duplicate_of_row": 6,
        },
    ]
    listed = (await client.get(PROSPECTS, headers=tenant.headers)).json()["data"]
    names = {p["company_name"]: p for p in listed}
    assert set(names) == {
        "Sandy Springs Property Group",
        "Roswell Commons HOA",
        "Peachtree Medical, Inc.",
        "Northside Apartments",
    }
    assert names["Roswell Commons HOA"]["vertical"] == "hoa"  # "HOA" read as the enum
    assert names["Northside Apartments"]["vertical"] == "multifamily"
    medical = (
        await client.get(
            f"{PROSPECTS}/{names['Peachtree Medical, Inc.']['id']}", headers=tenant.headers
        )
    ).json()
    assert medical["buildings_managed"] == 1200
    assert all(p["qualification_status"] == "pending" for p in listed)
    assert sorted(body["prospect_ids"]) == sorted(
        names[n]["id"] for n in names if n != "Sandy Springs Property Group"
    )
    (entry,) = await audit_entries(db, tenant.id, "prospects.imported")
    assert entry["payload"] | {"key_id": None} == {
        "rows": 8,
        "created": 3,
        "skipped": 2,
        "failed": 3,
        "key_id": None,
    }
    # Importing the same file again creates nothing: every valid row is now a duplicate.
    again = (await _post(client, tenant, csv_text.encode())).json()
    assert (again["created"], again["skipped"], again["failed"]) == (0, 5, 3)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"", "empty"),
        (BOM, "empty"),
        (b"company_name,contact_email\n", "no data rows"),
        (b"contact_email\nx@example.com\n", "company_name column"),
        (b"company_name,favourite_colour\nAcme,red\n", "unknown column"),
        (b"company_name,company_name\nAcme,Acme\n", "more than once"),
        (b"company_name\n\xff\xfeAcme\n", "not UTF-8"),
        (b'company_name\n"Acme\n', "not valid CSV"),
    ],
)
async def test_an_unreadable_file_is_refused_whole(
    client: httpx.AsyncClient, factory: Factory, db: Database, body: bytes, words: str
) -> None:
    tenant = await factory.tenant("Import Refused Co")
    r = await _post(client, tenant, body)
    error = assert_error(r, 422, "validation_failed")
    assert words in error["message"], error
    assert error["details"]["fields"][0]["field"] == "file"
    assert await _count(db, tenant) == 0
    assert await audit_entries(db, tenant.id, "prospects.imported") == []


async def test_more_than_10000_rows_is_refused_and_10000_are_taken(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Import Size Co")
    rows = "".join(f"Company {n},c{n}@example.com,30075\n" for n in range(10_001))
    header = "company_name,contact_email,postal_code\n"
    too_many = await _post(client, tenant, (header + rows).encode())
    assert "more than 10,000" in assert_error(too_many, 422, "validation_failed")["message"]
    assert await _count(db, tenant) == 0
    fits = header + "".join(rows.splitlines(keepends=True)[:10_000])
    r = await _post(client, tenant, fits.encode())
    assert r.status_code == 200, r.text
    assert r.json()["created"] == 10_000 and r.json()["failed"] == 0
    assert await _count(db, tenant) == 10_000


async def test_the_import_needs_csv_and_a_write_key(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    tenant = await factory.tenant("Import Media Co")
    r = await client.post(IMPORT, json={"company_name": "Acme"}, headers=tenant.headers)
    assert_error(r, 415, "unsupported_media_type")
    reader = await factory.tenant("Import Reader Co", scopes="read")
    assert_error(await _post(client, reader, b"company_name\nAcme\n"), 403, "forbidden")


async def test_a_file_over_1_mib_is_taken_up_to_8_mib(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Import Large Co")
    notes = "Manages garden-style communities; asked for a call back after the spring storms. " * 5
    rows = "".join(f'Large {n},l{n}@example.com,"{notes}"\n' for n in range(3000))
    body = ("company_name,contact_email,notes\n" + rows).encode()
    assert len(body) > 1024 * 1024
    r = await _post(client, tenant, body)
    assert r.status_code == 200, r.text
    assert r.json()["created"] == 3000
    too_big = await _post(client, tenant, b"company_name\n" + b"A\n" * (4 * 1024 * 1024 + 1))
    assert_error(too_big, 413, "payload_too_large")
    assert await _count(db, tenant) == 3000
