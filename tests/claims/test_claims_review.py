"""Review: decisions all or nothing, audited one by one, status, reopen, lines by hand, re-runs."""

from __future__ import annotations

from typing import Any

import httpx

from eal.db.engine import Database
from eal.runtime import Runtime
from tests.claims.support import BASEMENT, CLAIMS, create_claim, extracted, get_claim
from tests.factories import Factory, Tenant
from tests.support import assert_error, audit_entries, error_fields


def _items(claim: dict[str, Any]) -> list[dict[str, Any]]:
    return [item for room in claim["rooms"] for item in room["scope_items"]]


async def _ready(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> tuple[str, dict[str, Any]]:
    created = await create_claim(client, tenant, water_category=1, water_class=2, rooms=[BASEMENT])
    claim = await extracted(client, runtime, tenant, created["id"])
    assert claim["status"] == "ready_for_review"
    assert len(_items(claim)) >= 4
    return created["id"], claim


async def _review(
    client: httpx.AsyncClient,
    tenant: Tenant,
    claim_id: str,
    decisions: list[dict[str, Any]],
    **more: Any,
) -> httpx.Response:
    return await client.post(
        f"{CLAIMS}/{claim_id}/review", json={"decisions": decisions, **more}, headers=tenant.headers
    )


async def test_the_spec_review_flow_with_audit_per_decision(
    client: httpx.AsyncClient, factory: Factory, runtime: Runtime, db: Database
) -> None:
    tenant = await factory.tenant("Claims Review Co")
    claim_id, claim = await _ready(client, runtime, tenant)
    items = _items(claim)
    a, b, c = items[0], items[1], items[2]
    r = await _review(
        client,
        tenant,
        claim_id,
        [
            {"scope_item_id": a["id"], "decision": "approve"},
            {
                "scope_item_id": b["id"],
                "decision": "edit",
                "qty": 410,
                "note": "Re-measured on site",
            },
            {"scope_item_id": c["id"], "decision": "reject", "reason": "Pre-existing damage"},
        ],
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body == {
        "id": claim_id,
        "status": "partially_reviewed",
        "decisions_recorded": 3,
        "reviewed_at": None,
    }
    after = {item["id"]: item for item in _items(await get_claim(client, tenant, claim_id))}
    assert after[a["id"]]["review"]["decision"] == "approve"
    edited = after[b["id"]]
    assert edited["qty"] == 410 and edited["review"]["original_qty"] == b["qty"]
    assert edited["review"]["note"] == "Re-measured on site"
    assert after[c["id"]]["review"]["reason"] == "Pre-existing damage"
    entries = await audit_entries(db, tenant.id, "claim.item_reviewed")
    assert [e["payload"]["scope_item_id"] for e in entries] == [a["id"], b["id"], c["id"]]
    assert all(e["payload"]["key_id"] == str(tenant.key_id) for e in entries)
    assert entries[1]["payload"]["qty"] == b["qty"] and entries[1]["payload"]["edited_qty"] == 410

    rest = [{"scope_item_id": i["id"], "decision": "approve"} for i in items[3:]]
    done = await _review(client, tenant, claim_id, rest)
    assert done.json()["status"] == "reviewed" and done.json()["reviewed_at"]
    assert len(await audit_entries(db, tenant.id, "claim.reviewed")) == 1

    # A reviewed claim takes no decision unless it is reopened.
    again = await _review(
        client,
        tenant,
        claim_id,
        [{"scope_item_id": a["id"], "decision": "reject", "reason": "Duplicate"}],
    )
    assert_error(again, 409, "conflict")
    reopened = await _review(
        client,
        tenant,
        claim_id,
        [{"scope_item_id": a["id"], "decision": "reject", "reason": "Duplicate"}],
        reopen=True,
    )
    assert reopened.status_code == 200 and reopened.json()["status"] == "reviewed"
    assert len(await audit_entries(db, tenant.id, "claim.reopened")) == 1


async def test_a_batch_with_one_bad_line_records_nothing(
    client: httpx.AsyncClient, factory: Factory, runtime: Runtime, db: Database
) -> None:
    tenant = await factory.tenant("Claims Batch Co")
    claim_id, claim = await _ready(client, runtime, tenant)
    first = _items(claim)[0]
    unknown = "scope_" + "f" * 32
    r = await _review(
        client,
        tenant,
        claim_id,
        [
            {"scope_item_id": first["id"], "decision": "approve"},
            {"scope_item_id": unknown, "decision": "approve"},
        ],
    )
    error = assert_error(r, 422, "validation_failed")
    assert error["details"]["fields"][0]["field"] == "decisions.1.scope_item_id"
    assert unknown in error["message"]
    unchanged = await get_claim(client, tenant, claim_id)
    assert unchanged["status"] == "ready_for_review"
    assert all(item["review"] is None for item in _items(unchanged))
    assert await audit_entries(db, tenant.id, "claim.item_reviewed") == []
    # An edit needs qty; a rejection needs a reason.
    no_qty = await _review(
        client, tenant, claim_id, [{"scope_item_id": first["id"], "decision": "edit"}]
    )
    assert error_fields(no_qty) == ["decisions.0"]
    no_reason = await _review(
        client, tenant, claim_id, [{"scope_item_id": first["id"], "decision": "reject"}]
    )
    assert error_fields(no_reason) == ["decisions.0"]


async def test_review_waits_for_extraction(client: httpx.AsyncClient, factory: Factory) -> None:
    tenant = await factory.tenant("Claims Early Review Co")
    created = await create_claim(client, tenant)
    r = await _review(
        client,
        tenant,
        created["id"],
        [{"scope_item_id": "scope_" + "0" * 32, "decision": "approve"}],
    )
    assert_error(r, 409, "conflict")


async def test_lines_by_hand_and_decisions_survive_a_rerun(
    client: httpx.AsyncClient, factory: Factory, runtime: Runtime, db: Database
) -> None:
    tenant = await factory.tenant("Claims Rerun Co")
    claim_id, claim = await _ready(client, runtime, tenant)
    items = _items(claim)
    decided = [{"scope_item_id": i["id"], "decision": "approve"} for i in items]
    assert (await _review(client, tenant, claim_id, decided)).json()["status"] == "reviewed"

    added = await client.post(
        f"{CLAIMS}/{claim_id}/items",
        json={
            "room": "basement",
            "code": "CLN FLOOR",
            "description": "Clean floor",
            "qty": 12,
            "unit": "HR",
            "note": "Silt",
        },
        headers=tenant.headers,
    )
    assert added.status_code == 201, added.text
    manual = added.json()
    assert manual["origin"] == "manual" and manual["review"] is None and manual["unit"] == "HR"
    after_add = await get_claim(client, tenant, claim_id)
    # A new line needs a decision: the claim is not reviewed any more.
    assert after_add["status"] == "partially_reviewed" and after_add["reviewed_at"] is None
    bad_room = await client.post(
        f"{CLAIMS}/{claim_id}/items",
        json={"room": "Attic", "code": "X", "description": "X", "qty": 1, "unit": "EA"},
        headers=tenant.headers,
    )
    assert error_fields(bad_room) == ["room"]
    assert len(await audit_entries(db, tenant.id, "claim.item_added")) == 1

    # Wetter walls: the wall lines change, the floor lines do not.
    wetter = {**BASEMENT, "affected": {**BASEMENT["affected"], "wet_wall_height_in": 40}}
    r = await client.put(
        f"{CLAIMS}/{claim_id}/rooms", json={"rooms": [wetter]}, headers=tenant.headers
    )
    assert r.json()["status"] == "extracting"
    from tests.claims.support import run_extraction

    await run_extraction(runtime, tenant, claim_id)
    rerun = await get_claim(client, tenant, claim_id)
    before = {i["id"]: i for i in items}
    kept = changed = 0
    for item in _items(rerun):
        if item["origin"] == "manual":
            assert item["id"] == manual["id"] and item["review"] is None
            continue
        old = before.get(item["id"])
        if old is not None and old["qty"] == item["qty"]:
            assert item["review"]["decision"] == "approve"
            kept += 1
        else:
            assert item["review"] is None
            changed += 1
    assert kept and changed
    assert rerun["status"] == "partially_reviewed"
