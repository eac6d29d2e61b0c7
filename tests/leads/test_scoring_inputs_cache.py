"""Cached scoring inputs follow every change to settings and weather, however it is made.

A process keeps each organization's parsed settings and recent weather under
the organization's config revision, which the database raises on every change.
These tests change both behind the API's back (as another process, a feed or an
operator with SQL would) and expect the very next lead to be scored by them.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from eal.db.engine import Database
from eal.db.tx import Tx
from eal.kit.identity import Actor
from eal.leads import scoring_inputs
from eal.leads import scoring_weights as w
from tests.leads.support import config_revision, create_lead
from tests.leads.test_weather_and_scoring_signals import ROSWELL, lead_body, reasons

STORM_BOOST = round(100 * w.WEATHER_EVENT_WEIGHTS["storm"])


async def run_sql(db: Database, sql: str, **params: object) -> None:
    async with db.system_transaction() as conn:
        await conn.execute(text(sql), params)


async def insert_storm(
    db: Database, organization_id: uuid.UUID, occurred_at: datetime | None = None
) -> uuid.UUID:
    event_id = uuid.uuid4()
    await run_sql(
        db,
        "INSERT INTO weather_events (id, organization_id, event_type, postal_codes, occurred_at) "
        "VALUES (:id, :org, 'storm', ARRAY[:code], :at)",
        id=event_id,
        org=organization_id,
        code=ROSWELL,
        at=occurred_at or datetime.now(UTC) - timedelta(days=1),
    )
    return event_id


async def test_revision_rises_with_settings_and_weather_only(client, factory, db):
    t = await factory.tenant("Revision Co")
    start = await config_revision(db, t.id)
    await run_sql(db, "UPDATE organizations SET name = 'Renamed Co' WHERE id = :id", id=t.id)
    assert await config_revision(db, t.id) == start
    await run_sql(
        db,
        "UPDATE organizations SET settings = settings WHERE id = :id",
        id=t.id,
    )
    assert await config_revision(db, t.id) == start  # the same settings: nothing to re-read
    await run_sql(
        db,
        "UPDATE organizations SET settings = CAST(:s AS jsonb) WHERE id = :id",
        s=json.dumps({"service_area": {"postal_codes": [ROSWELL]}}),
        id=t.id,
    )
    assert await config_revision(db, t.id) == start + 1
    event_id = await insert_storm(db, t.id)
    assert await config_revision(db, t.id) == start + 2
    await run_sql(db, "DELETE FROM weather_events WHERE id = :id", id=event_id)
    assert await config_revision(db, t.id) == start + 3


async def test_weather_written_outside_the_api_counts_for_the_next_lead(client, factory, db):
    t = await factory.tenant("Feed Storm Co")
    before = await create_lead(client, t, **lead_body(ROSWELL))  # inputs now cached
    assert "storm event" not in reasons(before)
    event_id = await insert_storm(db, t.id)
    during = await create_lead(client, t, **lead_body(ROSWELL))
    assert during["lead_score"] == before["lead_score"] + STORM_BOOST
    await run_sql(db, "DELETE FROM weather_events WHERE id = :id", id=event_id)
    after = await create_lead(client, t, **lead_body(ROSWELL))
    assert after["lead_score"] == before["lead_score"]


async def test_settings_written_outside_the_api_count_for_the_next_lead(client, factory, db):
    t = await factory.tenant("Direct Settings Co")
    body = lead_body(ROSWELL, source="Facebook Ads")
    default = await create_lead(client, t, **body)
    await run_sql(
        db,
        "UPDATE organizations SET settings = CAST(:s AS jsonb) WHERE id = :id",
        s=json.dumps({"lead_scoring": {"source_weights": {"facebook_ads": 0.2}}}),
        id=t.id,
    )
    tuned = await create_lead(client, t, **body)
    assert tuned["lead_score"] == default["lead_score"] + 17
    assert "organization weight (+0.20)" in reasons(tuned)


async def test_a_cached_read_never_counts_weather_after_a_leads_arrival(client, factory, db):
    t = await factory.tenant("Window Co")
    soon = datetime.now(UTC) + timedelta(minutes=2)
    await insert_storm(db, t.id, occurred_at=soon)
    lead = await create_lead(client, t, **lead_body(ROSWELL))
    assert "storm event" not in reasons(lead)
    # The read behind that lead reached past its arrival and was kept; a lead
    # arriving after the storm is scored from it, storm included.
    revision = await config_revision(db, t.id)
    cached = scoring_inputs.inputs_cache.get(t.id, revision)
    assert cached is not None
    assert [e.occurred_at for e in cached.weather] == [soon]
    async with db.tenant_transaction(t.id) as conn:
        tx = Tx(conn, actor=Actor(organization_id=t.id), config_revision=revision)
        later = await scoring_inputs.scoring_context(tx, t.id, soon + timedelta(minutes=1))
    assert [e.type.value for e in later.weather_events] == ["storm"]


async def test_many_events_after_arrival_do_not_push_out_the_ones_before(client, factory, db):
    t = await factory.tenant("Busy Feed Co")
    await insert_storm(db, t.id)  # a day ago, in the lead's area
    soon = datetime.now(UTC) + timedelta(minutes=2)
    async with db.system_transaction() as conn:
        await conn.execute(
            text(
                "INSERT INTO weather_events (organization_id, event_type, postal_codes, occurred_at) "
                "SELECT :org, 'freeze', ARRAY['78756'], :at FROM generate_series(1, :n)"
            ),
            {"org": t.id, "at": soon, "n": scoring_inputs.MAX_WEATHER_EVENTS},
        )
    lead = await create_lead(client, t, **lead_body(ROSWELL))
    assert "recent storm event" in reasons(lead)
