"""Prospects: create, read, list, update, qualify, enroll. No HTTP here.

Every change writes one audit entry in the caller's transaction. A prospect
is unique per organization by contact email, and by company (its folded
name) within a postal code; a duplicate is a 409 naming the prospect it
duplicates.
"""

from __future__ import annotations

import uuid
from typing import Any

from eal import events, jobs
from eal.db.tx import Tx
from eal.errors import Conflict, NotFound, field_error
from eal.events import Action
from eal.kit.ids import parse_public_id, public_id
from eal.kit.paging import Page, PageQuery, paginate
from eal.outreach import sequences
from eal.outreach.schemas import ENROLLMENT_PREFIX, SEQUENCE_PREFIX
from eal.prospects import qualify, repository
from eal.prospects.schemas import (
    BATCH_PREFIX,
    BatchItem,
    BatchOut,
    BatchQueued,
    EnrolledOut,
    EnrollProspect,
    OutreachStatus,
    ProspectCreate,
    ProspectListItem,
    ProspectOut,
    ProspectUpdate,
    QualificationOut,
    QualificationStatus,
)
from eal.runtime import Runtime

QUALIFY_BATCH_TASK = "prospects.qualify_batch"


class QualifyBatch(jobs.NoPayload):
    """The payload of `prospects.qualify_batch`."""

    batch_id: uuid.UUID


def duplicate_conflict(existing: Any, rule: str) -> Conflict:
    """The 409 of a duplicate, naming the prospect it duplicates."""
    what = "contact email" if rule == "contact_email" else "company in this postal code"
    return Conflict(
        f"A prospect with this {what} exists: {existing.company_name} ({existing.id}).",
        details={
            "field": rule,
            "existing_prospect_id": str(existing.id),
            "existing_company_name": existing.company_name,
        },
    )


async def _check_unique(
    tx: Tx,
    *,
    email: str | None,
    company_name: str,
    postal_code: str | None,
    exclude: uuid.UUID | None = None,
) -> None:
    found = await repository.find_duplicate(
        tx.conn,
        tx.actor.organization_id,
        email=email,
        key=repository.company_key(company_name),
        postal_code=postal_code,
        exclude=exclude,
    )
    if found is not None:
        raise duplicate_conflict(*found)


def new_values(tx: Tx, body: ProspectCreate) -> dict[str, Any]:
    """Every column of a new prospect made from `body`."""
    now = tx.now()
    values = body.model_dump()
    values["vertical"] = body.vertical.value if body.vertical else None
    values.update(
        id=uuid.uuid4(),
        organization_id=tx.actor.organization_id,
        company_key=repository.company_key(body.company_name),
        created_at=now,
        updated_at=now,
    )
    return values


def _audit_fields(row: Any) -> dict[str, Any]:
    return {"prospect_id": str(row.id), "vertical": row.vertical}


async def create_prospect(tx: Tx, body: ProspectCreate) -> ProspectOut:
    """Insert a prospect (pending, no outreach) and record `prospect.created`."""
    await _check_unique(
        tx, email=body.contact_email, company_name=body.company_name, postal_code=body.postal_code
    )
    row = await repository.insert(tx.conn, new_values(tx, body))
    prospect = repository.prospect_of(row)
    await events.record(
        tx, Action.PROSPECT_CREATED, _audit_fields(row), data=prospect.model_dump(mode="json")
    )
    return prospect


async def _row(tx: Tx, prospect_id: uuid.UUID, *, lock: bool = False) -> Any:
    row = await repository.get(tx.conn, tx.actor.organization_id, prospect_id, lock=lock)
    if row is None:
        raise NotFound(f"Prospect {prospect_id} not found.")
    return row


async def get_prospect(tx: Tx, prospect_id: uuid.UUID) -> ProspectOut:
    """One prospect of the organization (another tenant's id is a 404)."""
    return repository.prospect_of(await _row(tx, prospect_id))


async def list_prospects(
    tx: Tx,
    page: PageQuery,
    *,
    qualification_status: str | None = None,
    vertical: str | None = None,
    outreach_status: str | None = None,
) -> Page[ProspectListItem]:
    """The organization's prospects, newest first, filtered."""
    rows = await repository.page(
        tx.conn,
        tx.actor.organization_id,
        page,
        qualification_status=qualification_status,
        vertical=vertical,
        outreach_status=outreach_status,
    )
    return paginate(rows, page, repository.list_item_of)


async def update_prospect(tx: Tx, prospect_id: uuid.UUID, body: ProspectUpdate) -> ProspectOut:
    """Change the fields sent; every real change is audited as `prospect.updated`."""
    row = await _row(tx, prospect_id, lock=True)
    wanted = body.changes()
    changes = events.diff({k: getattr(row, k) for k in wanted}, wanted)
    if not changes:
        return repository.prospect_of(row)
    # Only a changed email, or a changed company or postal code, can make a new duplicate.
    company_moved = bool({"company_name", "postal_code"} & changes.keys())
    if "contact_email" in changes or company_moved:
        await _check_unique(
            tx,
            email=wanted.get("contact_email") if "contact_email" in changes else None,
            company_name=wanted.get("company_name", row.company_name),
            postal_code=wanted.get("postal_code", row.postal_code) if company_moved else None,
            exclude=row.id,
        )
    values = {k: wanted[k] for k in changes}
    if "company_name" in values:
        values["company_key"] = repository.company_key(values["company_name"])
    updated = await repository.update(
        tx.conn, tx.actor.organization_id, row.id, **values, updated_at=tx.now()
    )
    prospect = repository.prospect_of(updated)
    await events.record(
        tx,
        Action.PROSPECT_UPDATED,
        {"prospect_id": str(row.id), "fields": sorted(changes)},
        data=prospect.model_dump(mode="json"),
    )
    return prospect


