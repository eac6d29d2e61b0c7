"""What the summary shows: a claim as the PDF and the text lay it out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True, slots=True)
class ReportLine:
    """One scope line with its review decision (None: not decided yet)."""

    id: str
    code: str
    description: str
    qty: float
    unit: str
    confidence: float
    needs_measurement: bool
    decision: str | None
    original_qty: float | None
    note: str | None
    reason: str | None
    units: int | None
    days: int | None
    estimated: bool | None
    evidence: tuple[str, ...]

    @property
    def included(self) -> bool:
        """Approved or edited: the line goes into the estimate."""
        return self.decision in ("approve", "edit")


@dataclass(frozen=True, slots=True)
class ReportPhoto:
    """A photo: its thumbnail (JPEG) when the PDF shows it."""

    id: str
    captured_at: datetime | None
    tags: tuple[str, ...]
    description: str | None
    thumbnail: bytes | None
    duplicate: bool


@dataclass(frozen=True, slots=True)
class ReportRoom:
    """A room: measurements, lines, photos."""

    name: str
    length_ft: float | None
    width_ft: float | None
    height_ft: float | None
    walls_ft: tuple[float, ...] | None
    floor_sf: float | None
    perimeter_lf: float | None
    floor_material: str | None
    wall_material: str | None
    lines: tuple[ReportLine, ...]
    photos: tuple[ReportPhoto, ...]

    @property
    def dimensions(self) -> str:
        """ "24 x 18 x 8 ft", "walls 20, 12, 8, 6, 12, 18 ft, 8 ft high", or ""."""
        height = f"{self.height_ft:g}" if self.height_ft is not None else "?"
        if self.length_ft is not None and self.width_ft is not None:
            return f"{self.length_ft:g} x {self.width_ft:g} x {height} ft"
        if self.walls_ft:
            return f"walls {', '.join(f'{w:g}' for w in self.walls_ft)} ft, {height} ft high"
        return ""


@dataclass(frozen=True, slots=True)
class ReportDryingRow:
    """A drying-log entry with grains per pound."""

    taken_at: datetime
    room: str
    temp_f: float
    rh_pct: float
    gpp: float


@dataclass(frozen=True, slots=True)
class ClaimReport:
    """Everything the summary shows."""

    id: str
    organization_name: str
    loss_type: str
    status: str
    job_external_ref: str | None
    date_of_loss: date | None
    address: str | None
    water_category: int | None
    water_class: int | None
    created_at: datetime
    reviewed_at: datetime | None
    generated_at: datetime
    rooms: tuple[ReportRoom, ...]
    unassigned_photos: tuple[ReportPhoto, ...]
    drying_log: tuple[ReportDryingRow, ...]
    photo_count: int


def qty_text(value: float) -> str:
    """A quantity without trailing zeros: 336, 12.5, 2.16."""
    return f"{round(value, 2):g}"


def decision_text(line: ReportLine) -> str:
    """How the review decided the line, in words."""
    if line.decision == "approve":
        return "Approved"
    if line.decision == "edit":
        was = qty_text(line.original_qty) if line.original_qty is not None else "?"
        return f"Edited (was {was})"
    if line.decision == "reject":
        return f"Rejected: {line.reason or ''}".rstrip(": ")
    return "Pending review"
