"""Claims: create, read, list, rooms, drying log, review, lines added by hand. No HTTP here.

Every change writes an audit entry in the caller's transaction. Photo intake
is in `intake`, extraction (the scope calculator's run) in `extraction`.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from eal import events, jobs
from eal.claims import repository
from eal.claims.responses import ClaimListItem, ClaimQueued, ClaimReviewOut
from eal.claims.schemas import (
    CLAIM_PREFIX,
    OUTSIDE,
    PHOTO_PREFIX,
    SCOPE_PREFIX,
    WATER_LOSSES,
    ClaimCreate,
    ClaimReviewRequest,
    ClaimStatus,
    DecisionIn,
    DecisionKind,
    DryingLogIn,
    ItemCreate,
    RoomsIn,
    dump_rooms,
    room_photo_ids,
)
from eal.db.tx import Tx
from eal.errors import Conflict, NotFound, ValidationFailed, field_error
from eal.events import Action
from eal.kit.ids import parse_public_id, public_id
from eal.kit.paging import Page, PageQuery, paginate

IMPORT_TASK = "claims.import_photos"
EXTRACT_TASK = "claims.extract"
#: What a client is told to expect: an import and an extraction of a typical job.
IMPORT_ESTIMATE = timedelta(minutes=2)
EXTRACT_ESTIMATE = timedelta(seconds=30)


class ClaimJob(jobs.NoPayload):
    """The payload of the claims tasks."""

    claim_id: uuid.UUID


def claim_id_of(text: str) -> uuid.UUID:
    """The UUID of `clm_<hex>`; a 404 when it is not a claim id."""
    value = parse_public_id(CLAIM_PREFIX, text)
    if value is None:
        raise NotFound(f"Claim {text} not found.")
    return value


async def claim_row(tx: Tx, claim_id: uuid.UUID, *, lock: bool = False) -> Any:
    """The claim, or a 404 (another tenant's id included)."""
    row = await repository.get(tx.conn, tx.actor.organization_id, claim_id, lock=lock)
    if row is None:
        raise NotFound(f"Claim {public_id(CLAIM_PREFIX, claim_id)} not found.")
    return row


def list_item_of(row: Any) -> ClaimListItem:
    """A claims row as a list shows it."""
    return ClaimListItem(
        id=public_id(CLAIM_PREFIX, row.id),
        job_external_ref=row.job_external_ref,
        loss_type=row.loss_type,
        status=row.status,
        scope_item_count=row.scope_item_count,
        photo_count=row.photo_count,
        created_at=row.created_at,
    )


def queued_of(row: Any) -> ClaimQueued:
    """The answer of a request that queued work on the claim."""
    return ClaimQueued(
        id=public_id(CLAIM_PREFIX, row.id),
        status=row.status,
        estimated_ready_at=row.estimated_ready_at,
        created_at=row.created_at,
    )


def _audit(row: Any, **more: Any) -> dict[str, Any]:
    return {"claim_id": public_id(CLAIM_PREFIX, row.id), "loss_type": row.loss_type, **more}


async def queue_extraction(tx: Tx, row: Any) -> Any:
    """Set the claim extracting and defer its extraction (one queued per claim at a time)."""
    updated = await repository.update(
        tx.conn,
        tx.actor.organization_id,
        row.id,
        status=ClaimStatus.EXTRACTING.value,
        estimated_ready_at=tx.now() + EXTRACT_ESTIMATE,
        updated_at=tx.now(),
    )
    await jobs.defer(tx, EXTRACT_TASK, ClaimJob(claim_id=row.id), dedupe_key=str(row.id))
    return updated


async def queue_import(tx: Tx, row: Any) -> Any:
    """Set the claim extracting and defer the import of its CompanyCam photos."""
    updated = await repository.update(
        tx.conn,
        tx.actor.organization_id,
        row.id,
        status=ClaimStatus.EXTRACTING.value,
        estimated_ready_at=tx.now() + IMPORT_ESTIMATE + EXTRACT_ESTIMATE,
        import_error=None,
        updated_at=tx.now(),
    )
    await jobs.defer(tx, IMPORT_TASK, ClaimJob(claim_id=row.id), dedupe_key=str(row.id))
    return updated


async def create_claim(tx: Tx, body: ClaimCreate) -> ClaimQueued:
    """Store a claim; a CompanyCam claim's import is queued, any other starts collecting."""
    now = tx.now()
    companycam = body.source is not None and body.source.vendor == "companycam"
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "organization_id": tx.actor.organization_id,
        "loss_type": body.loss_type.value,
        "status": ClaimStatus.COLLECTING.value,
        "source_vendor": "companycam" if companycam else "upload",
        "source_project_id": body.source.project_id if body.source is not None else None,
        "job_external_ref": body.job_external_ref,
        "water_category": body.water_category,
        "water_class": body.water_class,
        "date_of_loss": body.date_of_loss,
        "address": body.address,
        "loss_lat": body.location.lat if body.location else None,
        "loss_lon": body.location.lon if body.location else None,
        "rooms": dump_rooms(body.rooms or []),
        "created_at": now,
        "updated_at": now,
    }
    if body.rooms:
        await _check_photo_ids(tx, values["id"], room_photo_ids(body.rooms))
    row = await repository.insert(tx.conn, values)
    await events.record(
        tx,
        Action.CLAIM_CREATED,
        _audit(row, source=row.source_vendor, job_external_ref=row.job_external_ref),
    )
    if companycam:
        row = await queue_import(tx, row)
    return queued_of(row)


