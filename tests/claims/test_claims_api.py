"""Claims through the API: create, read, list, rooms, drying log, bad input, isolation."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text

from eal.db.engine import Database
from eal.runtime import Runtime
from tests.claims.support import BASEMENT, CLAIMS, create_claim, extracted, get_claim
from tests.factories import Factory
from tests.support import assert_error, audit_entries, error_fields

LIST_FIELDS = {
    "id",
    "job_external_ref",
    "loss_type",
    "status",
    "scope_item_count",
    "photo_count",
    "created_at",
}


async def _claim_count(db: Database) -> int:
    async with db.system_transaction() as conn:
        return int(await conn.scalar(text("SELECT count(*) FROM claims")) or 0)


async def test_create_get_and_list_in_the_spec_shape(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Claims CRUD Co")
    created = await create_claim(client, tenant, job_external_ref="jn_117422")
    assert set(created) == {"id", "status", "estimated_ready_at", "created_at"}
    assert created["id"].startswith("clm_") and len(created["id"]) == 36
    # No vendor source: photos are uploaded, so the claim starts collecting.
    assert created["status"] == "collecting" and created["estimated_ready_at"] is None

    claim = await get_claim(client, tenant, created["id"])
    assert claim["loss_type"] == "water" and claim["status"] == "collecting"
    assert claim["source"] == {"vendor": "upload"}
    assert claim["rooms"] == [] and claim["photos"] == [] and claim["photo_count"] == 0
    assert claim["summary_pdf_url"].startswith(f"http://testserver/claims/{created['id']}.pdf?exp=")
    assert claim["summary_txt_url"].startswith(f"http://testserver/claims/{created['id']}.txt?exp=")

    listed = await client.get(CLAIMS, headers=tenant.headers)
    assert listed.status_code == 200
    body = listed.json()
    assert set(body) == {"data", "next_cursor"} and body["next_cursor"] is None
    (item,) = body["data"]
    assert set(item) == LIST_FIELDS
    assert item["job_external_ref"] == "jn_117422" and item["scope_item_count"] == 0
    (entry,) = await audit_entries(db, tenant.id, "claim.created")
    assert entry["payload"]["claim_id"] == created["id"]


async def test_lists_filter_and_page(client: httpx.AsyncClient, factory: Factory) -> None:
    tenant = await factory.tenant("Claims Paging Co")
    made = [
        await create_claim(client, tenant, loss_type=kind)
        for kind in ("water", "fire", "mold", "water")
    ]
    waters = await client.get(CLAIMS, params={"loss_type": "water"}, headers=tenant.headers)
    assert [c["id"] for c in waters.json()["data"]] == [made[3]["id"], made[0]["id"]]
    collecting = await client.get(CLAIMS, params={"status": "collecting"}, headers=tenant.headers)
    assert len(collecting.json()["data"]) == 4
    reviewed = await client.get(CLAIMS, params={"status": "reviewed"}, headers=tenant.headers)
    assert reviewed.json()["data"] == []
    first = (await client.get(CLAIMS, params={"limit": 3}, headers=tenant.headers)).json()
    assert len(first["data"]) == 3 and first["next_cursor"]
    rest = await client.get(
        CLAIMS, params={"limit": 3, "cursor": first["next_cursor"]}, headers=tenant.headers
    )
    assert [c["id"] for c in rest.json()["data"]] == [made[0]["id"]]
    bad = await client.get(CLAIMS, params={"loss_type": "flood"}, headers=tenant.headers)
    assert error_fields(bad) == ["loss_type"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"loss_type": "flood"}, "loss_type"),
        ({"loss_type": "fire", "water_category": 2}, "body"),
        ({"loss_type": "water", "water_category": 4}, "water_category"),
        ({"loss_type": "water", "water_class": 0}, "water_class"),
        ({"loss_type": "water", "source": {"vendor": "companycam"}}, "source"),
        ({"loss_type": "water", "source": {"vendor": "dropbox"}}, "source.vendor"),
        ({"loss_type": "water", "date_of_loss": "0999-01-01"}, "date_of_loss"),
        ({"loss_type": "water", "location": {"lat": 91, "lon": 0}}, "location.lat"),
        ({"loss_type": "water", "surprise": 1}, "surprise"),
        ({"loss_type": "water", "rooms": [{"name": "Basement"}, {"name": "basement"}]}, "rooms"),
        ({"loss_type": "water", "rooms": [{"name": "Outside"}]}, "rooms.0.name"),
        (
            {
                "loss_type": "water",
                "rooms": [{"name": "A", "dimensions": {"length_ft": 10, "height_ft": 8}}],
            },
            "rooms.0.dimensions",
        ),
        (
            {"loss_type": "water", "rooms": [{"name": "A", "photo_ids": ["photo_" + "0" * 32]}]},
            "rooms.0.photo_ids.0",
        ),
    ],
)
async def test_bad_input_is_a_422_naming_the_field_and_stores_nothing(
    client: httpx.AsyncClient, factory: Factory, db: Database, body: dict[str, Any], field: str
) -> None:
    tenant = await factory.tenant("Claims Bad Input Co")
    before = await _claim_count(db)
    r = await client.post(CLAIMS, json=body, headers=tenant.headers)
    fields = error_fields(r)
    assert any(f == field or f.startswith(field + ".") for f in fields), fields
    assert await _claim_count(db) == before


async def test_scopes_and_tenant_isolation(client: httpx.AsyncClient, factory: Factory) -> None:
    owner = await factory.tenant("Claims Owner Co")
    other = await factory.tenant("Claims Other Co")
    reader = await factory.tenant("Claims Reader Co", scopes="read")
    created = await create_claim(client, owner)
    assert_error(
        await client.get(f"{CLAIMS}/{created['id']}", headers=other.headers), 404, "not_found"
    )
    assert (await client.get(CLAIMS, headers=other.headers)).json()["data"] == []
    r = await client.put(
        f"{CLAIMS}/{created['id']}/rooms", json={"rooms": [BASEMENT]}, headers=other.headers
    )
    assert_error(r, 404, "not_found")
    denied = await client.post(CLAIMS, json={"loss_type": "water"}, headers=reader.headers)
    assert denied.status_code == 403
    assert_error(
        await client.get(f"{CLAIMS}/clm_nothex", headers=owner.headers), 422, "validation_failed"
    )
    assert_error(
        await client.get(f"{CLAIMS}/clm_{'0' * 32}", headers=owner.headers), 404, "not_found"
    )


async def test_rooms_are_replaced_and_a_reviewed_claim_extracts_again(
    client: httpx.AsyncClient, factory: Factory, runtime: Runtime, db: Database
) -> None:
    tenant = await factory.tenant("Claims Rooms Co")
    created = await create_claim(client, tenant, water_category=1, water_class=2)
    r = await client.put(
        f"{CLAIMS}/{created['id']}/rooms", json={"rooms": [BASEMENT]}, headers=tenant.headers
    )
    assert r.status_code == 200, r.text
    # Still collecting: nothing runs until extraction is asked for.
    assert r.json()["status"] == "collecting"
    (room,) = r.json()["rooms"]
    assert room["name"] == "Basement" and room["dimensions"]["length_ft"] == 24

    claim = await extracted(client, runtime, tenant, created["id"])
    assert claim["status"] == "ready_for_review"
    assert claim["scope_item_count"] > 0
    assert claim["rooms"][0]["floor_sf"] == 432

    kitchen = {"name": "Kitchen", "dimensions": {"length_ft": 12, "width_ft": 10, "height_ft": 8}}
    again = await client.put(
        f"{CLAIMS}/{created['id']}/rooms",
        json={"rooms": [BASEMENT, kitchen]},
        headers=tenant.headers,
    )
    assert again.json()["status"] == "extracting"
    assert len(await audit_entries(db, tenant.id, "claim.rooms_updated")) == 2


async def test_the_drying_log_shows_grains_per_pound(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    tenant = await factory.tenant("Claims Drying Co")
    created = await create_claim(client, tenant, rooms=[BASEMENT])
    entries = [
        {"taken_at": "2026-04-27T14:00:00Z", "room": "basement", "temp_f": 70, "rh_pct": 50},
        {"taken_at": "2026-04-27T14:05:00Z", "room": "outside", "temp_f": 90, "rh_pct": 40},
    ]
    r = await client.put(
        f"{CLAIMS}/{created['id']}/drying-log", json={"entries": entries}, headers=tenant.headers
    )
    assert r.status_code == 200, r.text
    rows = r.json()["drying_log"]
    assert [row["room"] for row in rows] == ["Basement", "outside"]
    # Psychrometric chart at sea level: 70 F / 50 % is about 55 gr/lb, 90 F / 40 % about 86.
    assert rows[0]["gpp"] == pytest.approx(54.7, abs=1.0)
    assert rows[1]["gpp"] == pytest.approx(85.7, abs=1.5)
    bad = await client.put(
        f"{CLAIMS}/{created['id']}/drying-log",
        json={"entries": [{**entries[0], "room": "Attic"}]},
        headers=tenant.headers,
    )
    assert error_fields(bad) == ["entries.0.room"]
    unchanged = await get_claim(client, tenant, created["id"])
    assert len(unchanged["drying_log"]) == 2
