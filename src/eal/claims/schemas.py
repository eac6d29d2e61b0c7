"""Request bodies of the claims endpoints, the domain's enums and limits."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from eal.kit.schemas import NON_BLANK, DateIn, StrictBody, TimestampIn

CLAIM_PREFIX = "clm"
SCOPE_PREFIX = "scope"
PHOTO_PREFIX = "photo"
CLAIM_ID_PATTERN = "clm_[0-9a-f]{32}"
PHOTO_ID_PATTERN = "photo_[0-9a-f]{32}"
SCOPE_ID_PATTERN = "scope_[0-9a-f]{32}"

MAX_ROOMS = 200
MAX_READINGS = 500
MAX_DRYING_ENTRIES = 5_000
MAX_UPLOAD_FILES = 100
MAX_DECISIONS = 1_000
MAX_PHOTO_IDS = 2_000
#: The room name the drying log uses for outdoor readings (no room may take it).
OUTSIDE = "outside"


class LossType(StrEnum):
    """What caused the loss."""

    WATER = "water"
    FIRE = "fire"
    MOLD = "mold"
    BIOHAZARD = "biohazard"
    STORM = "storm"


#: Losses whose documentation takes a water category and class (IICRC S500).
WATER_LOSSES = frozenset({LossType.WATER, LossType.STORM})


class ClaimStatus(StrEnum):
    """collecting (no vendor source: photos and rooms come in) -> extracting -> review."""

    COLLECTING = "collecting"
    EXTRACTING = "extracting"
    READY_FOR_REVIEW = "ready_for_review"
    PARTIALLY_REVIEWED = "partially_reviewed"
    REVIEWED = "reviewed"


class FloorMaterial(StrEnum):
    """A room's floor covering."""

    CARPET_PAD = "carpet_pad"
    HARDWOOD = "hardwood"
    LAMINATE = "laminate"
    VINYL = "vinyl"
    TILE = "tile"
    CONCRETE = "concrete"


class WallMaterial(StrEnum):
    """A room's wall surface."""

    DRYWALL = "drywall"
    PLASTER = "plaster"
    PANELING = "paneling"
    MASONRY = "masonry"


class Unit(StrEnum):
    """Units of scope lines, as price lists use them."""

    SF = "SF"
    LF = "LF"
    EA = "EA"
    DAY = "DAY"
    HR = "HR"


class DecisionKind(StrEnum):
    """A reviewer's decision on one scope line."""

    APPROVE = "approve"
    EDIT = "edit"
    REJECT = "reject"


Name = Annotated[str, Field(min_length=1, max_length=100, json_schema_extra={"pattern": NON_BLANK})]
Text200 = Annotated[
    str, Field(min_length=1, max_length=200, json_schema_extra={"pattern": NON_BLANK})
]
Note = Annotated[
    str, Field(min_length=1, max_length=2000, json_schema_extra={"pattern": NON_BLANK})
]
Feet = Annotated[float, Field(gt=0, le=1000)]
SquareFeet = Annotated[float, Field(ge=0, le=1_000_000)]


class ClaimSource(StrictBody):
    """Where the photos come from: a CompanyCam project, or uploads through signed URLs."""

    vendor: Literal["companycam", "upload"]
    project_id: (
        Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")] | None
    ) = None

    @model_validator(mode="after")
    def _project(self) -> ClaimSource:
        if self.vendor == "companycam" and self.project_id is None:
            raise ValueError("project_id is required for a CompanyCam source")
        if self.vendor == "upload" and self.project_id is not None:
            raise ValueError("project_id is only for a CompanyCam source")
        return self


class Location(StrictBody):
    """A point (WGS 84): the loss's address, to flag photos taken far from it."""

    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]


class Dimensions(StrictBody):
    """A rectangular room (length, width) or any room by its wall lengths in order."""

    length_ft: Feet | None = None
    width_ft: Feet | None = None
    walls_ft: Annotated[list[Feet], Field(min_length=3, max_length=64)] | None = None
    height_ft: Feet

    @model_validator(mode="after")
    def _shape(self) -> Dimensions:
        rectangle = self.length_ft is not None or self.width_ft is not None
        if rectangle and self.walls_ft is not None:
            raise ValueError("give length_ft and width_ft, or walls_ft, not both")
        if rectangle and (self.length_ft is None or self.width_ft is None):
            raise ValueError("a rectangular room needs both length_ft and width_ft")
        if not rectangle and self.walls_ft is None:
            raise ValueError("give length_ft and width_ft, or walls_ft (the wall lengths in order)")
        return self