async def list_claims(
    tx: Tx, page: PageQuery, *, status: str | None = None, loss_type: str | None = None
) -> Page[ClaimListItem]:
    """The organization's claims, newest first, filtered."""
    rows = await repository.page(
        tx.conn, tx.actor.organization_id, page, status=status, loss_type=loss_type
    )
    return paginate(rows, page, list_item_of)


async def _check_photo_ids(tx: Tx, claim_id: uuid.UUID, wanted: list[tuple[str, str]]) -> None:
    """Every (field, photo id) names a photo of this claim; else a 422 naming the field."""
    if not wanted:
        return
    known = {row.id for row in await repository.photos(tx.conn, tx.actor.organization_id, claim_id)}
    for field, text in wanted:
        value = parse_public_id(PHOTO_PREFIX, text)
        if value is None or value not in known:
            raise field_error(field, f"no photo {text} in this claim")


async def replace_rooms(tx: Tx, claim_id: uuid.UUID, body: RoomsIn) -> Any:
    """Replace the rooms; extraction runs again unless the claim is still collecting."""
    row = await claim_row(tx, claim_id, lock=True)
    await _check_photo_ids(tx, row.id, room_photo_ids(body.rooms))
    rooms = dump_rooms(body.rooms)
    names = {room["name"].casefold() for room in rooms}
    row = await repository.update(
        tx.conn, tx.actor.organization_id, row.id, rooms=rooms, updated_at=tx.now()
    )
    from eal.claims import intake

    await intake.assign_rooms(tx, row)
    await events.record(tx, Action.CLAIM_ROOMS_UPDATED, _audit(row, rooms=len(names)))
    if row.status != ClaimStatus.COLLECTING.value:
        row = await queue_extraction(tx, row)
    return row


