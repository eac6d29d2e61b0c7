"""US postal code resolution and great-circle distances, offline.

Coordinates come from the ``zipcodes`` package, which ships the USPS
postal code list. Its own lookup scans the whole list on every call (about a
millisecond), so the first resolution builds a ``{code: (lat, long)}`` dict
once (a few hundred milliseconds, about 42,000 entries) and every later
lookup is a dict hit, further memoised per code. Call
:func:`load_postal_index` at start-up to pay that cost before the first
request instead of during it.

:class:`ServiceArea` is where an organization works (listed postal codes,
a center and radius, or both), as kept in its ``settings.service_area``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

import zipcodes

__all__ = [
    "EARTH_RADIUS_MILES",
    "MAX_SERVICE_RADIUS_MILES",
    "AreaPlacement",
    "ServiceArea",
    "distance_miles",
    "haversine_miles",
    "is_within_miles",
    "load_postal_index",
    "normalize_postal_code",
    "parse_postal_code",
    "resolve_postal_code",
]

#: Mean Earth radius used for great-circle distances (IUGG mean radius).
EARTH_RADIUS_MILES = 3958.7613
# Length of one degree of latitude, the same everywhere on a sphere.
_MILES_PER_DEGREE_LATITUDE = EARTH_RADIUS_MILES * math.pi / 180
#: Largest radius an organization may give its service area.
MAX_SERVICE_RADIUS_MILES = 500.0

# "30075", "30075-1234" or "300751234"; ZIP+4 suffixes do not move the
# coordinates, so only the first five digits are kept.
_POSTAL_CODE_RE = re.compile(r"^(\d{5})(?:-?\d{4})?$")


def normalize_postal_code(code: str | None) -> str | None:
    """Return the five-digit form of a US postal code, or None if it is not one.

    Surrounding whitespace is ignored and a ZIP+4 suffix (with or without the
    hyphen) is dropped. The result is only well-formed, not necessarily
    assigned: use :func:`resolve_postal_code` to know whether it exists.
    """
    if code is None:
        return None
    match = _POSTAL_CODE_RE.match(code.strip())
    return match.group(1) if match else None


def parse_postal_code(code: object, what: str = "postal code") -> str:
    """Like :func:`normalize_postal_code`, but raise ValueError naming ``what`` if invalid."""
    normalized = normalize_postal_code(code) if isinstance(code, str) else None
    if normalized is None:
        raise ValueError(f"{what} {code!r} is not a US postal code")
    return normalized


@cache
def _postal_index() -> dict[str, tuple[float, float]]:
    """Build the code -> (latitude, longitude) index once per process."""
    index: dict[str, tuple[float, float]] = {}
    # zipcodes' Python wrapper is untyped; list_all() returns list[dict[str, Any]].
    rows: list[dict[str, Any]] = zipcodes.list_all()  # type: ignore[no-untyped-call]
    for row in rows:
        try:
            index[str(row["zip_code"])] = (float(row["lat"]), float(row["long"]))
        except (KeyError, TypeError, ValueError):
            # A row without usable coordinates cannot be placed; skip it
            # rather than fail every lookup.
            continue
    return index


def load_postal_index() -> int:
    """Build the postal code index now (if not built yet); return its size."""
    return len(_postal_index())


@lru_cache(maxsize=65_536)
def resolve_postal_code(code: str) -> tuple[float, float] | None:
    """Return ``(latitude, longitude)`` for a US postal code, or None if unknown.

    Accepts the forms :func:`normalize_postal_code` accepts; anything else,
    and any well-formed code not in the USPS list, gives None.
    """
    normalized = normalize_postal_code(code)
    if normalized is None:
        return None
    return _postal_index().get(normalized)


def haversine_miles(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in miles between two ``(latitude, longitude)`` points."""
    lat1, lon1 = math.radians(a[0]), math.radians(a[1])
    lat2, lon2 = math.radians(b[0]), math.radians(b[1])
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    # min() guards asin against a rounding error just above 1 for antipodes.
    return 2 * EARTH_RADIUS_MILES * math.asin(min(1.0, math.sqrt(h)))


def distance_miles(a: str, b: str) -> float | None:
    """Great-circle distance in miles between two US postal codes.

    Returns None when either code cannot be resolved to coordinates.
    """
    point_a = resolve_postal_code(a)
    if point_a is None:
        return None
    point_b = resolve_postal_code(b)
    if point_b is None:
        return None
    return haversine_miles(point_a, point_b)


