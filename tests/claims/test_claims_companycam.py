"""CompanyCam intake: a claim imports its project's photos (paged), re-imports only new ones,
assigns rooms by tag, keeps vendor failures as the claim's import error."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from eal.db.engine import Database
from eal.integrations.companycam import CompanyCamAuthError, CompanyCamClient, CompanyCamError
from eal.runtime import Runtime
from tests.claims.support import (
    BASEMENT,
    CLAIMS,
    create_claim,
    get_claim,
    photo,
    run_extraction,
    run_import,
)
from tests.factories import Factory, Tenant
from tests.integrations.fake_companycam import FakeCompanyCam, run_fake_companycam
from tests.support import audit_entries

TOKEN = "cc-test-token-5f2a9d81"
ORGS = "/api/v1/organizations"


@pytest.fixture
def companycam() -> Iterator[FakeCompanyCam]:
    with run_fake_companycam(TOKEN) as fake:
        yield fake


async def _tenant(
    client: httpx.AsyncClient, factory: Factory, name: str, fake: FakeCompanyCam, token: str = TOKEN
) -> Tenant:
    tenant = await factory.tenant(name, scopes="admin")
    body = {
        "settings": {"integrations": {"companycam": {"api_key": token, "base_url": fake.base_url}}}
    }
    r = await client.patch(f"{ORGS}/{tenant.id}", json=body, headers=tenant.headers)
    assert r.status_code == 200, r.text
    shown = r.json()["settings"]["integrations"]["companycam"]
    assert "api_key" not in shown and token not in r.text and shown["api_key_hint"]
    return tenant


async def test_a_project_is_imported_page_by_page_and_reimported_without_twins(
    client: httpx.AsyncClient,
    factory: Factory,
    runtime: Runtime,
    db: Database,
    companycam: FakeCompanyCam,
) -> None:
    tenant = await _tenant(client, factory, "Claims CompanyCam Co", companycam)
    companycam.add_project(
        "cc_proj_5482",
        address={
            "street_address_1": "810 P St",
            "city": "Roswell",
            "state": "GA",
            "postal_code": "30075",
        },
        coordinates=(34.0232, -84.3616),
    )
    taken = datetime(2026, 4, 27, 13, 0, tzinfo=UTC)
    for index in range(205):
        companycam.add_photo(
            "cc_proj_5482",
            photo(100 + index % 103, size=(160, 120)),
            captured_at=taken + timedelta(minutes=index),
            coordinates=(34.0233, -84.3615),
            tags=["Basement", "standing water"] if index % 2 == 0 else ["moisture"],
        )
    created = await create_claim(
        client,
        tenant,
        source={"vendor": "companycam", "project_id": "cc_proj_5482"},
        job_external_ref="jn_117422",
        water_category=1,
        water_class=2,
        rooms=[BASEMENT],
    )
    assert created["status"] == "extracting" and created["estimated_ready_at"]
    await run_import(runtime, tenant, created["id"])
    pages = companycam.requests("/v2/projects/cc_proj_5482/photos")
    assert [r.query["page"] for r in pages] == ["1", "2", "3"]
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in pages)

    await run_extraction(runtime, tenant, created["id"])
    claim = await get_claim(client, tenant, created["id"])
    assert claim["status"] == "ready_for_review"
    assert claim["location"] == {"lat": 34.0232, "lon": -84.3616}
    assert claim["address"] == "810 P St, Roswell, GA 30075"
    assert len(claim["photos"]) == 205
    # 103 distinct pictures: the other 102 are exact copies, listed but not counted.
    assert claim["photo_count"] == 103
    tagged = [p for p in claim["photos"] if "Basement" in p["tags"]]
    assert tagged and all(p["room"] == "Basement" for p in tagged)
    assert all(p["far_from_loss"] is False for p in claim["photos"])
    first = claim["photos"][0]
    assert first["captured_at"] == "2026-04-27T13:00:00.000Z"
    summary = claim["rooms"][0]["photo_summary"]
    assert "standing water" in summary["notable_tags"] and summary["count"] > 0
    (imported,) = await audit_entries(db, tenant.id, "claim.photos_imported")
    assert len(imported["payload"]["photo_ids"]) == 205

    companycam.add_photo("cc_proj_5482", photo(999, size=(160, 120)), tags=["Kitchen"])
    again = await client.post(f"{CLAIMS}/{created['id']}/import", headers=tenant.headers)
    assert again.status_code == 202 and again.json()["status"] == "extracting"
    await run_import(runtime, tenant, created["id"])
    after = await get_claim(client, tenant, created["id"])
    assert len(after["photos"]) == 206 and after["photo_count"] == 104
    assert after["photos"][-1]["room"] is None  # no room is named Kitchen


async def test_vendor_failures_retry_then_stay_visible(
    client: httpx.AsyncClient,
    factory: Factory,
    runtime: Runtime,
    db: Database,
    companycam: FakeCompanyCam,
) -> None:
    tenant = await _tenant(client, factory, "Claims CompanyCam Down Co", companycam)
    companycam.add_project("cc_proj_1")
    created = await create_claim(
        client, tenant, source={"vendor": "companycam", "project_id": "cc_proj_1"}
    )
    companycam.fail_next(503)
    with pytest.raises(CompanyCamError) as raised:
        await run_import(runtime, tenant, created["id"], attempt=1)
    assert raised.value.transient
    missing = await create_claim(
        client, tenant, source={"vendor": "companycam", "project_id": "cc_nope"}
    )
    await run_import(runtime, tenant, missing["id"])
    await run_extraction(runtime, tenant, missing["id"])
    claim = await get_claim(client, tenant, missing["id"])
    # A permanent failure is kept on the claim; extraction still ran on what it has.
    assert claim["import_error"] and "CompanyCam" in claim["import_error"]
    assert claim["status"] == "ready_for_review"
    assert len(await audit_entries(db, tenant.id, "claim.import_failed")) == 1
    upload_claim = await create_claim(client, tenant)
    r = await client.post(f"{CLAIMS}/{upload_claim['id']}/import", headers=tenant.headers)
    assert r.status_code == 409


async def test_the_client_speaks_the_documented_protocol(
    runtime: Runtime, companycam: FakeCompanyCam
) -> None:
    companycam.add_project("p1", coordinates=(40.8, -96.7))
    companycam.tags_inline = True
    companycam.add_photo("p1", photo(1, size=(64, 48)), tags=["Roof"], description="North slope")
    client = CompanyCamClient(TOKEN, http=runtime.http, base_url=companycam.base_url)
    project = await client.project("p1")
    assert project.coordinates == (40.8, -96.7)
    photos = [p async for p in client.photos("p1", per_page=2)]
    assert [p.tags for p in photos] == [("Roof",)] and photos[0].description == "North slope"
    # Inline tags: no per-photo tag requests.
    assert companycam.requests("/v2/photos/") == []
    data, content_type = await client.download(photos[0].original_url or "", max_bytes=10_000_000)
    assert data[:2] == b"\xff\xd8" and content_type == "image/jpeg"
    with pytest.raises(CompanyCamError):
        await client.download(photos[0].original_url or "", max_bytes=10)
    companycam.fail_next(429)
    with pytest.raises(CompanyCamError) as limited:
        await client.project("p1")
    assert limited.value.transient and limited.value.retry_after == 7
    wrong = CompanyCamClient("wrong-token-000", http=runtime.http, base_url=companycam.base_url)
    with pytest.raises(CompanyCamAuthError) as refused:
        await wrong.project("p1")
    assert "wrong-token" not in refused.value.message and not refused.value.transient
