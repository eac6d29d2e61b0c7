"""Sequences: their steps and sending window, and enrollments.

The steps themselves are sent by sequence runs (`runs.py`): enrolling starts
one, and the minute sweep starts the ones that fall due later.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eal import events
from eal.db.tx import Tx
from eal.errors import NotFound, ValidationFailed
from eal.events import Action
from eal.kit.ids import parse_public_id, public_id
from eal.kit.paging import Page, PageQuery, paginate
from eal.leads import repository as leads
from eal.outreach import repository, sequence_repository
from eal.outreach.addresses import normalize_address
from eal.outreach.runs import start_run
from eal.outreach.schemas import (
    ENROLLMENT_PREFIX,
    SEQUENCE_PREFIX,
    Channel,
    EnrollmentOut,
    EnrollRequest,
    EnrollResponse,
    EnrollResult,
    SequenceCreate,
    SequenceListItem,
    SequenceOut,
    SequenceUpdate,
    StepIn,
    StopReason,
)
from eal.outreach.service import org_outreach
from eal.outreach.templates import TemplateProblem, check_template
from eal.outreach.timing import SendingWindow, TimingProblem, check_delays, step_due_at


def _problem(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        f"{field}: {message}", details={"fields": [{"field": field, "message": message}]}
    )


def check_steps(channel: Channel, steps: list[StepIn]) -> list[dict[str, Any]]:
    """The steps as stored, or a 422 naming the step: delays, templates, subjects."""
    try:
        check_delays([step.delay for step in steps])
    except TimingProblem as exc:
        raise _problem(f"steps.{exc.step_index}.delay", exc.message) from exc
    stored = []
    for index, step in enumerate(steps):
        if channel is Channel.EMAIL and step.subject is None:
            raise _problem(f"steps.{index}.subject", "an email step needs a subject")
        if channel is Channel.SMS and step.subject is not None:
            raise _problem(f"steps.{index}.subject", "an SMS step has no subject")
        for part in ("subject", "body"):
            source = getattr(step, part)
            if source is None:
                continue
            try:
                check_template(source)
            except TemplateProblem as exc:
                raise _problem(f"steps.{index}.{part}", exc.message) from exc
        stored.append({"delay": step.delay, "subject": step.subject, "body": step.body})
    return stored


def _window(raw: SendingWindow | None) -> SendingWindow:
    return SendingWindow() if raw is None else raw


def _sequence_id(text: str) -> uuid.UUID:
    parsed = parse_public_id(SEQUENCE_PREFIX, text)
    if parsed is None:
        raise NotFound(f"Sequence {text} not found.")
    return parsed


async def _load(tx: Tx, sequence_id: str, *, lock: bool = False) -> Any:
    row = await sequence_repository.get_sequence(
        tx.conn, tx.actor.organization_id, _sequence_id(sequence_id), lock=lock
    )
    if row is None:
        raise NotFound(f"Sequence {sequence_id} not found.")
    return row


async def _out(tx: Tx, row: Any) -> SequenceOut:
    stats = await sequence_repository.stats_of(tx.conn, tx.actor.organization_id, [row.id])
    return SequenceOut(
        id=public_id(SEQUENCE_PREFIX, row.id),
        name=row.name,
        channel=row.channel,
        steps=sequence_repository.steps_of(row),
        sending_window=row.sending_window,
        active=row.active,
        stats=stats[row.id],
        created_at=row.created_at,
        updated_at=row.updated_at,
        archived_at=row.archived_at,
    )


async def create_sequence(tx: Tx, body: SequenceCreate) -> SequenceOut:
    """POST /outreach/sequences."""
    steps = check_steps(body.channel, body.steps)
    window = _window(body.sending_window)
    now = tx.clock.now()
    row = await sequence_repository.insert_sequence(
        tx.conn,
        id=uuid.uuid4(),
        organization_id=tx.actor.organization_id,
        name=body.name,
        channel=body.channel.value,
        steps=steps,
        sending_window=window.model_dump(mode="json"),
        active=body.active,
        created_at=now,
        updated_at=now,
    )
    await events.record(
        tx,
        Action.OUTREACH_SEQUENCE_CREATED,
        {"sequence_id": public_id(SEQUENCE_PREFIX, row.id), "name": row.name, "steps": len(steps)},
    )
    return await _out(tx, row)


async def list_sequences(tx: Tx, page: PageQuery) -> Page[SequenceListItem]:
    """The sequences, newest first, with their stats (two grouped queries per page)."""
    rows = await sequence_repository.sequence_page(tx.conn, tx.actor.organization_id, page)
    stats = await sequence_repository.stats_of(
        tx.conn, tx.actor.organization_id, [r.id for r in rows[: page.limit]]
    )
    return paginate(
        rows,
        page,
        lambda r: SequenceListItem(
            id=public_id(SEQUENCE_PREFIX, r.id),
            name=r.name,
            channel=r.channel,
            steps=len(r.steps),
            active=r.active,
            stats=stats[r.id],
        ),
    )


async def get_sequence(tx: Tx, sequence_id: str) -> SequenceOut:
    """GET /outreach/sequences/{id}: the steps themselves."""
    return await _out(tx, await _load(tx, sequence_id))


async def update_sequence(tx: Tx, sequence_id: str, body: SequenceUpdate) -> SequenceOut:
    """PATCH /outreach/sequences/{id}: name, steps, window, active."""
    row = await _load(tx, sequence_id, lock=True)
    values: dict[str, Any] = {}
    if "name" in body.model_fields_set and body.name is not None:
        values["name"] = body.name
    if "steps" in body.model_fields_set and body.steps is not None:
        values["steps"] = check_steps(Channel(row.channel), body.steps)
    if "sending_window" in body.model_fields_set:
        values["sending_window"] = _window(body.sending_window).model_dump(mode="json")
    if "active" in body.model_fields_set and body.active is not None:
        values["active"] = body.active
    changes = events.diff({k: getattr(row, k) for k in values}, values)
    if not changes:
        return await _out(tx, row)
    updated = await sequence_repository.update_sequence(
        tx.conn, tx.actor.organization_id, row.id, **values, updated_at=tx.clock.now()
    )
    await events.record(
        tx,
        Action.OUTREACH_SEQUENCE_UPDATED,
        {"sequence_id": sequence_id, "diff": {k: v for k, v in changes.items() if k != "steps"}}
        | ({"steps_changed": True} if "steps" in changes else {}),
    )
    if values.get("active") is True and not row.active:
        await _resume_due_steps(tx, updated)
    return await _out(tx, updated)


async def archive_sequence(tx: Tx, sequence_id: str) -> dict[str, Any]:
    """DELETE /outreach/sequences/{id}: archive it; its running enrollments stop."""
    row = await _load(tx, sequence_id, lock=True)
    now = tx.clock.now()
    await sequence_repository.update_sequence(
        tx.conn, tx.actor.organization_id, row.id, archived_at=now, active=False, updated_at=now
    )
    stopped = 0
    for enrollment in await sequence_repository.running_enrollments(
        tx.conn, tx.actor.organization_id
    ):
        if enrollment.sequence_id == row.id:
            await _finish(tx, enrollment, "stopped", StopReason.UNENROLLED)
            stopped += 1
    await events.record(
        tx,
        Action.OUTREACH_SEQUENCE_ARCHIVED,
        {"sequence_id": sequence_id, "stopped_enrollments": stopped},
    )
    return {"id": sequence_id, "archived": True}


async def _resume_due_steps(tx: Tx, sequence: Any) -> None:
    """A sequence switched back on: a run sends what fell due while it was off."""
    await start_run(tx, sequence.id)


# --- enrollments --------------------------------------------------------------------


def _address_of(email: str | None, phone: str | None, channel: Channel, region: str) -> str | None:
    raw = email if channel is Channel.EMAIL else phone
    if not raw:
        return None
    try:
        return normalize_address(channel, raw, region=region)
    except ValueError:
        return None


@dataclass(frozen=True)
class Contact:
    """Who is enrolled, as the sequence reaches them: a lead's or a prospect's email and phone."""

    email: str | None
    phone: str | None


async def enroll(tx: Tx, sequence_id: str, body: EnrollRequest) -> EnrollResponse:
    """Enroll up to 1,000 leads; one result per id, and their first steps queued."""
    wanted = list(dict.fromkeys(body.lead_ids))
    found = {
        row.id: Contact(email=row.email, phone=row.phone)
        for row in await leads.get_many(tx.conn, tx.actor.organization_id, wanted)
    }
    outcomes = await _enroll_people(
        tx, sequence_id, wanted, found, force=body.force, person="lead_id"
    )
    results = [
        EnrollResult(lead_id=person_id, result=result, enrollment_id=enrollment_id)
        for person_id, result, enrollment_id in outcomes
    ]
    return EnrollResponse(results=results, enrolled=sum(r.result == "enrolled" for r in results))


async def enroll_prospects(
    tx: Tx, sequence_id: str, prospects: dict[uuid.UUID, Contact], *, force: bool = False
) -> list[tuple[uuid.UUID, str, str | None]]:
    """Enroll prospects (the caller checked they may be); (id, result, enrollment id) each.

    Results are those of `enroll`: enrolled, already_enrolled, already_in_sequence,
    suppressed, missing_address, not_found.
    """
    return await _enroll_people(
        tx, sequence_id, list(prospects), prospects, force=force, person="prospect_id"
    )


async def _enroll_people(
    tx: Tx,
    sequence_id: str,
    wanted: list[uuid.UUID],
    found: dict[uuid.UUID, Contact],
    *,
    force: bool,
    person: str,
) -> list[tuple[uuid.UUID, str, str | None]]:
    organization_id = tx.actor.organization_id
    sequence = await _load(tx, sequence_id, lock=True)
    channel = Channel(sequence.channel)
    org = await org_outreach(tx, organization_id)
    addresses = {
        person_id: _address_of(contact.email, contact.phone, channel, org.region)
        for person_id, contact in found.items()
    }
    suppressed = await repository.suppressed_among(
        tx.conn, organization_id, channel.value, [a for a in addresses.values() if a]
    )
    already = await sequence_repository.enrolled_lead_ids(
        tx.conn, sequence.id, wanted, person=person
    )
    elsewhere = (
        set()
        if force
        else await sequence_repository.running_elsewhere(
            tx.conn, organization_id, sequence.id, wanted, person=person
        )
    )
    now = tx.clock.now()
    window = SendingWindow(**sequence.sending_window)
    first_delay = check_delays([s["delay"] for s in sequence.steps])[0]
    due = step_due_at(now, first_delay, window, org.zone)
    results: list[tuple[uuid.UUID, str, str | None]] = []
    for person_id in wanted:
        address = addresses.get(person_id)
        if person_id not in found:
            result = "not_found"
        elif address is None:
            result = "missing_address"
        elif address in suppressed:
            result = "suppressed"
        elif person_id in already:
            result = "already_enrolled"
        elif person_id in elsewhere:
            result = "already_in_sequence"
        else:
            row = await sequence_repository.insert_enrollment(
                tx.conn,
                id=uuid.uuid4(),
                organization_id=organization_id,
                sequence_id=sequence.id,
                **{person: person_id},
                address=address,
                next_due_at=due,
                environment=tx.actor.environment.value,
                enrolled_at=now,
                created_at=now,
                updated_at=now,
            )
            if row is None:
                result = "already_enrolled"
            else:
                results.append((person_id, "enrolled", public_id(ENROLLMENT_PREFIX, row.id)))
                continue
        results.append((person_id, result, None))
    enrolled = [person_id for person_id, result, _ in results if result == "enrolled"]
    if enrolled and sequence.active:
        await start_run(tx, sequence.id, due)
    if enrolled:
        await events.record(
            tx,
            Action.OUTREACH_ENROLLMENT_CREATED,
            {
                "sequence_id": sequence_id,
                "enrolled": len(enrolled),
                f"{person}s": [str(person_id) for person_id in enrolled],
            },
        )
    return results


async def list_enrollments(
    tx: Tx, sequence_id: str, page: PageQuery, *, status: str | None = None
) -> Page[EnrollmentOut]:
    """A sequence's enrollments, newest first."""
    sequence = await _load(tx, sequence_id)
    rows = await sequence_repository.enrollment_page(
        tx.conn, tx.actor.organization_id, sequence.id, page, status=status
    )
    return paginate(rows, page, sequence_repository.enrollment_of)


