"""Extraction: the claim's rooms, readings, drying log and photos through the S500 calculator.

The calculator (`claims.scope`) is pure; this module maps stored claims onto
its inputs and its lines back onto `claim_scope_items`. A line keeps its id
and its review decision across runs while its quantity and unit stay the
same (it is found again by its key, room + catalog code); a line whose
quantity changed is undecided again, a line the inputs no longer produce is
dropped, and lines added by hand are never touched.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eal import events
from eal.claims import repository, service
from eal.claims.schemas import CLAIM_PREFIX, PHOTO_PREFIX, SCOPE_PREFIX
from eal.claims.scope import (
    DryingEntry,
    DryingRow,
    Loss,
    PhotoFact,
    PhotoSummary,
    Reading,
    Room,
    Scope,
    calculate_scope,
    load_factors,
)
from eal.claims.scope import drying_rows as computed_rows
from eal.db.tx import Tx
from eal.events import Action
from eal.kit.clock import isoformat
from eal.kit.ids import public_id


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))


def room_input(room: dict[str, Any]) -> Room:
    """A stored room as the calculator takes it."""
    dims = room.get("dimensions") or {}
    affected = room.get("affected") or {}
    walls = dims.get("walls_ft")
    return Room(
        name=room["name"],
        length_ft=dims.get("length_ft"),
        width_ft=dims.get("width_ft"),
        height_ft=dims.get("height_ft"),
        walls_ft=tuple(walls) if walls else None,
        floor_material=room.get("floor_material"),
        wall_material=room.get("wall_material"),
        walls_insulated=bool(room.get("walls_insulated")),
        wet_floor_sf=affected.get("wet_floor_sf"),
        wet_wall_height_in=affected.get("wet_wall_height_in"),
        wet_wall_lf=affected.get("wet_wall_lf"),
        wet_ceiling_sf=affected.get("wet_ceiling_sf"),
        insets_offsets=int(affected.get("insets_offsets") or 0),
        readings=tuple(
            Reading(
                surface=r["surface"],
                location=r.get("location"),
                reading=float(r["reading"]),
                meter_scale=r.get("meter_scale"),
                dry_standard=r.get("dry_standard"),
                taken_at=_time(r.get("taken_at")),
            )
            for r in room.get("readings") or ()
        ),
    )


def drying_entries(stored: list[dict[str, Any]], default: datetime) -> tuple[DryingEntry, ...]:
    """The stored drying log as the calculator takes it."""
    return tuple(
        DryingEntry(
            taken_at=_time(e["taken_at"]) or default,
            room=e["room"],
            temp_f=float(e["temp_f"]),
            rh_pct=float(e["rh_pct"]),
        )
        for e in stored
    )


def drying_rows(claim: Any) -> tuple[DryingRow, ...]:
    """The claim's drying log with grains per pound and dew points (computed on read)."""
    return computed_rows(drying_entries(claim.drying_log, claim.created_at))


def loss_of(claim: Any, photos: list[Any]) -> Loss:
    """Everything the calculator needs about one claim."""
    category, water_class = service.water_details(claim)
    return Loss(
        loss_type=claim.loss_type,
        water_category=category,
        water_class=water_class,
        rooms=tuple(room_input(room) for room in claim.rooms),
        drying_log=drying_entries(claim.drying_log, claim.created_at),
        photos=tuple(
            PhotoFact(
                id=public_id(PHOTO_PREFIX, p.id),
                room=p.room,
                tags=tuple(p.tags),
                description=p.description,
                captured_at=p.captured_at,
                counted=p.duplicate_of is None and p.near_duplicate_of is None,
            )
            for p in photos
        ),
    )


