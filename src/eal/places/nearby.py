"""Places near a point: the towns a page about one city can name as its neighbours."""

from __future__ import annotations

import math
from bisect import bisect_right

from eal.geo import haversine_miles
from eal.places.table import _FLAG_NEEDS_CONTEXT, Place, _place_table


def places_near(
    point: tuple[float, float],
    *,
    miles: float = 30.0,
    limit: int = 5,
    exclude: frozenset[str] = frozenset(),
) -> tuple[Place, ...]:
    """Up to `limit` places within `miles` of `point` (latitude, longitude), nearest first.

    A place with more postal codes counts as nearer at a similar distance: a name with one
    code is often a post office station rather than a town people name. Counties, names
    that read as common words ("Mission", "Commerce") and the names in `exclude`
    (normalised with :func:`eal.places.names.normalize_place_name`) are left out; a name
    several states share near the point appears once.
    """
    table = _place_table()
    lat_span = miles / 69.0
    lon_span = miles / max(1.0, 69.0 * math.cos(math.radians(point[0])))
    lat_lo, lat_hi = (point[0] - lat_span) * table.scale, (point[0] + lat_span) * table.scale
    lon_lo, lon_hi = (point[1] - lon_span) * table.scale, (point[1] + lon_span) * table.scale
    found: list[tuple[float, str, int]] = []
    starts = table.entry_starts
    for entry, (lat, lon) in enumerate(zip(table.latitudes, table.longitudes, strict=True)):
        if not (lat_lo <= lat <= lat_hi and lon_lo <= lon <= lon_hi) or table.is_county(entry):
            continue
        if table.flags[entry] & _FLAG_NEEDS_CONTEXT:
            continue
        name = table.key(bisect_right(starts, entry) - 1)
        if name in exclude:
            continue
        distance = haversine_miles(point, table.point(entry))
        if distance <= miles:
            found.append((distance / (1 + math.log2(max(1, table.sizes[entry]))), name, entry))
    found.sort()
    seen: set[str] = set()
    places: list[Place] = []
    for _, name, entry in found:
        if name not in seen:
            seen.add(name)
            places.append(table.place(entry, name))
            if len(places) >= limit:
                break
    return tuple(places)
