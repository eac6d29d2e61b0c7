"""Every weight and threshold of the prospect fit score, in one place.

The fit score (0-100) says who a prospect is for a restoration franchise: the
points below are added to `BASE` and the sum is clamped to 0-100. Each factor
yields one rationale line built from the prospect's own data. Engagement (how
a prospect answered outreach) is scored separately, with its own weights at
the end of this module, and never added to the fit score.
"""

from __future__ import annotations

from typing import Final

BASE: Final = 10

#: Points per vertical, and why the vertical buys restoration work (shown in the rationale).
VERTICAL_POINTS: Final[dict[str, tuple[int, str]]] = {
    "property_management": (30, "manages many buildings and hires restoration vendors for them"),
    "multifamily": (30, "shared plumbing means one leak can reach several units"),
    "hoa": (24, "the association repairs common areas and shared structures"),
    "healthcare": (24, "water and mold must be handled fast and by the book in patient areas"),
    "hospitality": (22, "guest rooms out of service cost revenue every night"),
    "education": (20, "large campuses with roofs, boilers and long closed periods"),
    "government": (16, "large facilities, though purchasing goes through formal bids"),
    "industrial": (16, "large plants with sprinkler, roof and process-water risks"),
    "office": (14, "losses are occasional and often handled by the building's manager"),
    "retail": (12, "single storefronts with occasional losses"),
    "restaurant": (10, "kitchen fires and grease are frequent but jobs are small"),
    "other": (4, "no known link to restoration work"),
}
VERTICAL_UNKNOWN: Final = 0

#: Portfolio size: (minimum buildings, points); the largest bracket reached counts.
BUILDING_BRACKETS: Final = ((50, 25), (20, 20), (5, 14), (2, 8), (1, 4))
#: Portfolio size by units, when that reaches a higher bracket than buildings.
UNIT_BRACKETS: Final = ((2000, 25), (500, 20), (100, 14), (20, 8), (1, 4))
PORTFOLIO_UNKNOWN: Final = 0
PORTFOLIO_EMPTY: Final = -5

#: Distance to the organization's service area.
INSIDE_AREA: Final = 20
#: Outside the radius but within this multiple of it: reachable with longer drives.
NEAR_AREA_FACTOR: Final = 1.5
NEAR_AREA: Final = 0
OUTSIDE_AREA: Final = -25
NO_POSTAL_CODE: Final = -5
UNKNOWN_POSTAL_CODE: Final = 0
NO_SERVICE_AREA: Final = 0

#: The incumbent vendor: none stated, none on record, or one named.
NO_INCUMBENT_STATED: Final = 10
NO_INCUMBENT_ON_RECORD: Final = 5
INCUMBENT: Final = -10
#: Values of incumbent_vendor that mean "no vendor".
NO_VENDOR_WORDS: Final = frozenset({"none", "no", "n/a", "na", "nobody", "no vendor", "-"})

#: Recent weather or loss events recorded in or near the prospect's postal code.
WEATHER_DAYS: Final = 90
WEATHER_NEAR_MILES: Final = 15.0
WEATHER_POINTS: Final[dict[str, int]] = {
    "hurricane": 15,
    "flood": 15,
    "tornado": 12,
    "storm": 12,
    "hail": 10,
    "freeze": 10,
    "wildfire": 8,
}

#: Missing contact data (points off).
NO_WAY_TO_REACH: Final = -15
NO_EMAIL: Final = -5
NO_CONTACT_NAME: Final = -5

#: The verdict: qualified at or above QUALIFIED_AT (when reachable), disqualified below
#: DISQUALIFIED_BELOW, needs_review in between (or a high score nobody can be reached at).
QUALIFIED_AT: Final = 60
DISQUALIFIED_BELOW: Final = 35

#: Engagement (0-100), from the prospect's outreach messages; null before any was sent.
ENGAGEMENT_REPLY: Final = 50
ENGAGEMENT_MORE_REPLIES: Final = 10
ENGAGEMENT_PER_OPEN: Final = 8
ENGAGEMENT_OPENS_MAX: Final = 24
#: (days since the last reply or open, points); the first bracket reached counts.
ENGAGEMENT_RECENCY: Final = ((7, 16), (30, 8))
ENGAGEMENT_OPTED_OUT: Final = 0