def claim_settings(settings: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The organization's factor overrides and price-list code map."""
    claims = settings.get("claims") or {}
    return dict(claims.get("factors") or {}), dict(claims.get("code_map") or {})


def compute(claim: Any, photos: list[Any], settings: dict[str, Any]) -> Scope:
    """The claim's scope under the organization's factors."""
    overrides, code_map = claim_settings(settings)
    factors = load_factors()
    if overrides:
        factors = factors.with_overrides(overrides)
    return calculate_scope(loss_of(claim, photos), factors=factors, code_map=code_map)


def summary_json(summary: PhotoSummary | None) -> dict[str, Any] | None:
    """A photo summary as stored (and shown)."""
    if summary is None:
        return None
    return {
        "count": summary.count,
        "first_captured_at": isoformat(summary.first_captured_at)
        if summary.first_captured_at
        else None,
        "last_captured_at": isoformat(summary.last_captured_at)
        if summary.last_captured_at
        else None,
        "tags": dict(summary.tags),
        "notable_tags": list(summary.notable_tags),
        "photo_ids": list(summary.photo_ids),
    }


def extraction_json(scope: Scope) -> dict[str, Any]:
    """What a run derived besides its lines: geometry and photo summaries."""
    return {
        "factors_version": scope.factors_version,
        "rooms": {
            room.name: {
                "floor_sf": room.floor_sf,
                "wall_sf": room.wall_sf,
                "perimeter_lf": room.perimeter_lf,
                "cubic_ft": room.cubic_ft,
                "photo_summary": summary_json(room.photos),
            }
            for room in scope.rooms
        },
        "unassigned_photo_summary": summary_json(scope.unassigned_photos),
    }


async def store(tx: Tx, claim: Any, scope: Scope) -> Any:
    """Reconcile the claim's lines with a run's, store what it derived, settle the status."""
    now = tx.now()
    existing = {
        r.line_key: r
        for r in await repository.items(tx.conn, claim.organization_id, claim.id, lock=True)
    }
    position = 0
    new_rows: list[dict[str, Any]] = []
    produced: set[str] = set()
    for room in scope.rooms:
        for line in room.lines:
            produced.add(line.key)
            values = {
                "position": position,
                "room": line.room,
                "code": line.code,
                "catalog_code": line.catalog_code,
                "description": line.description,
                "qty": line.qty,
                "unit": line.unit,
                "confidence": line.confidence,
                "needs_measurement": line.needs_measurement,
                "evidence": list(line.evidence),
                "units": line.units,
                "days": line.days,
                "estimated": line.estimated,
                "updated_at": now,
            }
            position += 1
            before = existing.get(line.key)
            if before is None:
                new_rows.append(
                    {
                        **values,
                        "organization_id": claim.organization_id,
                        "claim_id": claim.id,
                        "line_key": line.key,
                        "origin": "extracted",
                        "created_at": now,
                    }
                )
                continue
            if before.qty != line.qty or before.unit != line.unit:
                # The quantity the reviewer decided on is not this one any more.
                values.update(
                    decision=None,
                    decided_qty=None,
                    decision_note=None,
                    decision_reason=None,
                    decided_at=None,
                    decided_by=None,
                )
            await repository.update_item(tx.conn, before.id, **values)
    # Lines added by hand keep their order after the extracted ones.
    for offset, row in enumerate(
        sorted((r for r in existing.values() if r.origin == "manual"), key=lambda r: r.position)
    ):
        if row.position != position + offset:
            await repository.update_item(tx.conn, row.id, position=position + offset)
    stale = [r.id for key, r in existing.items() if r.origin == "extracted" and key not in produced]
    await repository.delete_items(tx.conn, stale)
    await repository.insert_items(tx.conn, new_rows)
    claim = await repository.update(
        tx.conn,
        claim.organization_id,
        claim.id,
        extraction=extraction_json(scope),
        extracted_at=now,
        estimated_ready_at=None,
        updated_at=now,
    )
    claim = await service.settle_status(tx, claim)
    await events.record(
        tx,
        Action.CLAIM_SCOPE_READY,
        {
            "claim_id": public_id(CLAIM_PREFIX, claim.id),
            "scope_item_count": claim.scope_item_count,
            "photo_count": claim.photo_count,
            "factors_version": scope.factors_version,
        },
        data={
            "id": public_id(CLAIM_PREFIX, claim.id),
            "job_external_ref": claim.job_external_ref,
            "loss_type": claim.loss_type,
            "status": claim.status,
            "scope_item_count": claim.scope_item_count,
            "photo_count": claim.photo_count,
            "needs_measurement": sum(
                1 for room in scope.rooms for line in room.lines if line.needs_measurement
            ),
            "scope_item_ids": [
                public_id(SCOPE_PREFIX, r.id)
                for r in await repository.items(tx.conn, claim.organization_id, claim.id)
            ],
        },
    )
    return claim