def is_within_miles(
    origin: tuple[float, float], points: Iterable[tuple[float, float]], miles: float
) -> bool:
    """Whether any of ``points`` lies within ``miles`` of ``origin`` (all lat/long)."""
    max_degrees_latitude = miles / _MILES_PER_DEGREE_LATITUDE
    for point in points:
        # The latitude gap alone is a lower bound of the distance: skip the
        # trigonometry for the (usual) far-away points.
        if abs(point[0] - origin[0]) > max_degrees_latitude:
            continue
        if haversine_miles(origin, point) <= miles:
            return True
    return False


@dataclass(frozen=True, slots=True)
class AreaPlacement:
    """Where a postal code stands relative to a service area.

    ``inside`` is None when it cannot be told (the code is neither listed nor
    placeable against the center). ``miles_from_center`` is set whenever the
    radius was what decided.
    """

    inside: bool | None
    miles_from_center: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceArea:
    """Where an organization works: listed postal codes, a center and radius, or both.

    Codes are normalised to five digits; a malformed code, a center without
    a radius (or the reverse) or a radius outside (0, MAX_SERVICE_RADIUS_MILES]
    raise ValueError.
    """

    postal_codes: tuple[str, ...] = ()
    center_postal_code: str | None = None
    radius_miles: float | None = None
    _listed: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.postal_codes, str):
            raise ValueError("service area postal_codes must be a list of postal codes")
        listed = {parse_postal_code(code, "service area postal code") for code in self.postal_codes}
        object.__setattr__(self, "postal_codes", tuple(sorted(listed)))
        object.__setattr__(self, "_listed", frozenset(listed))
        center, radius = self.center_postal_code, self.radius_miles
        if (center is None) != (radius is None):
            raise ValueError("service area center_postal_code and radius_miles go together")
        if center is not None and radius is not None:
            # bool is an int: `true` as a radius is a settings mistake.
            if isinstance(radius, bool) or not isinstance(radius, int | float):
                raise ValueError(f"service area radius_miles must be a number, got {radius!r}")
            if not 0 < radius <= MAX_SERVICE_RADIUS_MILES:
                raise ValueError(
                    f"service area radius_miles must be > 0 and <= {MAX_SERVICE_RADIUS_MILES:g}"
                )
            object.__setattr__(self, "center_postal_code", parse_postal_code(center, "center"))
            object.__setattr__(self, "radius_miles", float(radius))
        elif not listed:
            raise ValueError("a service area needs postal_codes, or a center and radius_miles")

    @classmethod
    def from_settings(cls, raw: object) -> ServiceArea | None:
        """Build from ``settings.service_area``; None when absent or empty.

        Expects ``{"postal_codes": [...], "center_postal_code": "30075",
        "radius_miles": 25}`` (either part, or both). Unknown keys are
        ignored; wrongly typed values raise ValueError.
        """
        if raw is None:
            return None
        if not isinstance(raw, Mapping):
            raise ValueError("settings.service_area must be an object")
        codes = raw.get("postal_codes")
        if codes is None:
            codes = ()
        if not isinstance(codes, list | tuple):
            raise ValueError("settings.service_area.postal_codes must be a list")
        center, radius = raw.get("center_postal_code"), raw.get("radius_miles")
        if not codes and center is None and radius is None:
            return None
        return cls(postal_codes=tuple(codes), center_postal_code=center, radius_miles=radius)

    def place(self, postal_code: str) -> AreaPlacement:
        """Whether a (normalised) postal code is inside the area.

        Listed codes are inside. Otherwise, with a center and radius, the
        distance decides, and a code that cannot be resolved is undecided:
        not being listed proves nothing when the radius could include it.
        Without a center, an unlisted code is outside.
        """
        if postal_code in self._listed:
            return AreaPlacement(inside=True)
        if self.center_postal_code is None or self.radius_miles is None:
            return AreaPlacement(inside=False)
        miles = distance_miles(postal_code, self.center_postal_code)
        if miles is None:
            return AreaPlacement(inside=None)
        return AreaPlacement(inside=miles <= self.radius_miles, miles_from_center=miles)
