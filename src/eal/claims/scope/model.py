"""What the scope calculator takes and what it gives: frozen values, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Reading:
    """One moisture meter reading of a surface."""

    surface: str
    location: str | None
    reading: float
    meter_scale: str | None
    dry_standard: float | None
    taken_at: datetime | None


@dataclass(frozen=True, slots=True)
class DryingEntry:
    """One drying-log entry: a room's (or `outside`) temperature and relative humidity."""

    taken_at: datetime
    room: str
    temp_f: float
    rh_pct: float


@dataclass(frozen=True, slots=True)
class PhotoFact:
    """What the calculator needs of a photo; `counted` is False for duplicates."""

    id: str
    room: str | None
    tags: tuple[str, ...]
    description: str | None
    captured_at: datetime | None
    counted: bool


@dataclass(frozen=True, slots=True)
class Room:
    """A room as measured: a rectangle (length, width) or wall lengths in order, and height."""

    name: str
    length_ft: float | None = None
    width_ft: float | None = None
    height_ft: float | None = None
    walls_ft: tuple[float, ...] | None = None
    floor_material: str | None = None
    wall_material: str | None = None
    walls_insulated: bool = False
    wet_floor_sf: float | None = None
    wet_wall_height_in: float | None = None
    wet_wall_lf: float | None = None
    wet_ceiling_sf: float | None = None
    insets_offsets: int = 0
    readings: tuple[Reading, ...] = ()


@dataclass(frozen=True, slots=True)
class Loss:
    """Everything about one claim the scope depends on."""

    loss_type: str
    water_category: int | None
    water_class: int | None
    rooms: tuple[Room, ...]
    drying_log: tuple[DryingEntry, ...] = ()
    photos: tuple[PhotoFact, ...] = ()


@dataclass(frozen=True, slots=True)
class ScopeLine:
    """One line item, with the evidence that produced it.

    `key` (room + catalog code) is stable across runs, so a review decision can
    follow the line. Equipment lines carry `units` and `days`, `qty = units x days`.
    """

    key: str
    room: str
    code: str
    catalog_code: str
    description: str
    qty: float
    unit: str
    confidence: float
    evidence: tuple[str, ...]
    needs_measurement: bool
    units: int | None = None
    days: int | None = None
    estimated: bool | None = None


@dataclass(frozen=True, slots=True)
class PhotoSummary:
    """A room's photos at a glance (duplicates not counted)."""

    count: int
    first_captured_at: datetime | None
    last_captured_at: datetime | None
    tags: tuple[tuple[str, int], ...]
    notable_tags: tuple[str, ...]
    photo_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RoomScope:
    """A room's geometry, its lines and its photos."""

    name: str
    floor_sf: float | None
    wall_sf: float | None
    perimeter_lf: float | None
    cubic_ft: float | None
    lines: tuple[ScopeLine, ...]
    photos: PhotoSummary


@dataclass(frozen=True, slots=True)
class DryingRow:
    """A drying-log entry with its grains per pound and dew point."""

    taken_at: datetime
    room: str
    temp_f: float
    rh_pct: float
    gpp: float
    dew_point_f: float


@dataclass(frozen=True, slots=True)
class Scope:
    """The result of one run."""

    rooms: tuple[RoomScope, ...]
    unassigned_photos: PhotoSummary | None
    drying_log: tuple[DryingRow, ...]
    factors_version: str
