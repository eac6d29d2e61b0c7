"""The dispatch rules, one branch at a time, in their order (first match wins)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from eal.calls.dispatch import decide, locate
from eal.calls.schemas import DispatchAction
from eal.calls.settings import CallsConfig
from eal.geo import ServiceArea

# Wednesday 2026-06-03, 14:00 UTC = 10:00 in New York (business hours by default).
OPEN = datetime(2026, 6, 3, 14, 0, tzinfo=UTC)
# The same Wednesday at 02:00 UTC = 22:00 in New York on Tuesday (after hours).
CLOSED = datetime(2026, 6, 3, 2, 0, tzinfo=UTC)
AREA = {"center_postal_code": "30075", "radius_miles": 30}


def call(**fields: Any) -> SimpleNamespace:
    values: dict[str, Any] = {
        "intent": "water",
        "urgency": "high",
        "qualified": True,
        "confidence": 0.95,
        "corrected": False,
        "transcript": "water everywhere",
        "received_at": OPEN,
        "first_classified_at": OPEN + timedelta(seconds=2),
        "dispatch_allowed": True,
        "caller_postal_code": "30064",
        "caller_city": None,
        "caller_state": None,
    }
    values.update(fields)
    return SimpleNamespace(**values)


def settings(**dispatch: Any) -> dict[str, Any]:
    return {"service_area": AREA, "dispatch": {"auto_dispatch": True, **dispatch}}


@pytest.mark.parametrize("intent", ["sales_pitch", "wrong_number"])
def test_junk_is_ignored_whatever_else_holds(intent: str) -> None:
    decision = decide(call(intent=intent, confidence=0.1, transcript=None), settings(), now=OPEN)
    assert (decision.action, decision.reason) == (DispatchAction.IGNORE, f"junk:{intent}")


def test_no_transcript_goes_to_the_owner() -> None:
    decision = decide(call(transcript=None), settings(), now=OPEN)
    assert (decision.action, decision.reason) == (DispatchAction.OWNER_REVIEW, "low_confidence")


def test_low_confidence_goes_to_the_owner_and_the_threshold_is_a_setting() -> None:
    low = call(confidence=0.55)
    assert decide(low, settings(), now=OPEN).reason == "low_confidence"
    assert (
        decide(low, settings(min_confidence=0.5), now=OPEN).action is DispatchAction.AUTO_DISPATCH
    )


def test_a_human_correction_is_never_low_confidence() -> None:
    corrected = call(confidence=0.3, corrected=True)
    assert decide(corrected, settings(), now=OPEN).action is DispatchAction.AUTO_DISPATCH


@pytest.mark.parametrize("fields", [{"qualified": False}, {"intent": "other", "qualified": True}])
def test_not_qualified_or_other_goes_to_the_owner(fields: dict[str, Any]) -> None:
    decision = decide(call(**fields), settings(), now=OPEN)
    assert (decision.action, decision.reason) == (DispatchAction.OWNER_REVIEW, "not_qualified")


def test_a_call_first_classified_more_than_two_hours_late_is_queued_for_a_callback() -> None:
    late = call(first_classified_at=OPEN + timedelta(hours=2, seconds=1))
    assert decide(late, settings(), now=OPEN).reason == "stale"
    on_time = call(first_classified_at=OPEN + timedelta(hours=2))
    assert decide(on_time, settings(), now=OPEN).action is DispatchAction.AUTO_DISPATCH
    imported = call(dispatch_allowed=False)
    assert decide(imported, settings(), now=OPEN).action is DispatchAction.CALLBACK_QUEUE


def test_an_unknown_location_goes_to_the_owner() -> None:
    nowhere = call(caller_postal_code=None, transcript="water coming in, please hurry")
    decision = decide(nowhere, settings(), now=OPEN)
    assert (decision.action, decision.reason) == (DispatchAction.OWNER_REVIEW, "location_unknown")


def test_the_area_code_is_not_a_location() -> None:
    row = call(
        caller_postal_code=None, transcript="my basement flooded", caller_number="+14045550173"
    )
    assert locate(row, ServiceArea.from_settings(AREA)) is None


def test_outside_the_service_area_goes_to_the_owner() -> None:
    far = call(caller_postal_code="78756")  # Austin, TX
    decision = decide(far, settings(), now=OPEN)
    assert (decision.action, decision.reason) == (
        DispatchAction.OWNER_REVIEW,
        "out_of_service_area",
    )


def test_business_hours_dispatch_when_it_is_on() -> None:
    decision = decide(call(), settings(), now=OPEN)
    assert decision.action is DispatchAction.AUTO_DISPATCH
    assert decision.reason == "in_service_radius + qualified + business_hours"
    listed = {"service_area": {"postal_codes": ["30064"]}, "dispatch": {"auto_dispatch": True}}
    assert decide(call(), listed, now=OPEN).reason == "in_service_area + qualified + business_hours"


def test_business_hours_go_to_the_owner_when_auto_dispatch_is_off() -> None:
    decision = decide(call(), settings(auto_dispatch=False), now=OPEN)
    assert (decision.action, decision.reason) == (DispatchAction.OWNER_REVIEW, "auto_dispatch_off")
    assert decide(call(), {"service_area": AREA}, now=OPEN).reason == "auto_dispatch_off"


def test_after_hours_urgent_calls_dispatch_only_when_after_hours_dispatch_is_on() -> None:
    night = call(received_at=CLOSED, first_classified_at=CLOSED + timedelta(seconds=1))
    assert decide(night, settings(), now=CLOSED).reason == "after_hours"
    on = settings(after_hours_dispatch=True, on_call_phone="+14045550111")
    decision = decide(night, on, now=CLOSED)
    assert decision.action is DispatchAction.AUTO_DISPATCH
    assert decision.reason == "in_service_radius + qualified + after_hours + urgency_high"
    assert decision.notify_on_call
    medium = call(urgency="medium", received_at=CLOSED, first_classified_at=CLOSED)
    assert decide(medium, on, now=CLOSED).action is DispatchAction.CALLBACK_QUEUE


def test_business_hours_are_judged_in_the_organizations_time_zone_at_received_at() -> None:
    config = CallsConfig.from_settings({"timezone": "America/Los_Angeles"})
    assert not config.in_business_hours(OPEN)  # 07:00 in Los Angeles
    assert config.in_business_hours(OPEN + timedelta(hours=1))
    saturday = datetime(2026, 6, 6, 16, 0, tzinfo=UTC)
    assert not config.in_business_hours(saturday)
    custom = CallsConfig.from_settings({"business_hours": {"sat": [["09:00", "13:00"]]}})
    assert custom.in_business_hours(saturday)  # 12:00 in New York


def test_an_overnight_interval_covers_the_next_morning() -> None:
    config = CallsConfig.from_settings(
        {"business_hours": {"tue": [["20:00", "02:00"]], "wed": []}, "timezone": "UTC"}
    )
    assert config.in_business_hours(datetime(2026, 6, 2, 23, 0, tzinfo=UTC))  # Tuesday night
    assert config.in_business_hours(datetime(2026, 6, 3, 1, 30, tzinfo=UTC))  # Wednesday 01:30
    assert not config.in_business_hours(datetime(2026, 6, 3, 2, 0, tzinfo=UTC))


def test_the_location_comes_from_the_transcript_when_the_caller_gave_none() -> None:
    area = ServiceArea.from_settings(AREA)
    spoken = call(caller_postal_code=None, transcript="we're at 1420 Elm Street, zip 30062")
    assert locate(spoken, area) == ("30062", "transcript_postal_code")
    address = call(caller_postal_code=None, transcript="1420 Elm St, Marietta GA 30064")
    assert locate(address, area) == ("30064", "transcript_postal_code")
    # A claim number is not a postal code.
    claim = call(caller_postal_code=None, transcript="my claim number is 30064 8812")
    assert locate(claim, area) is None


def test_webhook_events_carry_the_call_in_its_list_shape_with_the_classification() -> None:
    import uuid

    from eal.calls.repository import event_data

    row = SimpleNamespace(
        id=uuid.uuid4(),
        status="classified",
        tracking_number="+17705550199",
        caller_number="+14045550173",
        duration_seconds=142,
        intent="water",
        qualified=True,
        urgency="high",
        confidence=0.93,
        corrected=False,
        correction_note=None,
        model_classification={"reason": "active leak", "provider": "embedded"},
        decision={"action": "auto_dispatch"},
        received_at=OPEN,
    )
    data = event_data(row)
    assert data["id"] == f"call_{row.id.hex}"
    assert (data["classification"], data["urgency"], data["qualified"]) == ("water", "high", True)
    assert (data["confidence"], data["reason"], data["provider"]) == (
        0.93,
        "active leak",
        "embedded",
    )
    assert data["dispatch_decision"] == "auto_dispatch"
    assert data["received_at"] == "2026-06-03T14:00:00.000Z"
