"""The service renders leads as JSON itself; the result is what LeadOut would produce."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace

import orjson
import pytest

from eal.api.responses import model_response
from eal.leads import repository
from eal.leads.models import leads
from eal.leads.schemas import LeadOut


def row(**values: object) -> SimpleNamespace:
    """A leads row with every column, None unless given."""
    full: dict[str, object] = dict.fromkeys(column.name for column in leads.c)
    full.update(values)
    return SimpleNamespace(**full)


NOW = datetime(2026, 11, 28, 20, 15, 30, 123456, tzinfo=UTC)
MINIMAL = row(
    id=uuid.uuid4(),
    organization_id=uuid.uuid4(),
    email="a@example.com",
    lead_score=0,
    pipeline_stage="new",
    created_at=NOW,
    updated_at=NOW,
)
FULL = row(
    id=uuid.uuid4(),
    organization_id=uuid.uuid4(),
    name="Dana Reyes",
    company="Reyes Property Group",
    email="dana@example.com",
    phone="+14045550123",
    source="google_ads",
    lead_score=87,
    pipeline_stage="qualified",
    industry="commercial",
    company_size="11-50",
    pain_points="Water damage",
    timeline="immediate",
    budget_range="$5k-$10k",
    ai_reasoning="Customer describes water damage (+0.16)",
    qualification_completed_at=NOW,
    scored_at=NOW + timedelta(minutes=3),
    postal_code="30075",
    address="1 Main St",
    message="Ceiling is leaking",
    # Another offset: rendered in UTC like every timestamp.
    form_started_at=datetime(2026, 11, 28, 15, 0, tzinfo=timezone(timedelta(hours=-5))),
    form_submitted_at=NOW - timedelta(seconds=40),
    crm_vendor="jobnimbus",
    crm_external_id="jn_123",
    crm_status="ok",
    crm_last_synced_at=NOW,
    created_at=NOW,
    updated_at=NOW + timedelta(hours=1),
)


@pytest.mark.parametrize("lead", [MINIMAL, FULL], ids=["minimal", "full"])
def test_lead_json_is_what_leadout_renders(lead: SimpleNamespace) -> None:
    # The mapping builds the model without validating it: validating its dump
    # must give the same model, and the one JSON rendering must be LeadOut's.
    out = repository.lead_of(lead)
    expected = LeadOut.model_validate(out.model_dump()).model_dump(mode="json")
    rendered = orjson.loads(model_response(out).body)
    assert rendered == out.model_dump(mode="json") == expected
    assert list(rendered) == list(expected)  # same field order too
    if lead is FULL:
        assert rendered["form_started_at"] == "2026-11-28T20:00:00.000Z"
        assert list(rendered["crm_sync"]) == list(expected["crm_sync"])
