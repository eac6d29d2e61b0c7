"""Qualification through the API: the verdict's shape, reasons that follow the data (PATCH and
weather), batches run by the job worker, and the LLM path with its fallback."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from eal.config import Settings
from eal.db.engine import Database
from eal.runtime import Runtime
from tests.factories import Factory
from tests.integrations.fake_llm import FakeLlm, run_fake_llm
from tests.outreach.support import Clocked, clocked_app, wait_until
from tests.prospects.support import (
    PROSPECTS,
    SANDY_SPRINGS,
    create_prospect,
    prospects_worker,
    qualify,
    set_service_area,
)
from tests.support import assert_error, audit_entries, error_fields

VERDICT_FIELDS = {
    "prospect_id",
    "qualified",
    "fit_score",
    "rationale",
    "qualified_at",
    "qualification_status",
    "engagement_score",
    "provider",
}


async def test_a_verdict_has_the_spec_shape_and_is_stored(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Qualify Shape Co")
    await set_service_area(client, tenant)
    made = await create_prospect(client, tenant, **SANDY_SPRINGS)
    verdict = await qualify(client, tenant, made["id"])
    assert set(verdict) == VERDICT_FIELDS
    assert verdict["qualified"] is True and verdict["qualification_status"] == "qualified"
    assert 0 <= verdict["fit_score"] <= 100 and verdict["provider"] == "embedded"
    assert verdict["engagement_score"] is None  # no outreach yet
    assert "Manages 28 buildings and 1,400 units: large portfolio" in verdict["rationale"]
    shown = (await client.get(f"{PROSPECTS}/{made['id']}", headers=tenant.headers)).json()
    assert shown["qualification_status"] == "qualified"
    assert shown["rationale"] == verdict["rationale"] and shown["provider"] == "embedded"
    assert shown["fit_score"] == verdict["fit_score"]
    (entry,) = await audit_entries(db, tenant.id, "prospect.qualified")
    assert entry["payload"]["fit_score"] == verdict["fit_score"]
    listed = await client.get(
        PROSPECTS, params={"qualification_status": "qualified"}, headers=tenant.headers
    )
    assert [p["id"] for p in listed.json()["data"]] == [made["id"]]


async def test_the_reasons_follow_the_data(client: httpx.AsyncClient, factory: Factory) -> None:
    tenant = await factory.tenant("Qualify Follows Co")
    await set_service_area(client, tenant)
    made = await create_prospect(client, tenant, **SANDY_SPRINGS)
    first = await qualify(client, tenant, made["id"])
    assert "No incumbent restoration vendor on record" in first["rationale"]

    r = await client.patch(
        f"{PROSPECTS}/{made['id']}",
        json={
            "incumbent_vendor": "ServiceMaster Restore",
            "buildings_managed": 3,
            "units": None,
            "postal_code": "31401",
        },
        headers=tenant.headers,
    )
    assert r.status_code == 200, r.text
    second = await qualify(client, tenant, made["id"])
    assert (
        "Incumbent vendor on record: ServiceMaster Restore (must be displaced)"
        in (second["rationale"])
    )
    assert "Manages 3 buildings: small portfolio" in second["rationale"]
    assert any(line.startswith("Postal code 31401 is 234 mi") for line in second["rationale"])
    assert second["fit_score"] < first["fit_score"]
    assert second["qualification_status"] != "qualified"

    # Severe weather recorded in its area appears as a reason, with its date.
    occurred = datetime.now(UTC) - timedelta(days=3)
    w = await client.post(
        "/api/v1/weather-events",
        json={
            "event_type": "hurricane",
            "postal_codes": ["31401"],
            "occurred_at": occurred.isoformat(),
            "severity": "extreme",
        },
        headers=tenant.headers,
    )
    assert w.status_code == 201, w.text
    third = await qualify(client, tenant, made["id"])
    expected = (
        f"Recent extreme hurricane in postal code 31401 on {occurred.date().isoformat()} "
        "(3 days ago)"
    )
    assert expected in third["rationale"]
    assert third["fit_score"] > second["fit_score"]


async def test_bad_requests_are_refused(client: httpx.AsyncClient, factory: Factory) -> None:
    tenant = await factory.tenant("Qualify Refusals Co")
    url = f"{PROSPECTS}/qualify"
    many = [str(i).zfill(32) for i in range(501)]
    ids = [f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:32]}" for h in many]
    assert error_fields(await client.post(url, json={"prospect_ids": ids}, headers=tenant.headers))
    assert error_fields(await client.post(url, json={"prospect_ids": []}, headers=tenant.headers))
    assert error_fields(await client.post(url, json={}, headers=tenant.headers))
    both = {"prospect_id": ids[0], "prospect_ids": ids[:1]}
    assert error_fields(await client.post(url, json=both, headers=tenant.headers))
    missing = await client.post(url, json={"prospect_id": ids[0]}, headers=tenant.headers)
    assert error_fields(missing) == ["prospect_id"]
    unknown = await client.get(f"{url}/qbat_{'0' * 32}", headers=tenant.headers)
    assert_error(unknown, 404, "not_found")


async def test_a_batch_runs_as_a_job_and_reports_each_prospect(
    client: httpx.AsyncClient, factory: Factory, runtime: Runtime, db: Database
) -> None:
    tenant = await factory.tenant("Qualify Batch Co")
    await set_service_area(client, tenant)
    strong = await create_prospect(client, tenant, **SANDY_SPRINGS)
    weak = await create_prospect(
        client, tenant, company_name="Corner Diner", vertical="restaurant", postal_code="31401"
    )
    other = await factory.tenant("Qualify Batch Other Co")
    theirs = await create_prospect(client, other, company_name="Not Yours Inc")
    ids = [strong["id"], weak["id"], theirs["id"]]
    r = await client.post(
        f"{PROSPECTS}/qualify", json={"prospect_ids": ids}, headers=tenant.headers
    )
    assert r.status_code == 202, r.text
    batch_id = r.json()["batch_id"]
    assert set(r.json()) == {"batch_id"} and batch_id.startswith("qbat_")
    url = f"{PROSPECTS}/qualify/{batch_id}"
    queued = (await client.get(url, headers=tenant.headers)).json()
    assert queued["status"] == "queued" and queued["done"] == 0 and queued["total"] == 3
    assert [item["status"] for item in queued["results"]] == ["pending"] * 3

    async def finished() -> dict[str, Any] | None:
        body: dict[str, Any] = (await client.get(url, headers=tenant.headers)).json()
        return body if body["status"] == "completed" else None

    async with prospects_worker(runtime):
        done = await wait_until(finished, what="the batch")
    assert done["done"] == 3 and done["finished_at"] is not None
    by_id = {item["prospect_id"]: item for item in done["results"]}
    assert by_id[strong["id"]]["result"]["qualification_status"] == "qualified"
    assert by_id[weak["id"]]["result"]["qualification_status"] == "disqualified"
    assert by_id[theirs["id"]]["status"] == "not_found"
    assert by_id[theirs["id"]]["result"] is None
    shown = (await client.get(f"{PROSPECTS}/{weak['id']}", headers=tenant.headers)).json()
    assert shown["qualification_status"] == "disqualified"
    # Another tenant cannot read the batch; the other tenant's prospect was not touched.
    assert_error(await client.get(url, headers=other.headers), 404, "not_found")
    untouched = (await client.get(f"{PROSPECTS}/{theirs['id']}", headers=other.headers)).json()
    assert untouched["qualification_status"] == "pending"
    assert len(await audit_entries(db, tenant.id, "prospect.qualified")) == 2
    assert len(await audit_entries(db, tenant.id, "prospect.qualify_batch.queued")) == 1


# --- the LLM path --------------------------------------------------------------------------

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
LLM_LINES = [
    "Runs 28 buildings (1,400 units) a few miles from the shop",
    "No restoration vendor on file: an open door",
]


@pytest.fixture
def llm() -> Iterator[FakeLlm]:
    answer = {"rationale": LLM_LINES, "fit_adjustment": -4}
    with run_fake_llm(content=json.dumps(answer), models=["test-model"]) as fake:
        yield fake


@pytest.fixture
async def with_llm(settings: Settings, llm: FakeLlm) -> AsyncIterator[Clocked]:
    configured = settings.model_copy(
        update={"llm_base_url": llm.base_url, "llm_model": "test-model", "llm_timeout_seconds": 5.0}
    )
    async with clocked_app(configured, NOW) as app:
        yield app


async def test_the_llm_phrases_the_rationale_when_configured(
    with_llm: Clocked, factory: Factory, llm: FakeLlm
) -> None:
    client = with_llm.client
    tenant = await factory.tenant("Qualify LLM Co")
    await set_service_area(client, tenant)
    made = await create_prospect(client, tenant, **SANDY_SPRINGS)
    embedded_tenant = await factory.tenant("Qualify LLM Off Co")
    await set_service_area(client, embedded_tenant, ai={"llm_enabled": False})
    reference = await create_prospect(client, embedded_tenant, **SANDY_SPRINGS)
    embedded = await qualify(client, embedded_tenant, reference["id"])
    assert embedded["provider"] == "embedded"
    assert not llm.chats  # the organization keeps its prospects off the LLM

    verdict = await qualify(client, tenant, made["id"])
    assert verdict["provider"] == "llm:test-model"
    assert verdict["rationale"] == LLM_LINES
    assert verdict["fit_score"] == max(0, embedded["fit_score"] - 4)
    (chat,) = llm.chats
    user = chat.content_of("user")
    assert "company: Sandy Springs Property Group" in user
    assert "Manages 28 buildings and 1,400 units: large portfolio" in user
    assert chat.body["response_format"]["type"] == "json_schema"


@pytest.mark.parametrize("failure", ["status", "nonsense", "too_far"])
async def test_the_embedded_result_stands_when_the_llm_fails(
    with_llm: Clocked, factory: Factory, llm: FakeLlm, failure: str
) -> None:
    client = with_llm.client
    tenant = await factory.tenant(f"Qualify Fallback {failure} Co")
    await set_service_area(client, tenant)
    made = await create_prospect(client, tenant, **SANDY_SPRINGS)
    if failure == "status":
        llm.fail_next(1, 500)
    elif failure == "nonsense":
        llm.set_content("Sure! This prospect looks great.")
    else:
        llm.set_content(json.dumps({"rationale": ["Great"], "fit_adjustment": 40}))
    verdict = await qualify(client, tenant, made["id"])
    assert verdict["provider"] == "embedded"
    assert "Manages 28 buildings and 1,400 units: large portfolio" in verdict["rationale"]