class Affected(StrictBody):
    """What is wet (or sooted, or moldy) in a room, as measured."""

    wet_floor_sf: SquareFeet | None = None
    wet_wall_height_in: Annotated[float, Field(ge=0, le=1200)] | None = Field(
        default=None, description="The highest wet point above the floor, in inches."
    )
    wet_wall_lf: Annotated[float, Field(ge=0, le=100_000)] | None = Field(
        default=None, description="Length of wet wall; every wall of the room when omitted."
    )
    wet_ceiling_sf: SquareFeet | None = None
    insets_offsets: Annotated[int, Field(ge=0, le=100)] = 0


class ReadingIn(StrictBody):
    """One moisture meter reading."""

    surface: Name
    location: Text200 | None = None
    reading: Annotated[float, Field(ge=0, le=100_000)]
    meter_scale: (
        Annotated[str, Field(min_length=1, max_length=50, json_schema_extra={"pattern": NON_BLANK})]
        | None
    ) = None
    dry_standard: Annotated[float, Field(ge=0, le=100_000)] | None = None
    taken_at: TimestampIn | None = None


class RoomIn(StrictBody):
    """One room of the loss: its geometry, materials, what is wet, readings and photos."""

    name: Name
    dimensions: Dimensions | None = None
    floor_material: FloorMaterial | None = None
    wall_material: WallMaterial | None = None
    walls_insulated: bool = False
    affected: Affected = Field(default_factory=Affected)
    readings: Annotated[list[ReadingIn], Field(max_length=MAX_READINGS)] = Field(
        default_factory=list
    )
    photo_ids: Annotated[
        list[Annotated[str, Field(pattern=f"^{PHOTO_ID_PATTERN}$")]],
        Field(max_length=MAX_PHOTO_IDS),
    ] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _not_outside(cls, value: str) -> str:
        if value.casefold() == OUTSIDE:
            raise ValueError(f'"{OUTSIDE}" is reserved for outdoor drying-log readings')
        return value


def _unique_room_names(rooms: list[RoomIn]) -> list[RoomIn]:
    seen: set[str] = set()
    for room in rooms:
        key = room.name.casefold()
        if key in seen:
            raise ValueError(f"two rooms are named {room.name!r}: room names must be unique")
        seen.add(key)
    return rooms


Rooms = Annotated[list[RoomIn], Field(max_length=MAX_ROOMS)]


def room_photo_ids(rooms: list[RoomIn] | None) -> list[tuple[str, str]]:
    """(field, photo id) of every photo the rooms name, for the existence check."""
    return [
        (f"rooms.{r}.photo_ids.{p}", photo_id)
        for r, room in enumerate(rooms or [])
        for p, photo_id in enumerate(room.photo_ids)
    ]


class ClaimCreate(StrictBody):
    """POST /claims."""

    loss_type: LossType
    source: ClaimSource | None = None
    job_external_ref: (
        Annotated[
            str, Field(min_length=1, max_length=200, json_schema_extra={"pattern": NON_BLANK})
        ]
        | None
    ) = None
    rooms: Rooms | None = None
    water_category: Annotated[int, Field(ge=1, le=3)] | None = None
    water_class: Annotated[int, Field(ge=1, le=4)] | None = None
    date_of_loss: DateIn | None = None
    address: (
        Annotated[
            str, Field(min_length=1, max_length=500, json_schema_extra={"pattern": NON_BLANK})
        ]
        | None
    ) = None
    location: Location | None = None

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "loss_type": "water",
                    "source": {"vendor": "companycam", "project_id": "cc_proj_5482"},
                    "job_external_ref": "jn_117422",
                }
            ]
        }
    }

    @field_validator("rooms")
    @classmethod
    def _rooms(cls, value: list[RoomIn] | None) -> list[RoomIn] | None:
        return None if value is None else _unique_room_names(value)

    @model_validator(mode="after")
    def _water_only(self) -> ClaimCreate:
        if self.loss_type not in WATER_LOSSES:
            for name in ("water_category", "water_class"):
                if getattr(self, name) is not None:
                    raise ValueError(f"{name} applies to water and storm losses only")
        return self


class RoomsIn(StrictBody):
    """PUT /claims/{id}/rooms: the claim's rooms, replaced as a whole."""

    rooms: Rooms

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "rooms": [
                        {
                            "name": "Basement",
                            "dimensions": {"length_ft": 24, "width_ft": 18, "height_ft": 8},
                            "floor_material": "carpet_pad",
                            "wall_material": "drywall",
                            "affected": {
                                "wet_floor_sf": 432,
                                "wet_wall_height_in": 30,
                                "wet_wall_lf": 84,
                            },
                            "readings": [
                                {
                                    "surface": "wall",
                                    "location": "north wall, 12 in",
                                    "reading": 38,
                                    "meter_scale": "drywall %MC",
                                    "dry_standard": 12,
                                    "taken_at": "2026-04-28T09:15:00Z",
                                }
                            ],
                        }
                    ]
                }
            ]
        }
    }

    @field_validator("rooms")
    @classmethod
    def _rooms(cls, value: list[RoomIn]) -> list[RoomIn]:
        return _unique_room_names(value)


