"""What happens to a classified call: one decision by fixed rules, then auto_dispatch's effects.

The rules, in order, first match wins (the README shows this table):

1. intent sales_pitch or wrong_number -> ignore (`junk:<intent>`)
2. no transcript, or confidence below `min_confidence` -> owner_review (`low_confidence`)
3. not qualified, or intent other -> owner_review (`not_qualified`)
4. first classified more than 2 hours after the call was received -> callback_queue (`stale`)
5. location unknown -> owner_review (`location_unknown`); outside the service area ->
   owner_review (`out_of_service_area`)
6. within business hours: auto_dispatch when `auto_dispatch` is on, else owner_review
   (`auto_dispatch_off`)
7. after hours: auto_dispatch when `after_hours_dispatch` is on and urgency is high (the
   on-call phone is texted too), else callback_queue (`after_hours`)

Business hours are judged at the call's `received_at`. The location is the caller's postal
code, else a postal code or a place named in the transcript, else the tracker's city and
state; the caller's area code is not a location (people keep their numbers when they move).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from eal.ai.call_labels import JUNK_INTENTS
from eal.calls.schemas import DispatchAction
from eal.calls.settings import CallsConfig
from eal.geo import AreaPlacement, ServiceArea, resolve_postal_code
from eal.places import find_places, resolve_place

#: A call first classified later than this after it came in is not dispatched automatically.
STALE_AFTER = timedelta(hours=2)
# A postal code spoken in a transcript: five digits after a word that announces one, or
# after a state code as in an address ("Marietta GA 30064", "marietta, ga 30064"). A bare
# five-digit number is not taken: claim and policy numbers look the same.
_STATES = (
    "AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV"
    "|NH|NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY"
)
_SPOKEN_ZIP = re.compile(
    r"(?:(?i:\bzip(?:\s*code)?|\bpostal\s+code|\bc[oó]digo\s+postal)[\s:#,.-]{0,4}(?i:(?:is|es|was)\s+)?"
    rf"|\b(?:{_STATES})\.?\s+|,\s*(?i:{_STATES})\.?\s+)"
    r"(\d{5})(?:-\d{4})?\b"
)


@dataclass(frozen=True)
class Decision:
    """The action and the rule's reason (`in_service_radius + qualified + business_hours`)."""

    action: DispatchAction
    reason: str
    #: After hours: the on-call phone is texted too.
    notify_on_call: bool = False
    #: Where the caller is, as far as it could be told, and how it was found.
    location: str | None = None


def locate(row: Any, area: ServiceArea | None) -> tuple[str, str] | None:
    """(postal code, how it was found) for the call, or None when nothing says where it is."""
    if row.caller_postal_code and resolve_postal_code(row.caller_postal_code) is not None:
        return row.caller_postal_code, "caller_postal_code"
    transcript = row.transcript or ""
    for match in _SPOKEN_ZIP.finditer(transcript):
        code = match.group(1)
        if resolve_postal_code(code) is not None:
            return code, "transcript_postal_code"
    near = None
    if area is not None and area.center_postal_code is not None:
        near = resolve_postal_code(area.center_postal_code)
    if transcript:
        found = find_places(transcript, near=near, state=row.caller_state)
        if found:
            return found[0].postal_code, f"transcript_place:{found[0].name}, {found[0].state}"
    if row.caller_city:
        place = resolve_place(row.caller_city, row.caller_state, near=near)
        if place is not None:
            return place.postal_code, f"tracker_city:{place.name}, {place.state}"
    return None


def decide(row: Any, settings: dict[str, Any], *, now: datetime) -> Decision:
    """The decision for a classified call (its classification in force: a human's, if any)."""
    config = CallsConfig.from_settings(settings)
    intent = row.intent
    if intent in JUNK_INTENTS:
        return Decision(DispatchAction.IGNORE, f"junk:{intent}")
    confidence = row.confidence if row.confidence is not None else 0.0
    if row.transcript is None or (not row.corrected and confidence < config.min_confidence):
        return Decision(DispatchAction.OWNER_REVIEW, "low_confidence")
    if not row.qualified or intent == "other":
        return Decision(DispatchAction.OWNER_REVIEW, "not_qualified")
    first = row.first_classified_at or now
    if first - row.received_at > STALE_AFTER or not row.dispatch_allowed:
        return Decision(DispatchAction.CALLBACK_QUEUE, "stale")
    try:
        area = ServiceArea.from_settings(settings.get("service_area"))
    except ValueError:
        area = None
    where = locate(row, area)
    placement = area.place(where[0]) if area is not None and where is not None else None
    if where is None or placement is None or placement.inside is None:
        return Decision(
            DispatchAction.OWNER_REVIEW,
            "location_unknown" if area is not None else "location_unknown:no_service_area",
            location=where[1] if where else None,
        )
    if not placement.inside:
        return Decision(DispatchAction.OWNER_REVIEW, "out_of_service_area", location=where[1])
    inside = _inside(placement)
    if config.in_business_hours(row.received_at):
        if config.auto_dispatch:
            return Decision(
                DispatchAction.AUTO_DISPATCH,
                f"{inside} + qualified + business_hours",
                location=where[1],
            )
        return Decision(DispatchAction.OWNER_REVIEW, "auto_dispatch_off", location=where[1])
    if config.after_hours_dispatch and row.urgency == "high":
        return Decision(
            DispatchAction.AUTO_DISPATCH,
            f"{inside} + qualified + after_hours + urgency_high",
            notify_on_call=config.on_call_phone is not None,
            location=where[1],
        )
    return Decision(DispatchAction.CALLBACK_QUEUE, "after_hours", location=where[1])


def _inside(placement: AreaPlacement) -> str:
    return "in_service_radius" if placement.miles_from_center is not None else "in_service_area"


def decision_record(
    decision: Decision, row: Any, *, now: datetime, simulated: bool
) -> dict[str, Any]:
    """The decision as the call stores it (`dispatch_decision` plus what dispatch needs)."""
    return {
        "action": decision.action.value,
        "reason": decision.reason,
        "sms_callback_sent": False,
        "job_created_in_jobnimbus": None,
        "decided_at": now.isoformat(),
        "simulated": simulated and decision.action is DispatchAction.AUTO_DISPATCH,
        "lead_id": None,
        "error": None,
        "location": decision.location,
        "notify_on_call": decision.notify_on_call,
        # Whether the call had a transcript: a decision made without one is made again
        # when one arrives.
        "transcript": row.transcript is not None,
    }
