"""US postal code resolution and great-circle distances, offline.

Coordinates come from the USPS postal code list as the ``zipcodes`` package
ships it, compiled into a small table shipped with eal
(``eal/data/postal_codes.bin``, written by ``tools/build_postal_index.py``):
the sorted five-digit codes as ``uint32`` and their latitude and longitude
as ``int32`` ten-thousandths of a degree, about 0.5 MB for some 42,000
codes. The table is read once per process, on the first resolution, into
three arrays, and a lookup is a binary search in them (about a
microsecond). Loaded as the package's own records (which it keeps) and a
dict built from them, the same list held some 145 MB. Call
:func:`load_postal_index` at start-up to read it before the first request
instead of during it.

:class:`ServiceArea` is where an organization works (listed postal codes,
a center and radius, or both), as kept in its ``settings.service_area``.
"""

from __future__ import annotations

import math
import re
import struct
import sys
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictFloat,
    StrictInt,
    field_validator,
    model_validator,
)

__all__ = [
    "EARTH_RADIUS_MILES",
    "MAX_SERVICE_RADIUS_MILES",
    "POSTAL_CODE_PATTERN",
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
#: A US postal code as the OpenAPI document describes it (ASCII digits).
POSTAL_CODE_PATTERN = r"^[0-9]{5}(-?[0-9]{4})?$"


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


# The postal code table (see tools/build_postal_index.py, which writes it).
# Little-endian: a header (magic, format version, row count n, coordinate
# scale), then n uint32 codes in ascending order, n int32 latitudes and n
# int32 longitudes, row for row, each coordinate in 1/scale degrees.
_TABLE_HEADER = struct.Struct("<4sIII")
_TABLE_MAGIC = b"EALZ"
_TABLE_VERSION = 1
# The USPS list gives coordinates to four decimals, so ten-thousandths hold
# them exactly, and ``scaled / scale`` (true division of two ints, correctly
# rounded) is the very float ``float("34.0408")`` gives: resolutions are
# bit-for-bit what parsing the list's own text gives. The generator refuses
# a coordinate with more decimals instead of rounding it.
_COORDINATE_SCALE = 10_000
_TABLE_PATH = ("data", "postal_codes.bin")


@dataclass(frozen=True, slots=True)
class _PostalTable:
    codes: array[int]
    latitudes: array[int]
    longitudes: array[int]
    scale: int


def _read_table(data: bytes) -> _PostalTable:
    """Parse the shipped table; ValueError if it is not one this code reads."""
    if len(data) < _TABLE_HEADER.size:
        raise ValueError("postal code table: truncated header")
    magic, version, count, scale = _TABLE_HEADER.unpack_from(data)
    if magic != _TABLE_MAGIC or version != _TABLE_VERSION:
        raise ValueError(f"postal code table: unknown format {magic!r} version {version}")
    if len(data) != _TABLE_HEADER.size + 12 * count or scale <= 0:
        raise ValueError(f"postal code table: {len(data)} bytes do not hold {count} rows")
    columns: list[array[int]] = []
    offset = _TABLE_HEADER.size
    for typecode in ("I", "i", "i"):
        column = array(typecode)
        if column.itemsize != 4:  # a C int of another size: the bytes would not fit
            raise RuntimeError(f"array({typecode!r}) is not 32-bit here")
        column.frombytes(data[offset : offset + 4 * count])
        if sys.byteorder != "little":
            column.byteswap()
        columns.append(column)
        offset += 4 * count
    codes, latitudes, longitudes = columns
    return _PostalTable(codes, latitudes, longitudes, scale)


@cache
def _postal_table() -> _PostalTable:
    """Read the shipped postal code table once per process."""
    resource = resources.files("eal")
    for part in _TABLE_PATH:
        resource = resource / part
    return _read_table(resource.read_bytes())


def load_postal_index() -> int:
    """Load the postal code index now (if not loaded yet); return its size."""
    return len(_postal_table().codes)


def _coordinates(code: str) -> tuple[float, float] | None:
    """Look up five ASCII digits in the table."""
    table = _postal_table()
    key = int(code)
    codes = table.codes
    i = bisect_left(codes, key)
    if i == len(codes) or codes[i] != key:
        return None
    return (table.latitudes[i] / table.scale, table.longitudes[i] / table.scale)


# Not memoised: a lookup costs about a microsecond (the dict this table
# replaced took 0.7 us), scoring makes two or three per lead, and the
# lru_cache that sat here held some 12 MB once full (65,536 codes).
def resolve_postal_code(code: str) -> tuple[float, float] | None:
    """Return ``(latitude, longitude)`` for a US postal code, or None if unknown.

    Accepts the forms :func:`normalize_postal_code` accepts; anything else,
    and any well-formed code not in the USPS list, gives None.
    """
    # Callers mostly hold codes already normalised (leads and service areas
    # store them so): those skip the regex.
    if isinstance(code, str) and len(code) == 5 and code.isascii() and code.isdigit():
        return _coordinates(code)
    normalized = normalize_postal_code(code)
    # The regex's \d also matches non-ASCII digits, which int() would read
    # as ASCII ones; no such code is in the USPS list.
    if normalized is None or not normalized.isascii():
        return None
    return _coordinates(normalized)


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


_SERVICE_AREA_FIELDS = ("postal_codes", "center_postal_code", "radius_miles")


class ServiceArea(BaseModel):
    """Where an organization works: listed postal codes, a center and radius, or both.

    The one model of a service area: organization settings validate
    `settings.service_area` with it, and lead scoring places postal codes in
    it. Codes are normalised to five digits (a ZIP+4 suffix is dropped) and
    listed codes are sorted and unique; a malformed code, a center without a
    radius (or the reverse) or a radius outside (0, MAX_SERVICE_RADIUS_MILES]
    is a ValueError (pydantic's ValidationError is one).
    """

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={
            # The rules of `_complete`: a center goes with a radius, and an area has
            # listed codes or a center.
            "anyOf": [
                {
                    "required": ["center_postal_code", "radius_miles"],
                    "properties": {
                        "center_postal_code": {"type": "string"},
                        "radius_miles": {"type": "number"},
                    },
                },
                {
                    "required": ["postal_codes"],
                    "properties": {
                        "postal_codes": {"minItems": 1},
                        "center_postal_code": {"type": "null"},
                        "radius_miles": {"type": "null"},
                    },
                },
            ],
            "examples": [
                {"center_postal_code": "30075", "radius_miles": 25},
                {"postal_codes": ["30075", "30076", "30062"]},
            ],
        },
    )

    postal_codes: tuple[str, ...] = Field(
        default=(),
        max_length=5000,
        json_schema_extra={"items": {"type": "string", "pattern": POSTAL_CODE_PATTERN}},
    )
    center_postal_code: str | None = Field(
        default=None, json_schema_extra={"pattern": POSTAL_CODE_PATTERN}
    )
    radius_miles: StrictFloat | StrictInt | None = Field(
        default=None,
        json_schema_extra={
            "anyOf": [
                {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "maximum": MAX_SERVICE_RADIUS_MILES,
                },
                {"type": "null"},
            ]
        },
    )
    _listed: frozenset[str] = PrivateAttr(default=frozenset())

    @field_validator("postal_codes", mode="before")
    @classmethod
    def _codes(cls, value: object) -> object:
        if isinstance(value, str) or not isinstance(value, list | tuple):
            raise ValueError("must be a list of postal codes")
        listed = {parse_postal_code(code, "service area postal code") for code in value}
        return tuple(sorted(listed))

    @field_validator("center_postal_code")
    @classmethod
    def _center(cls, value: str | None) -> str | None:
        return None if value is None else parse_postal_code(value, "center")

    @field_validator("radius_miles")
    @classmethod
    def _radius(cls, value: float | None) -> float | None:
        if value is None:
            return None
        if not (math.isfinite(value) and 0 < value <= MAX_SERVICE_RADIUS_MILES):
            raise ValueError(f"must be > 0 and <= {MAX_SERVICE_RADIUS_MILES:g}")
        return float(value)

    @model_validator(mode="after")
    def _complete(self) -> ServiceArea:
        if (self.center_postal_code is None) != (self.radius_miles is None):
            raise ValueError("center_postal_code and radius_miles go together")
        if self.center_postal_code is None and not self.postal_codes:
            raise ValueError("a service area needs postal_codes, or a center and radius_miles")
        return self

    def model_post_init(self, _context: object) -> None:
        """Index the listed codes once, for `place`."""
        self._listed = frozenset(self.postal_codes)

    @classmethod
    def from_settings(cls, raw: object) -> ServiceArea | None:
        """Build from stored ``settings.service_area``; None when absent or empty.

        Expects ``{"postal_codes": [...], "center_postal_code": "30075",
        "radius_miles": 25}`` (either part, or both). Keys this model does not
        know are ignored (settings written by an older version); wrongly typed
        values raise ValueError.
        """
        if raw is None:
            return None
        if not isinstance(raw, Mapping):
            raise ValueError("settings.service_area must be an object")
        known = {key: raw[key] for key in _SERVICE_AREA_FIELDS if raw.get(key) is not None}
        codes = known.get("postal_codes", ())
        if isinstance(codes, str) or not isinstance(codes, list | tuple):
            raise ValueError("settings.service_area.postal_codes must be a list")
        if not codes and "center_postal_code" not in known and "radius_miles" not in known:
            return None  # nothing but an empty list: no area
        return cls.model_validate(known)

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
