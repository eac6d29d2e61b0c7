"""GET /claims/{id}: a claim with its rooms, lines, photos and drying log, as the API shows it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eal.claims import intake
from eal.claims.extraction import drying_rows
from eal.claims.responses import (
    AffectedOut,
    ClaimOut,
    DecisionOut,
    DimensionsOut,
    DryingRowOut,
    Gps,
    PhotoOut,
    PhotoSummaryOut,
    ReadingOut,
    RoomOut,
    ScopeItemOut,
)
from eal.claims.schemas import CLAIM_PREFIX, PHOTO_PREFIX, SCOPE_PREFIX
from eal.kit.ids import public_id
from eal.kit.signed import Signer


def _photo_ref(value: Any) -> str | None:
    return public_id(PHOTO_PREFIX, value) if value is not None else None


def item_of(row: Any) -> ScopeItemOut:
    """One scope line as shown."""
    review = None
    if row.decision is not None:
        review = DecisionOut(
            decision=row.decision,
            original_qty=row.qty if row.decision == "edit" else None,
            note=row.decision_note,
            reason=row.decision_reason,
            decided_at=row.decided_at,
            decided_by_key_id=str(row.decided_by) if row.decided_by else None,
        )
    return ScopeItemOut(
        id=public_id(SCOPE_PREFIX, row.id),
        code=row.code,
        catalog_code=row.catalog_code,
        description=row.description,
        qty=row.decided_qty if row.decision == "edit" else row.qty,
        unit=row.unit,
        confidence=row.confidence,
        needs_measurement=row.needs_measurement,
        evidence=list(row.evidence),
        units=row.units,
        days=row.days,
        estimated=row.estimated,
        origin=row.origin,
        note=row.note,
        review=review,
    )


def _summary(value: dict[str, Any] | None) -> PhotoSummaryOut | None:
    return None if value is None else PhotoSummaryOut.model_validate(value)


def photo_of(row: Any, signer: Signer, public_url: str, now: datetime) -> PhotoOut:
    """One photo as shown, with a signed thumbnail link."""
    gps = None
    if row.gps_lat is not None and row.gps_lon is not None:
        gps = Gps(lat=row.gps_lat, lon=row.gps_lon)
    return PhotoOut(
        id=public_id(PHOTO_PREFIX, row.id),
        room=row.room,
        source=row.source,
        filename=row.filename,
        content_type=row.content_type,
        width=row.width,
        height=row.height,
        captured_at=row.captured_at,
        gps=gps,
        tags=list(row.tags),
        description=row.description,
        thumbnail_url=intake.thumbnail_link(signer, public_url, row.claim_id, row.id, now),
        duplicate_of=_photo_ref(row.duplicate_of),
        near_duplicate_of=_photo_ref(row.near_duplicate_of),
        far_from_loss=row.far_from_loss,
    )


def claim_of(
    claim: Any,
    photos: list[Any],
    items: list[Any],
    *,
    signer: Signer,
    public_url: str,
    now: datetime,
) -> ClaimOut:
    """The whole claim as GET /claims/{id} returns it."""
    extraction = claim.extraction or {}
    derived = extraction.get("rooms") or {}
    by_room: dict[str, list[ScopeItemOut]] = {}
    for row in items:
        by_room.setdefault(row.room, []).append(item_of(row))
    rooms = []
    for room in claim.rooms:
        facts = derived.get(room["name"]) or {}
        rooms.append(
            RoomOut(
                name=room["name"],
                dimensions=DimensionsOut.model_validate(room["dimensions"])
                if room.get("dimensions")
                else None,
                floor_material=room.get("floor_material"),
                wall_material=room.get("wall_material"),
                walls_insulated=bool(room.get("walls_insulated")),
                affected=AffectedOut.model_validate(room.get("affected") or {}),
                readings=[ReadingOut.model_validate(r) for r in room.get("readings") or []],
                photo_ids=list(room.get("photo_ids") or []),
                floor_sf=facts.get("floor_sf"),
                perimeter_lf=facts.get("perimeter_lf"),
                scope_items=by_room.pop(room["name"], []),
                photo_summary=_summary(facts.get("photo_summary")),
            )
        )
    # Lines of a room no longer listed (renamed or removed since a reviewer added them).
    for name, lines in by_room.items():
        rooms.append(
            RoomOut(
                name=name,
                dimensions=None,
                floor_material=None,
                wall_material=None,
                walls_insulated=False,
                affected=AffectedOut(),
                readings=[],
                photo_ids=[],
                floor_sf=None,
                perimeter_lf=None,
                scope_items=lines,
                photo_summary=None,
            )
        )
    location = None
    if claim.loss_lat is not None and claim.loss_lon is not None:
        location = Gps(lat=claim.loss_lat, lon=claim.loss_lon)
    source: dict[str, Any] = {"vendor": claim.source_vendor}
    if claim.source_project_id is not None:
        source["project_id"] = claim.source_project_id
    return ClaimOut(
        id=public_id(CLAIM_PREFIX, claim.id),
        loss_type=claim.loss_type,
        status=claim.status,
        source=source,
        job_external_ref=claim.job_external_ref,
        water_category=claim.water_category,
        water_class=claim.water_class,
        date_of_loss=claim.date_of_loss,
        address=claim.address,
        location=location,
        rooms=rooms,
        photos=[photo_of(p, signer, public_url, now) for p in photos],
        unassigned_photo_summary=_summary(extraction.get("unassigned_photo_summary")),
        drying_log=[
            DryingRowOut(
                taken_at=r.taken_at,
                room=r.room,
                temp_f=r.temp_f,
                rh_pct=r.rh_pct,
                gpp=r.gpp,
                dew_point_f=r.dew_point_f,
            )
            for r in drying_rows(claim)
        ],
        photo_count=claim.photo_count,
        scope_item_count=claim.scope_item_count,
        import_error=claim.import_error,
        estimated_ready_at=claim.estimated_ready_at,
        extracted_at=claim.extracted_at,
        reviewed_at=claim.reviewed_at,
        created_at=claim.created_at,
        updated_at=claim.updated_at,
        summary_pdf_url=intake.summary_link(signer, public_url, claim.id, "pdf", now),
        summary_txt_url=intake.summary_link(signer, public_url, claim.id, "txt", now),
    )
