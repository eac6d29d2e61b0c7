"""The embedded fit scorer: who a prospect is for a restoration franchise, with its reasons.

Pure and deterministic: the same prospect, service area, weather and time give
the same score and the same rationale. Every factor contributes one line made
from the prospect's own data (its vertical, portfolio, postal code, incumbent
vendor, recent weather near it, missing contact data), so changing the data
changes the line. Weights and thresholds are in :mod:`eal.prospects.fit_weights`.
Engagement is scored apart (`engagement_score`), never folded into fit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from eal import geo
from eal.geo import ServiceArea
from eal.prospects import fit_weights as w


@dataclass(frozen=True)
class ProspectFacts:
    """What the scorer reads of a prospect (a prospects row has these attributes)."""

    company_name: str
    contact_name: str | None = None
    contact_email: str | None = None
    contact_phone: str | None = None
    vertical: str | None = None
    postal_code: str | None = None
    buildings_managed: int | None = None
    units: int | None = None
    incumbent_vendor: str | None = None


@dataclass(frozen=True)
class AreaEvent:
    """A weather or loss event the organization recorded, and the postal codes it hit."""

    event_type: str
    postal_codes: tuple[str, ...]
    occurred_at: datetime
    severity: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class FitContext:
    """The organization's side: its service area, recent events, and the time."""

    now: datetime
    service_area: ServiceArea | None = None
    events: tuple[AreaEvent, ...] = ()


@dataclass(frozen=True)
class Factor:
    """One factor's signed points and the rationale line that explains them."""

    code: str
    points: int
    line: str


@dataclass(frozen=True)
class FitResult:
    """The fit score (0-100), the verdict, and the factors in rationale order."""

    score: int
    status: str
    factors: tuple[Factor, ...] = field(default_factory=tuple)

    @property
    def rationale(self) -> list[str]:
        """The rationale lines, strongest factors (by absolute points) first."""
        ordered = sorted(self.factors, key=lambda f: -abs(f.points))
        return [f.line for f in ordered]


def _count(value: int, one: str, many: str) -> str:
    return f"{value:,} {one if value == 1 else many}"


def _label(vertical: str) -> str:
    return vertical.replace("_", " ")


def vertical_factor(vertical: str | None) -> Factor:
    """How much restoration work the prospect's kind of organization buys."""
    if vertical is None:
        return Factor("vertical", w.VERTICAL_UNKNOWN, "Vertical not given: fit by type unknown")
    points, why = w.VERTICAL_POINTS[vertical]
    strength = "strong" if points >= 24 else "moderate" if points >= 14 else "weak"
    return Factor("vertical", points, f"Vertical {_label(vertical)}: {strength} fit ({why})")


def _bracket(value: int | None, brackets: Sequence[tuple[int, int]]) -> int:
    if value is None:
        return 0
    return next((points for floor, points in brackets if value >= floor), 0)


def portfolio_factor(buildings: int | None, units: int | None, vertical: str | None) -> Factor:
    """Portfolio size from buildings_managed and units (the larger bracket counts)."""
    if buildings is None and units is None:
        return Factor(
            "portfolio", w.PORTFOLIO_UNKNOWN, "Portfolio size unknown (no buildings or units given)"
        )
    if not buildings and not units:
        return Factor("portfolio", w.PORTFOLIO_EMPTY, "Manages no buildings or units on record")
    points = max(_bracket(buildings, w.BUILDING_BRACKETS), _bracket(units, w.UNIT_BRACKETS))
    parts = []
    kind = "multifamily " if vertical == "multifamily" else ""
    if buildings:
        parts.append(_count(buildings, f"{kind}building", f"{kind}buildings"))
    if units:
        parts.append(_count(units, "unit", "units"))
    size = "large" if points >= 20 else "mid-size" if points >= 14 else "small"
    return Factor("portfolio", points, f"Manages {' and '.join(parts)}: {size} portfolio")


def area_factor(postal_code: str | None, area: ServiceArea | None) -> Factor:
    """Where the prospect is against the organization's service area (`eal.geo`)."""
    if area is None:
        return Factor(
            "service_area", w.NO_SERVICE_AREA, "No service area configured: distance not scored"
        )
    if postal_code is None:
        return Factor(
            "service_area", w.NO_POSTAL_CODE, "No postal code: distance to the service area unknown"
        )
    code = geo.normalize_postal_code(postal_code)
    if code is None or (geo.resolve_postal_code(code) is None and code not in area.postal_codes):
        return Factor(
            "service_area",
            w.UNKNOWN_POSTAL_CODE,
            f"Postal code {postal_code} is not in the postal data: distance unknown",
        )
    placed = area.place(code)
    radius = area.radius_miles
    miles = placed.miles_from_center
    if placed.inside:
        where = (
            f"{miles:.0f} mi from the service-area center (radius {radius:g} mi)"
            if miles is not None and radius is not None
            else "a listed service-area postal code"
        )
        return Factor("service_area", w.INSIDE_AREA, f"Postal code {code} is inside: {where}")
    if miles is not None and radius is not None:
        if miles <= radius * w.NEAR_AREA_FACTOR:
            return Factor(
                "service_area",
                w.NEAR_AREA,
                f"Postal code {code} is {miles:.0f} mi from the center, just outside the "
                f"{radius:g} mi radius",
            )
        return Factor(
            "service_area",
            w.OUTSIDE_AREA,
            f"Postal code {code} is {miles:.0f} mi from the center, far outside the "
            f"{radius:g} mi radius",
        )
    if placed.inside is None:
        return Factor(
            "service_area",
            w.UNKNOWN_POSTAL_CODE,
            f"Postal code {code} could not be placed against the service area",
        )
    return Factor(
        "service_area", w.OUTSIDE_AREA, f"Postal code {code} is outside the listed service area"
    )


