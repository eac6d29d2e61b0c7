"""The embedded fit scorer: every reason comes from the prospect's own data and follows it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from eal.geo import ServiceArea
from eal.prospects import fit_weights
from eal.prospects.fit import (
    AreaEvent,
    FitContext,
    OutreachActivity,
    ProspectFacts,
    engagement_score,
    score_fit,
)

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
AREA = ServiceArea(center_postal_code="30075", radius_miles=25)
CONTEXT = FitContext(now=NOW, service_area=AREA)
BASE = ProspectFacts(
    company_name="Sandy Springs Property Group",
    contact_name="Daniel Park",
    contact_email="dpark@example.com",
    vertical="multifamily",
    postal_code="30328",
    buildings_managed=28,
)


def _line(facts: ProspectFacts, code: str, context: FitContext = CONTEXT) -> str:
    result = score_fit(facts, context)
    (factor,) = [f for f in result.factors if f.code == code]
    return factor.line


def test_a_strong_prospect_is_qualified_with_concrete_reasons() -> None:
    result = score_fit(BASE, CONTEXT)
    assert result.status == "qualified" and result.score >= fit_weights.QUALIFIED_AT
    assert "Manages 28 multifamily buildings: large portfolio" in result.rationale
    assert "Postal code 30328 is inside: 7 mi from the service-area center (radius 25 mi)" in (
        result.rationale
    )
    assert "No incumbent restoration vendor on record" in result.rationale
    # Deterministic: the same inputs, the same answer.
    assert score_fit(BASE, CONTEXT) == result


@pytest.mark.parametrize(
    ("change", "code", "before", "after"),
    [
        (
            {"vertical": "restaurant"},
            "vertical",
            "Vertical multifamily: strong",
            "Vertical restaurant: weak",
        ),
        ({"buildings_managed": 3}, "portfolio", "Manages 28 multifamily", "Manages 3 multifamily"),
        ({"buildings_managed": None, "units": 640}, "portfolio", "28", "Manages 640 units: large"),
        (
            {"postal_code": "30064"},
            "service_area",
            "30328 is inside: 7 mi",
            "30064 is inside: 15 mi",
        ),
        (
            {"postal_code": "31401"},
            "service_area",
            "inside",
            "31401 is 234 mi from the center, far",
        ),
        ({"postal_code": None}, "service_area", "inside", "No postal code"),
        (
            {"incumbent_vendor": "ServiceMaster"},
            "incumbent",
            "No incumbent",
            "Incumbent vendor on record: ServiceMaster",
        ),
        (
            {"incumbent_vendor": "none"},
            "incumbent",
            "on record",
            "States it has no restoration vendor",
        ),
    ],
)
def test_each_reason_changes_when_its_data_changes(
    change: dict[str, object], code: str, before: str, after: str
) -> None:
    old, new = _line(BASE, code), _line(replace(BASE, **change), code)  # type: ignore[arg-type]
    assert before in old and after in new and old != new


def test_missing_contact_data_is_named_and_costs_points() -> None:
    full = score_fit(BASE, CONTEXT)
    no_name = score_fit(replace(BASE, contact_name=None), CONTEXT)
    assert "Missing contact data: no contact name" in no_name.rationale
    assert no_name.score == full.score + fit_weights.NO_CONTACT_NAME
    phone_only = score_fit(replace(BASE, contact_email=None, contact_phone="+14045550142"), CONTEXT)
    assert "Missing contact data: no contact email (phone only)" in phone_only.rationale
    nobody = score_fit(replace(BASE, contact_email=None), CONTEXT)
    assert "No contact email or phone: cannot be reached" in nobody.rationale
    # However good the fit, nobody to reach means a person looks first.
    assert nobody.status != "qualified"
    assert not any(f.code == "contact" for f in full.factors)


def test_recent_weather_near_the_prospect_is_a_reason_with_its_date() -> None:
    flood = AreaEvent(
        event_type="flood",
        postal_codes=("30328",),
        occurred_at=NOW - timedelta(days=12),
        severity="severe",
        description="Nancy Creek over its banks",
    )
    context = replace(CONTEXT, events=(flood,))
    line = _line(BASE, "weather", context)
    assert line == (
        "Recent severe flood in postal code 30328 on 2026-11-19 (12 days ago): "
        "Nancy Creek over its banks"
    )
    assert score_fit(BASE, context).score >= score_fit(BASE, CONTEXT).score
    # A storm a few miles away counts, with its distance; one far away or too old does not.
    nearby = replace(
        flood, event_type="storm", postal_codes=("30342",), severity=None, description=None
    )
    assert "Recent storm 4 mi away on 2026-11-19 (12 days ago)" in _line(
        BASE, "weather", replace(CONTEXT, events=(nearby,))
    )
    far = replace(flood, postal_codes=("31401",))
    old = replace(flood, occurred_at=NOW - timedelta(days=fit_weights.WEATHER_DAYS + 1))
    for events in ((far,), (old,)):
        assert _line(BASE, "weather", replace(CONTEXT, events=events)).startswith("No weather")


def test_without_a_service_area_the_distance_is_not_scored() -> None:
    line = _line(BASE, "service_area", FitContext(now=NOW))
    assert line == "No service area configured: distance not scored"
    listed = FitContext(now=NOW, service_area=ServiceArea(postal_codes=["30328"]))
    assert _line(BASE, "service_area", listed) == (
        "Postal code 30328 is inside: a listed service-area postal code"
    )


def test_a_poor_fit_is_disqualified() -> None:
    poor = ProspectFacts(company_name="Corner Diner", vertical="restaurant", postal_code="31401")
    result = score_fit(poor, CONTEXT)
    assert result.status == "disqualified" and result.score < fit_weights.DISQUALIFIED_BELOW
    # Strongest reasons first: being 234 miles away outweighs the rest.
    assert result.rationale[0].startswith("Postal code 31401 is 234 mi")


def test_engagement_is_separate_and_null_before_outreach() -> None:
    assert engagement_score(OutreachActivity(), NOW) is None
    assert engagement_score(OutreachActivity(sent=2), NOW) == 0
    opened = OutreachActivity(sent=2, opened=1, last_activity_at=NOW - timedelta(days=2))
    replied = replace(opened, replies=1)
    assert engagement_score(opened, NOW) == 8 + 16
    assert engagement_score(replied, NOW) == 8 + 50 + 16
    stale = replace(replied, last_activity_at=NOW - timedelta(days=60))
    assert engagement_score(stale, NOW) == 8 + 50
    assert engagement_score(replace(replied, opted_out=True), NOW) == 0
