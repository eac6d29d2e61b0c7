"""Response bodies of the claims endpoints."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, Field

from eal.kit.paging import Page
from eal.kit.schemas import Timestamp


class ClaimListItem(BaseModel):
    """A claim as GET /claims lists it."""

    id: str
    job_external_ref: str | None
    loss_type: str
    status: str
    scope_item_count: int
    photo_count: int
    created_at: Timestamp


class ClaimPage(Page[ClaimListItem]):
    """GET /claims."""


class ClaimQueued(BaseModel):
    """POST /claims (and /extract, /import): the work is queued."""

    id: str
    status: str
    estimated_ready_at: Timestamp | None
    created_at: Timestamp


class DecisionOut(BaseModel):
    """The reviewer's decision on a line."""

    decision: str
    original_qty: float | None = Field(description="The extracted qty, when the line was edited.")
    note: str | None
    reason: str | None
    decided_at: Timestamp
    decided_by_key_id: str | None


class ScopeItemOut(BaseModel):
    """One scope line, with the evidence for it and its review decision."""

    id: str
    code: str
    catalog_code: str | None
    description: str
    qty: float = Field(description="The quantity in force: the reviewer's after an edit.")
    unit: str
    confidence: float
    needs_measurement: bool
    evidence: list[str]
    units: int | None = Field(description="Equipment: how many units.")
    days: int | None = Field(description="Equipment: how many 24-hour days.")
    estimated: bool | None = Field(description="Equipment days estimated, not from readings.")
    origin: str = Field(description="extracted, or manual (added by a reviewer).")
    note: str | None
    review: DecisionOut | None


class PhotoSummaryOut(BaseModel):
    """The photos of one room at a glance."""

    count: int
    first_captured_at: Timestamp | None
    last_captured_at: Timestamp | None
    tags: dict[str, int]
    notable_tags: list[str]
    photo_ids: list[str]


class DimensionsOut(BaseModel):
    """A room's dimensions as given: length and width, or its walls in order."""

    length_ft: float | None = None
    width_ft: float | None = None
    walls_ft: list[float] | None = None
    height_ft: float | None = None


class AffectedOut(BaseModel):
    """What is wet (or sooted, or moldy) in a room, as given."""

    wet_floor_sf: float | None = None
    wet_wall_height_in: float | None = None
    wet_wall_lf: float | None = None
    wet_ceiling_sf: float | None = None
    insets_offsets: int = 0


class ReadingOut(BaseModel):
    """One moisture meter reading, as given."""

    surface: str
    location: str | None = None
    reading: float
    meter_scale: str | None = None
    dry_standard: float | None = None
    taken_at: Timestamp | None = None


class RoomOut(BaseModel):
    """A room as measured, what it computes to, its scope lines and its photos."""

    name: str
    dimensions: DimensionsOut | None
    floor_material: str | None
    wall_material: str | None
    walls_insulated: bool
    affected: AffectedOut
    readings: list[ReadingOut]
    photo_ids: list[str]
    floor_sf: float | None
    perimeter_lf: float | None
    scope_items: list[ScopeItemOut]
    photo_summary: PhotoSummaryOut | None


class Gps(BaseModel):
    """Where a photo was taken (from its EXIF or the vendor)."""

    lat: float
    lon: float


class PhotoOut(BaseModel):
    """One photo of the claim."""

    id: str
    room: str | None
    source: str
    filename: str | None
    content_type: str
    width: int
    height: int
    captured_at: Timestamp | None
    gps: Gps | None
    tags: list[str]
    description: str | None
    thumbnail_url: str
    duplicate_of: str | None
    near_duplicate_of: str | None
    far_from_loss: bool | None


class DryingRowOut(BaseModel):
    """A drying-log entry with its grains per pound."""

    taken_at: Timestamp
    room: str
    temp_f: float
    rh_pct: float
    gpp: float
    dew_point_f: float


class ClaimOut(BaseModel):
    """GET /claims/{id}."""

    id: str
    loss_type: str
    status: str
    source: dict[str, Any]
    job_external_ref: str | None
    water_category: int | None
    water_class: int | None
    date_of_loss: date | None
    address: str | None
    location: Gps | None
    rooms: list[RoomOut]
    photos: list[PhotoOut]
    unassigned_photo_summary: PhotoSummaryOut | None
    drying_log: list[DryingRowOut]
    photo_count: int
    scope_item_count: int
    import_error: str | None
    estimated_ready_at: Timestamp | None
    extracted_at: Timestamp | None
    reviewed_at: Timestamp | None
    created_at: Timestamp
    updated_at: Timestamp
    summary_pdf_url: str
    summary_txt_url: str


class UploadTarget(BaseModel):
    """Where to PUT one file: the URL is the credential."""

    filename: str
    url: str
    expires_at: Timestamp


class UploadsOut(BaseModel):
    """POST /claims/{id}/uploads."""

    uploads: list[UploadTarget]


class PhotoStored(BaseModel):
    """PUT of a signed upload URL: the photo stored."""

    id: str
    claim_id: str
    duplicate_of: str | None
    near_duplicate_of: str | None
    far_from_loss: bool | None


class ClaimReviewOut(BaseModel):
    """POST /claims/{id}/review."""

    id: str
    status: str
    decisions_recorded: int
    reviewed_at: Timestamp | None