class DryingEntryIn(StrictBody):
    """One drying-log reading of a room (or `outside`)."""

    taken_at: TimestampIn
    room: Name
    temp_f: Annotated[float, Field(ge=-40, le=200)]
    rh_pct: Annotated[float, Field(ge=0, le=100)]


class DryingLogIn(StrictBody):
    """PUT /claims/{id}/drying-log: the whole log, replaced."""

    entries: Annotated[list[DryingEntryIn], Field(max_length=MAX_DRYING_ENTRIES)]

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "entries": [
                        {
                            "taken_at": "2026-04-28T09:00:00Z",
                            "room": "Basement",
                            "temp_f": 78,
                            "rh_pct": 62,
                        },
                        {
                            "taken_at": "2026-04-28T09:05:00Z",
                            "room": "outside",
                            "temp_f": 71,
                            "rh_pct": 55,
                        },
                    ]
                }
            ]
        }
    }


class UploadFile(StrictBody):
    """One file the client is about to upload."""

    # No path separators or control characters, and not blank (bodies are stripped first).
    filename: Annotated[
        str,
        Field(
            min_length=1,
            max_length=255,
            pattern=r"^[^/\\\x00-\x1f]*[^/\\\x00-\x1f\s\x85][^/\\\x00-\x1f]*$",
        ),
    ]
    content_type: Literal["image/jpeg", "image/png", "image/heic", "image/heif"]
    size: Annotated[int, Field(ge=1, le=25 * 1024 * 1024)]


class UploadRequest(StrictBody):
    """POST /claims/{id}/uploads."""

    files: Annotated[list[UploadFile], Field(min_length=1, max_length=MAX_UPLOAD_FILES)]

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "files": [
                        {"filename": "IMG_0412.HEIC", "content_type": "image/heic", "size": 2481133}
                    ]
                }
            ]
        }
    }


class DecisionIn(StrictBody):
    """One decision: approve; edit (qty required, note optional); reject (reason required)."""

    scope_item_id: Annotated[
        str, Field(min_length=1, max_length=100, json_schema_extra={"pattern": NON_BLANK})
    ]
    decision: DecisionKind
    qty: Annotated[float, Field(ge=0, le=10_000_000)] | None = None
    note: Note | None = None
    reason: Note | None = None

    @model_validator(mode="after")
    def _fields(self) -> DecisionIn:
        if self.decision is DecisionKind.EDIT and self.qty is None:
            raise ValueError("an edit needs qty")
        if self.decision is not DecisionKind.EDIT and self.qty is not None:
            raise ValueError("qty is only for an edit")
        if self.decision is DecisionKind.REJECT and self.reason is None:
            raise ValueError("a rejection needs a reason")
        if self.decision is not DecisionKind.REJECT and self.reason is not None:
            raise ValueError("reason is only for a rejection")
        return self


class ClaimReviewRequest(StrictBody):
    """POST /claims/{id}/review: all decisions are recorded, or none."""

    decisions: Annotated[list[DecisionIn], Field(min_length=1, max_length=MAX_DECISIONS)]
    reopen: bool = Field(
        default=False, description="Required to change decisions of a claim already reviewed."
    )

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "decisions": [
                        {"scope_item_id": "scope_a1", "decision": "approve"},
                        {
                            "scope_item_id": "scope_a2",
                            "decision": "edit",
                            "qty": 410,
                            "note": "Re-measured on site",
                        },
                        {
                            "scope_item_id": "scope_a3",
                            "decision": "reject",
                            "reason": "Pre-existing damage, not from loss",
                        },
                    ]
                }
            ]
        }
    }


class ItemCreate(StrictBody):
    """POST /claims/{id}/items: a line the reviewer adds by hand."""

    room: Name
    code: Annotated[
        str, Field(min_length=1, max_length=50, json_schema_extra={"pattern": NON_BLANK})
    ]
    description: Text200
    qty: Annotated[float, Field(ge=0, le=10_000_000)]
    unit: Unit
    note: Note | None = None

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "room": "Basement",
                    "code": "WTR DRYW",
                    "description": "Tear out wet drywall behind the water heater closet",
                    "qty": 32,
                    "unit": "SF",
                    "note": "Closet found on second visit",
                }
            ]
        }
    }


def dump_rooms(rooms: list[RoomIn]) -> list[dict[str, Any]]:
    """Rooms as stored (JSON values)."""
    return [room.model_dump(mode="json") for room in rooms]