async def qualify_now(tx: Tx, runtime: Runtime, prospect_id: uuid.UUID) -> QualificationOut:
    """Qualify one prospect now (embedded, phrased by the LLM when one is configured).

    An id the organization has no prospect for is a 422 naming `prospect_id` (a body
    field, as outreach's `lead_id` is).
    """
    row = await repository.get(tx.conn, tx.actor.organization_id, prospect_id, lock=True)
    if row is None:
        raise field_error("prospect_id", "no such prospect in this organization")
    assessment = await qualify.phrase(runtime, await qualify.assess(tx, row))
    return await qualify.store(tx, assessment)


async def queue_batch(tx: Tx, prospect_ids: list[uuid.UUID]) -> BatchQueued:
    """Store a batch of up to 500 prospects to qualify, and defer its job."""
    batch_id = uuid.uuid4()
    wanted = list(dict.fromkeys(prospect_ids))
    await repository.insert_batch(
        tx.conn,
        batch_id=batch_id,
        organization_id=tx.actor.organization_id,
        prospect_ids=wanted,
        now=tx.now(),
    )
    await jobs.defer(
        tx, QUALIFY_BATCH_TASK, QualifyBatch(batch_id=batch_id), dedupe_key=str(batch_id)
    )
    public = public_id(BATCH_PREFIX, batch_id)
    await events.record(
        tx, Action.PROSPECT_QUALIFY_BATCH_QUEUED, {"batch_id": public, "prospects": len(wanted)}
    )
    return BatchQueued(batch_id=public)


async def get_batch(tx: Tx, batch_id: str) -> BatchOut:
    """A batch's progress and the verdict (or the failure) of each prospect done so far."""
    parsed = parse_public_id(BATCH_PREFIX, batch_id)
    row = (
        await repository.get_batch(tx.conn, tx.actor.organization_id, parsed)
        if parsed is not None
        else None
    )
    if row is None:
        raise NotFound(f"Qualification batch {batch_id} not found.")
    items = []
    for prospect_id in row.prospect_ids:
        stored = row.results.get(str(prospect_id))
        if stored is None:
            items.append(BatchItem(prospect_id=prospect_id, status="pending"))
            continue
        result = stored.get("result")
        items.append(
            BatchItem(
                prospect_id=prospect_id,
                status=stored["status"],
                result=QualificationOut.model_validate(result) if result else None,
                error=stored.get("error"),
            )
        )
    return BatchOut(
        batch_id=batch_id,
        status=row.status,
        total=len(row.prospect_ids),
        done=sum(item.status != "pending" for item in items),
        results=items,
        created_at=row.created_at,
        finished_at=row.finished_at,
    )


#: The enrollment results that are not an enrollment, and what they mean to a client.
_NOT_ENROLLED = {
    "missing_address": "the prospect has no contact address for this sequence's channel",
    "suppressed": "the prospect's address is suppressed (opted out or bounced)",
    "already_in_sequence": "the prospect runs in another sequence (send force: true to add it)",
    "not_found": "the prospect was not found",
}


async def enroll(tx: Tx, prospect_id: uuid.UUID, body: EnrollProspect) -> tuple[EnrolledOut, bool]:
    """Enroll a qualified prospect in an outreach sequence; (result, created)."""
    row = await _row(tx, prospect_id, lock=True)
    if row.qualification_status != QualificationStatus.QUALIFIED:
        raise Conflict(
            f"Prospect {prospect_id} is {row.qualification_status}: only qualified prospects "
            "can be enrolled (POST /api/v1/prospects/qualify first).",
            details={"qualification_status": row.qualification_status},
        )
    contact = sequences.Contact(email=row.contact_email, phone=row.contact_phone)
    [(_, result, enrollment_id)] = await sequences.enroll_prospects(
        tx, body.sequence_id, {row.id: contact}, force=body.force
    )
    if result in _NOT_ENROLLED:
        raise Conflict(
            f"Prospect {prospect_id} was not enrolled: {_NOT_ENROLLED[result]}.",
            details={"result": result},
        )
    if enrollment_id is None:  # already enrolled: show the enrollment it has
        enrollment_id = await _enrollment_of(tx, row.id, body.sequence_id)
    after = await _row(tx, prospect_id)
    created = result == "enrolled"
    if created:
        await events.record(
            tx,
            Action.PROSPECT_ENROLLED,
            {"prospect_id": str(row.id), "sequence_id": body.sequence_id},
        )
    return (
        EnrolledOut(
            prospect_id=row.id,
            sequence_id=body.sequence_id,
            enrollment_id=enrollment_id,
            result=result,
            outreach_status=OutreachStatus(after.outreach_status),
        ),
        created,
    )


async def _enrollment_of(tx: Tx, prospect_id: uuid.UUID, sequence_id: str) -> str:
    parsed = parse_public_id(SEQUENCE_PREFIX, sequence_id)
    found = (
        await repository.enrollment_id(tx.conn, tx.actor.organization_id, prospect_id, parsed)
        if parsed is not None
        else None
    )
    if found is None:
        raise NotFound(f"Sequence {sequence_id} not found.")
    return public_id(ENROLLMENT_PREFIX, found)
