"""Call stats over windows, corrections by a person, re-classification, and the export."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from eal.config import Settings
from eal.db.engine import Database
from tests.calls.support import (
    PITCH,
    calls_tenant,
    calls_worker,
    jobs_of,
    post_call,
    wait_for_call,
)
from tests.factories import Factory
from tests.outreach.support import Clocked, clocked_app, wait_until
from tests.support import assert_error, audit_entries

NOW = datetime(2026, 6, 3, 14, 0, tzinfo=UTC)
WRONG = "Hi, is this Luigi's Pizza? I wanted to order a large pepperoni for pickup. Oh, sorry, wrong number."


@pytest.fixture
async def clocked(settings: Settings) -> AsyncIterator[Clocked]:
    async with clocked_app(settings, NOW) as app:
        yield app


async def test_stats_count_the_calls_received_in_each_window(
    clocked: Clocked, factory: Factory
) -> None:
    client = clocked.client
    tenant = await calls_tenant(client, factory, "Stats Co", dispatch={"auto_dispatch": False})
    ages = {
        "water": [timedelta(hours=1), timedelta(days=3)],
        "pitch": [timedelta(hours=2), timedelta(days=20)],
        "wrong": [timedelta(days=60)],
        "old": [timedelta(days=100)],
    }
    texts = {"water": None, "pitch": PITCH, "wrong": WRONG, "old": None}
    ids = []
    async with calls_worker(clocked.runtime):
        for kind, list_ in ages.items():
            for age in list_:
                fields = {"transcript": texts[kind]} if texts[kind] else {}
                call = await post_call(client, tenant, NOW - age, **fields)
                ids.append(call["id"])
        for call_id in ids:
            await wait_for_call(client, tenant, call_id, "classified")

    async def stats(window: str | None) -> dict[str, object]:
        params = {"window": window} if window else {}
        r = await client.get("/api/v1/calls/stats", params=params, headers=tenant.headers)
        assert r.status_code == 200, r.text
        body: dict[str, object] = r.json()
        return body

    day = await stats("24h")
    assert (day["window"], day["total_calls"], day["qualified"], day["junk_filtered"]) == (
        "24h",
        2,
        1,
        1,
    )
    by_intent = day["by_intent"]
    assert isinstance(by_intent, dict)
    assert set(by_intent) == {
        "water",
        "fire",
        "mold",
        "biohazard",
        "sales_pitch",
        "wrong_number",
        "other",
    }
    assert by_intent["water"] == 1 and by_intent["sales_pitch"] == 1
    week = await stats(None)
    assert week["window"] == "7d" and week["total_calls"] == 3
    assert (await stats("30d"))["total_calls"] == 4
    quarter = await stats("90d")
    assert quarter["total_calls"] == 5 and quarter["junk_filtered"] == 3
    median = quarter["median_classification_seconds"]
    assert isinstance(median, float | int) and median >= 0
    bad = await client.get("/api/v1/calls/stats", params={"window": "1y"}, headers=tenant.headers)
    assert_error(bad, 422, "validation_failed")


async def test_a_correction_is_audited_shown_and_counted_and_survives_reclassification(
    clocked: Clocked, factory: Factory, db: Database
) -> None:
    client = clocked.client
    tenant = await calls_tenant(client, factory, "Correction Co", dispatch={"auto_dispatch": False})
    async with calls_worker(clocked.runtime):
        call = await post_call(client, tenant, NOW - timedelta(minutes=5), transcript=PITCH)
        call = await wait_for_call(client, tenant, call["id"], "classified")
        assert call["classification"]["intent"] == "sales_pitch"
        r = await client.patch(
            f"/api/v1/calls/{call['id']}",
            json={
                "classification": {"intent": "water", "qualified": True, "urgency": "high"},
                "note": "The caller really had a leak.",
            },
            headers=tenant.headers,
        )
        assert r.status_code == 200, r.text
        corrected = r.json()
        assert corrected["classification"]["corrected"] is True
        assert corrected["classification"]["intent"] == "water"
        assert corrected["classification"]["provider"] == "human"
        assert corrected["model_classification"]["intent"] == "sales_pitch"
        [entry] = await audit_entries(db, tenant.id, "call.corrected")
        assert entry["payload"]["diff"]["intent"] == {"from": "sales_pitch", "to": "water"}
        stats = await client.get(
            "/api/v1/calls/stats", params={"window": "24h"}, headers=tenant.headers
        )
        assert stats.json()["by_intent"]["water"] == 1
        assert stats.json()["junk_filtered"] == 0
        listed = await client.get(
            "/api/v1/calls", params={"classification": "water"}, headers=tenant.headers
        )
        assert [c["id"] for c in listed.json()["data"]] == [call["id"]]
        clocked.clock.advance(timedelta(seconds=30))

        async def idle() -> bool:
            return await jobs_of(db, "calls.classify", call["id"]) == []

        # The first classification's job is gone from the queue (it may still be finishing).
        await wait_until(idle, what="the first classification's job to finish")
        again = await client.post(f"/api/v1/calls/{call['id']}/classify", headers=tenant.headers)
        assert again.status_code == 202, again.text
        assert again.json()["queued"] is True, again.json()

        async def reclassified() -> dict[str, object] | None:
            current = await wait_for_call(client, tenant, call["id"], "classified")
            model = current["model_classification"]
            first = call["model_classification"]
            return current if model["classified_at"] != first["classified_at"] else None

        current = await wait_until(reclassified, what="the classification to run again")
    assert current["classification"]["intent"] == "water"  # the person's answer stands
    assert current["model_classification"]["intent"] == "sales_pitch"

    export = await client.get("/api/v1/calls/corrections.jsonl", headers=tenant.headers)
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("application/x-ndjson")
    [line] = [json.loads(x) for x in export.text.splitlines()]
    assert (line["text"], line["intent"], line["qualified"]) == (PITCH, "water", True)
    assert line["model"]["intent"] == "sales_pitch"
    bad = await client.patch(
        f"/api/v1/calls/{call['id']}",
        json={"classification": {"intent": "flood"}},
        headers=tenant.headers,
    )
    assert_error(bad, 422, "validation_failed")


async def test_the_corrections_export_needs_an_admin_key(
    clocked: Clocked, factory: Factory
) -> None:
    tenant = await factory.tenant("Export Scope Co", scopes="read,write")
    r = await clocked.client.get("/api/v1/calls/corrections.jsonl", headers=tenant.headers)
    assert_error(r, 403, "forbidden")