async def replace_drying_log(tx: Tx, claim_id: uuid.UUID, body: DryingLogIn) -> Any:
    """Replace the drying log (each entry names a room of the claim, or `outside`)."""
    row = await claim_row(tx, claim_id, lock=True)
    rooms = {room["name"].casefold(): room["name"] for room in row.rooms}
    entries = []
    for index, entry in enumerate(body.entries):
        key = entry.room.casefold()
        if key != OUTSIDE and key not in rooms:
            raise field_error(
                f"entries.{index}.room",
                f"no room {entry.room!r} in this claim (rooms: "
                f"{', '.join(sorted(rooms.values())) or 'none yet'}; or {OUTSIDE!r})",
            )
        dumped = entry.model_dump(mode="json")
        dumped["room"] = OUTSIDE if key == OUTSIDE else rooms[key]
        entries.append(dumped)
    entries.sort(key=lambda e: (e["taken_at"], e["room"]))
    row = await repository.update(
        tx.conn, tx.actor.organization_id, row.id, drying_log=entries, updated_at=tx.now()
    )
    await events.record(tx, Action.CLAIM_DRYING_LOG_UPDATED, _audit(row, entries=len(entries)))
    if row.status != ClaimStatus.COLLECTING.value:
        row = await queue_extraction(tx, row)
    return row


async def request_extraction(tx: Tx, claim_id: uuid.UUID) -> ClaimQueued:
    """Run extraction (again) now."""
    row = await claim_row(tx, claim_id, lock=True)
    return queued_of(await queue_extraction(tx, row))


async def request_import(tx: Tx, claim_id: uuid.UUID) -> ClaimQueued:
    """Import the CompanyCam project's new photos again (then extract)."""
    row = await claim_row(tx, claim_id, lock=True)
    if row.source_vendor != "companycam":
        raise Conflict(
            "This claim has no CompanyCam source: its photos are uploaded.",
            details={"source": row.source_vendor},
        )
    return queued_of(await queue_import(tx, row))


# -- review --------------------------------------------------------------------


def status_of(total: int, decided: int) -> ClaimStatus:
    """The review status of a claim with `total` lines of which `decided` are decided."""
    if total and decided == total:
        return ClaimStatus.REVIEWED
    if decided:
        return ClaimStatus.PARTIALLY_REVIEWED
    return ClaimStatus.READY_FOR_REVIEW


async def settle_status(tx: Tx, row: Any) -> Any:
    """Set the claim's review status (and reviewed_at) from its lines' decisions."""
    total, decided = await repository.decision_counts(tx.conn, row.id)
    status = status_of(total, decided)
    reviewed_at = row.reviewed_at if status is ClaimStatus.REVIEWED else None
    if status is ClaimStatus.REVIEWED and (reviewed_at is None or row.status != status.value):
        reviewed_at = tx.now()
    return await repository.update(
        tx.conn,
        tx.actor.organization_id,
        row.id,
        status=status.value,
        reviewed_at=reviewed_at,
        scope_item_count=total,
        updated_at=tx.now(),
    )


def _decision_values(decision: DecisionIn, item: Any) -> dict[str, Any]:
    kind = decision.decision
    return {
        "decision": kind.value,
        "decided_qty": decision.qty if kind is DecisionKind.EDIT else None,
        "decision_note": decision.note,
        "decision_reason": decision.reason,
    }