def incumbent_factor(incumbent: str | None) -> Factor:
    """A named incumbent vendor is harder to displace; none stated is an opening."""
    if incumbent is None:
        return Factor(
            "incumbent", w.NO_INCUMBENT_ON_RECORD, "No incumbent restoration vendor on record"
        )
    if incumbent.strip().lower() in w.NO_VENDOR_WORDS:
        return Factor(
            "incumbent", w.NO_INCUMBENT_STATED, "States it has no restoration vendor today"
        )
    return Factor(
        "incumbent",
        w.INCUMBENT,
        f"Incumbent vendor on record: {incumbent.strip()} (must be displaced)",
    )


def _near(event: AreaEvent, code: str) -> tuple[bool, float | None]:
    if code in event.postal_codes:
        return True, 0.0
    best: float | None = None
    for other in event.postal_codes:
        miles = geo.distance_miles(code, other)
        if miles is not None and (best is None or miles < best):
            best = miles
    return best is not None and best <= w.WEATHER_NEAR_MILES, best


def weather_factor(postal_code: str | None, events: Sequence[AreaEvent], now: datetime) -> Factor:
    """The strongest recent weather or loss event recorded in or near the postal code."""
    code = geo.normalize_postal_code(postal_code) if postal_code else None
    if code is None:
        return Factor("weather", 0, "No postal code: recent weather in its area unknown")
    found: list[tuple[int, datetime, AreaEvent, float]] = []
    for event in events:
        age = (now - event.occurred_at).days
        if age < 0 or age > w.WEATHER_DAYS:
            continue
        near, miles = _near(event, code)
        if near and miles is not None:
            found.append(
                (w.WEATHER_POINTS.get(event.event_type, 0), event.occurred_at, event, miles)
            )
    if not found:
        return Factor(
            "weather", 0, f"No weather or loss events recorded near {code} in {w.WEATHER_DAYS} days"
        )
    points, occurred, event, miles = max(found, key=lambda item: (item[0], item[1]))
    where = f"in postal code {code}" if miles == 0 else f"{miles:.0f} mi away"
    days = (now - occurred).days
    ago = "today" if days == 0 else f"{_count(days, 'day', 'days')} ago"
    severity = f"{event.severity} " if event.severity else ""
    line = f"Recent {severity}{event.event_type} {where} on {occurred.date().isoformat()} ({ago})"
    if event.description:
        line += f": {' '.join(event.description.split())[:80]}"
    if len(found) > 1:
        line += f"; {_count(len(found) - 1, 'other event', 'other events')} nearby"
    return Factor("weather", points, line)


def contact_factor(name: str | None, email: str | None, phone: str | None) -> Factor | None:
    """Points off for missing contact data; None when nothing is missing."""
    if email is None and phone is None:
        return Factor("contact", w.NO_WAY_TO_REACH, "No contact email or phone: cannot be reached")
    missing = []
    points = 0
    if email is None:
        missing.append("no contact email (phone only)")
        points += w.NO_EMAIL
    if name is None:
        missing.append("no contact name")
        points += w.NO_CONTACT_NAME
    if not missing:
        return None
    return Factor("contact", points, "Missing contact data: " + ", ".join(missing))


def score_fit(prospect: ProspectFacts, context: FitContext) -> FitResult:
    """The fit score, verdict and rationale of one prospect."""
    factors = [
        vertical_factor(prospect.vertical),
        portfolio_factor(prospect.buildings_managed, prospect.units, prospect.vertical),
        area_factor(prospect.postal_code, context.service_area),
        incumbent_factor(prospect.incumbent_vendor),
        weather_factor(prospect.postal_code, context.events, context.now),
    ]
    contact = contact_factor(prospect.contact_name, prospect.contact_email, prospect.contact_phone)
    if contact is not None:
        factors.append(contact)
    score = max(0, min(100, w.BASE + sum(f.points for f in factors)))
    return FitResult(score=score, status=verdict(score, prospect), factors=tuple(factors))


def verdict(score: int, prospect: ProspectFacts) -> str:
    """qualified, disqualified or needs_review, by the thresholds of fit_weights."""
    reachable = prospect.contact_email is not None or prospect.contact_phone is not None
    if score < w.DISQUALIFIED_BELOW:
        return "disqualified"
    if score >= w.QUALIFIED_AT and reachable:
        return "qualified"
    return "needs_review"


@dataclass(frozen=True)
class OutreachActivity:
    """A prospect's outreach so far: messages sent, opened, replied, and the latest of those."""

    sent: int = 0
    opened: int = 0
    replies: int = 0
    opted_out: bool = False
    last_activity_at: datetime | None = None


def engagement_score(activity: OutreachActivity, now: datetime) -> int | None:
    """How the prospect answered outreach (0-100); None when nothing was sent yet."""
    if activity.sent == 0 and activity.replies == 0:
        return None
    if activity.opted_out:
        return w.ENGAGEMENT_OPTED_OUT
    points = min(activity.opened * w.ENGAGEMENT_PER_OPEN, w.ENGAGEMENT_OPENS_MAX)
    if activity.replies:
        points += w.ENGAGEMENT_REPLY
        if activity.replies > 1:
            points += w.ENGAGEMENT_MORE_REPLIES
    if activity.last_activity_at is not None and (activity.replies or activity.opened):
        days = (now - activity.last_activity_at).days
        points += next((p for limit, p in w.ENGAGEMENT_RECENCY if days <= limit), 0)
    return max(0, min(100, points))