async def unenroll(tx: Tx, sequence_id: str, enrollment_id: str) -> EnrollmentOut:
    """DELETE .../enrollments/{id}: stop it (`unenrolled`); nothing more is sent."""
    sequence = await _load(tx, sequence_id)
    parsed = parse_public_id(ENROLLMENT_PREFIX, enrollment_id)
    row = (
        await sequence_repository.get_enrollment(
            tx.conn, tx.actor.organization_id, parsed, lock=True
        )
        if parsed is not None
        else None
    )
    if row is None or row.sequence_id != sequence.id:
        raise NotFound(f"Enrollment {enrollment_id} of sequence {sequence_id} not found.")
    if row.status in ("active", "paused"):
        row = await _finish(tx, row, "stopped", StopReason.UNENROLLED)
    return sequence_repository.enrollment_of(row)


async def _finish(tx: Tx, row: Any, status: str, reason: StopReason | None) -> Any:
    now = tx.clock.now()
    updated = await sequence_repository.update_enrollment(
        tx.conn,
        tx.actor.organization_id,
        row.id,
        status=status,
        stop_reason=reason.value if reason else None,
        next_due_at=None,
        finished_at=now,
        updated_at=now,
    )
    diff: dict[str, Any] = {"status": {"from": row.status, "to": status}}
    if reason is not None:
        diff["stop_reason"] = {"from": row.stop_reason, "to": reason.value}
    await events.record(
        tx,
        Action.OUTREACH_ENROLLMENT_CHANGED,
        {"enrollment_id": public_id(ENROLLMENT_PREFIX, row.id), "diff": diff},
    )
    return updated


async def pause_until(tx: Tx, address: str, until: datetime) -> int:
    """Pause the running enrollments of an address (an out-of-office reply) until `until`.

    Their next step falls due then (the minute sweep starts its run).
    """
    organization_id = tx.actor.organization_id
    rows = [
        r
        for r in await sequence_repository.running_enrollments(
            tx.conn, organization_id, address=address
        )
        if r.status == "active"
    ]
    now = tx.clock.now()
    for row in rows:
        await sequence_repository.update_enrollment(
            tx.conn,
            organization_id,
            row.id,
            status="paused",
            paused_until=until,
            next_due_at=max(until, row.next_due_at) if row.next_due_at else until,
            updated_at=now,
        )
        await events.record(
            tx,
            Action.OUTREACH_ENROLLMENT_CHANGED,
            {
                "enrollment_id": public_id(ENROLLMENT_PREFIX, row.id),
                "diff": {
                    "status": {"from": "active", "to": "paused"},
                    "paused_until": {"from": None, "to": until.isoformat()},
                },
            },
        )
    return len(rows)