async def review(tx: Tx, claim_id: uuid.UUID, body: ClaimReviewRequest) -> ClaimReviewOut:
    """Record every decision of the batch, or none of them (an unknown line is a 422)."""
    row = await claim_row(tx, claim_id, lock=True)
    if row.status in (ClaimStatus.COLLECTING.value, ClaimStatus.EXTRACTING.value):
        raise Conflict(
            f"This claim is {row.status}: its scope is not ready for review yet.",
            details={"status": row.status},
        )
    if row.status == ClaimStatus.REVIEWED.value and not body.reopen:
        raise Conflict(
            'This claim is reviewed; send "reopen": true to change its decisions.',
            details={"status": row.status},
        )
    lines = {
        r.id: r for r in await repository.items(tx.conn, row.organization_id, row.id, lock=True)
    }
    problems = []
    chosen: list[tuple[DecisionIn, Any]] = []
    seen: set[uuid.UUID] = set()
    for index, decision in enumerate(body.decisions):
        field = f"decisions.{index}.scope_item_id"
        item_id = parse_public_id(SCOPE_PREFIX, decision.scope_item_id)
        if item_id is None or item_id not in lines:
            problems.append(
                {"field": field, "message": f"no scope item {decision.scope_item_id} in this claim"}
            )
        elif item_id in seen:
            problems.append(
                {
                    "field": field,
                    "message": f"{decision.scope_item_id} is decided twice in this batch",
                }
            )
        else:
            seen.add(item_id)
            chosen.append((decision, lines[item_id]))
    if problems:
        first = problems[0]
        raise ValidationFailed(
            f"{first['field']}: {first['message']}", details={"fields": problems}
        )
    now = tx.now()
    if row.status == ClaimStatus.REVIEWED.value:
        await events.record(tx, Action.CLAIM_REOPENED, _audit(row))
    for decision, item in chosen:
        values = _decision_values(decision, item)
        await repository.update_item(
            tx.conn, item.id, **values, **repository.decided_now(now, tx.actor.key_id)
        )
        await events.record(
            tx,
            Action.CLAIM_ITEM_REVIEWED,
            _audit(
                row,
                scope_item_id=public_id(SCOPE_PREFIX, item.id),
                code=item.code,
                room=item.room,
                decision=decision.decision.value,
                qty=item.qty,
                edited_qty=decision.qty,
                note=decision.note,
                reason=decision.reason,
                previous_decision=item.decision,
            ),
        )
    row = await settle_status(tx, row)
    if row.status == ClaimStatus.REVIEWED.value:
        await events.record(
            tx, Action.CLAIM_REVIEWED, _audit(row, scope_item_count=row.scope_item_count)
        )
    return ClaimReviewOut(
        id=public_id(CLAIM_PREFIX, row.id),
        status=row.status,
        decisions_recorded=len(chosen),
        reviewed_at=row.reviewed_at,
    )


async def add_item(tx: Tx, claim_id: uuid.UUID, body: ItemCreate) -> uuid.UUID:
    """Add a line by hand to one of the claim's rooms; the claim needs review again."""
    row = await claim_row(tx, claim_id, lock=True)
    if row.status in (ClaimStatus.COLLECTING.value, ClaimStatus.EXTRACTING.value):
        raise Conflict(
            f"This claim is {row.status}: add lines once its scope is ready for review.",
            details={"status": row.status},
        )
    rooms = {room["name"].casefold(): room["name"] for room in row.rooms}
    room = rooms.get(body.room.casefold())
    if room is None:
        raise field_error("room", f"no room {body.room!r} in this claim")
    now = tx.now()
    item_id = uuid.uuid4()
    await repository.insert_items(
        tx.conn,
        [
            {
                "id": item_id,
                "organization_id": row.organization_id,
                "claim_id": row.id,
                "line_key": f"manual:{item_id.hex}",
                "origin": "manual",
                "position": await repository.next_position(tx.conn, row.id),
                "room": room,
                "code": body.code,
                "catalog_code": None,
                "description": body.description,
                "qty": body.qty,
                "unit": body.unit.value,
                "confidence": 1.0,
                "needs_measurement": False,
                "evidence": ["added by a reviewer"] + ([body.note] if body.note else []),
                "note": body.note,
                "created_at": now,
                "updated_at": now,
            }
        ],
    )
    row = await settle_status(tx, row)
    await events.record(
        tx,
        Action.CLAIM_ITEM_ADDED,
        _audit(
            row,
            scope_item_id=public_id(SCOPE_PREFIX, item_id),
            room=room,
            code=body.code,
            qty=body.qty,
            unit=body.unit.value,
        ),
    )
    return item_id


def water_details(row: Any) -> tuple[int | None, int | None]:
    """The category and class that apply to the claim's loss."""
    if row.loss_type not in WATER_LOSSES:
        return None, None
    return row.water_category, row.water_class
