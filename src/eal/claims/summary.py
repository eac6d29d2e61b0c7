"""The claim's summary: its rows mapped onto the report's view model, rendered as PDF or text."""

from __future__ import annotations

import uuid
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from eal.claims import repository
from eal.claims.extraction import drying_rows
from eal.claims.report import (
    ClaimReport,
    ReportDryingRow,
    ReportLine,
    ReportPhoto,
    ReportRoom,
    render_pdf,
    render_text,
)
from eal.claims.schemas import CLAIM_PREFIX, PHOTO_PREFIX, SCOPE_PREFIX
from eal.db.tx import Tx
from eal.errors import NotFound
from eal.kit.ids import public_id
from eal.organizations import repository as organizations
from eal.storage import Storage, StorageNotFound

__all__ = ["build", "organization_zone", "render_pdf", "render_text"]


async def organization_zone(tx: Tx) -> ZoneInfo:
    """The organization's time zone (EXIF times without an offset are read in it)."""
    settings = await organizations.settings_of(tx.conn, tx.actor.organization_id)
    try:
        return ZoneInfo(settings.get("timezone") or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _line(row: Any) -> ReportLine:
    edited = row.decision == "edit"
    return ReportLine(
        id=public_id(SCOPE_PREFIX, row.id),
        code=row.code,
        description=row.description,
        qty=row.decided_qty if edited else row.qty,
        unit=row.unit,
        confidence=row.confidence,
        needs_measurement=row.needs_measurement,
        decision=row.decision,
        original_qty=row.qty if edited else None,
        note=row.decision_note or row.note,
        reason=row.decision_reason,
        units=row.units,
        days=row.days,
        estimated=row.estimated,
        evidence=tuple(row.evidence),
    )


async def _photo(storage: Storage, row: Any, with_thumbnail: bool) -> ReportPhoto:
    thumbnail = None
    if with_thumbnail:
        try:
            thumbnail = await storage.get(row.thumbnail_key)
        except StorageNotFound:
            thumbnail = None
    return ReportPhoto(
        id=public_id(PHOTO_PREFIX, row.id),
        captured_at=row.captured_at,
        tags=tuple(row.tags),
        description=row.description,
        thumbnail=thumbnail,
        duplicate=row.duplicate_of is not None or row.near_duplicate_of is not None,
    )


async def build(
    tx: Tx, storage: Storage, claim_id: uuid.UUID, *, with_thumbnails: bool
) -> ClaimReport:
    """Everything the summary shows about one claim of the transaction's tenant."""
    org = tx.actor.organization_id
    claim = await repository.get(tx.conn, org, claim_id)
    if claim is None:
        raise NotFound(f"Claim {public_id(CLAIM_PREFIX, claim_id)} not found.")
    organization = await organizations.get(tx.conn, org)
    items = await repository.items(tx.conn, org, claim_id)
    photos = await repository.photos(tx.conn, org, claim_id)
    derived = (claim.extraction or {}).get("rooms") or {}
    by_room: dict[str | None, list[ReportPhoto]] = {}
    for row in photos:
        by_room.setdefault(row.room, []).append(await _photo(storage, row, with_thumbnails))
    lines: dict[str, list[ReportLine]] = {}
    for row in items:
        lines.setdefault(row.room, []).append(_line(row))
    rooms = []
    names = [room["name"] for room in claim.rooms]
    for room in claim.rooms:
        dims = room.get("dimensions") or {}
        facts = derived.get(room["name"]) or {}
        rooms.append(
            ReportRoom(
                name=room["name"],
                length_ft=dims.get("length_ft"),
                width_ft=dims.get("width_ft"),
                height_ft=dims.get("height_ft"),
                walls_ft=tuple(dims["walls_ft"]) if dims.get("walls_ft") else None,
                floor_sf=facts.get("floor_sf"),
                perimeter_lf=facts.get("perimeter_lf"),
                floor_material=room.get("floor_material"),
                wall_material=room.get("wall_material"),
                lines=tuple(lines.pop(room["name"], [])),
                photos=tuple(by_room.pop(room["name"], [])),
            )
        )
    for name, extra in lines.items():
        rooms.append(
            ReportRoom(
                name=name,
                length_ft=None,
                width_ft=None,
                height_ft=None,
                walls_ft=None,
                floor_sf=None,
                perimeter_lf=None,
                floor_material=None,
                wall_material=None,
                lines=tuple(extra),
                photos=tuple(by_room.pop(name, [])),
            )
        )
    unassigned = [photo for room, group in by_room.items() if room not in names for photo in group]
    return ClaimReport(
        id=public_id(CLAIM_PREFIX, claim.id),
        organization_name=organization.name if organization is not None else "",
        loss_type=claim.loss_type,
        status=claim.status,
        job_external_ref=claim.job_external_ref,
        date_of_loss=claim.date_of_loss,
        address=claim.address,
        water_category=claim.water_category,
        water_class=claim.water_class,
        created_at=claim.created_at,
        reviewed_at=claim.reviewed_at,
        generated_at=tx.now(),
        rooms=tuple(rooms),
        unassigned_photos=tuple(unassigned),
        drying_log=tuple(
            ReportDryingRow(
                taken_at=row.taken_at,
                room=row.room,
                temp_f=row.temp_f,
                rh_pct=row.rh_pct,
                gpp=row.gpp,
            )
            for row in drying_rows(claim)
        ),
        photo_count=claim.photo_count,
    )
