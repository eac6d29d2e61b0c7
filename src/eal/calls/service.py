"""Calls: ingestion from any tracker, reads, lists, stats and human corrections.

A call is stored as it arrives and never dropped: a caller number that does not parse is
kept as given and flagged. Everything slow (speech-to-text, classification, dispatch)
runs as jobs deferred in the transaction that stores the call, deduplicated per call.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson

from eal import events, jobs
from eal.calls import repository
from eal.calls.recording import recording_link
from eal.calls.schemas import (
    CALL_PREFIX,
    CLASSIFICATION_FILTERS,
    CallCreate,
    CallOut,
    CallPatch,
    CallStats,
    CallStatus,
    ClassifyQueued,
    DispatchAction,
    StatsWindow,
)
from eal.db.tx import Tx
from eal.errors import Conflict, NotFound, field_error
from eal.events import Action
from eal.geo import normalize_postal_code
from eal.kit.ids import parse_public_id, public_id
from eal.kit.outbound import UnsafeUrl, check_url_form
from eal.kit.paging import Page, PageQuery, paginate
from eal.kit.signed import Signer
from eal.leads.phone import normalize_phone

CLASSIFY_TASK = "calls.classify"
TRANSCRIBE_TASK = "calls.transcribe"
DISPATCH_TASK = "calls.dispatch"
WINDOWS: dict[StatsWindow, timedelta] = {
    StatsWindow.H24: timedelta(hours=24),
    StatsWindow.D7: timedelta(days=7),
    StatsWindow.D30: timedelta(days=30),
    StatsWindow.D90: timedelta(days=90),
}


@dataclass(frozen=True)
class IncomingCall:
    """A call as a tracker reports it, before it is stored."""

    source: str
    external_id: str | None
    tracking_number: str | None
    caller_number: str
    duration_seconds: int
    received_at: datetime
    transcript: str | None = None
    recording_url: str | None = None
    caller_name: str | None = None
    caller_postal_code: str | None = None
    caller_city: str | None = None
    caller_state: str | None = None
    voicemail: bool | None = None
    answered: bool | None = None
    #: False for history imports older than the dispatch horizon: classified, never dispatched.
    dispatch_allowed: bool = True
    #: Fields the tracker did not send this time (a re-delivery leaves them as they are).
    absent: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Stored:
    """The outcome of an ingestion: the row and whether it is new."""

    row: Any
    created: bool


def incoming_of(body: CallCreate) -> IncomingCall:
    """A `POST /calls` body as an incoming call (its numbers and URL checked)."""
    try:
        tracking = normalize_phone(body.tracking_number)
    except ValueError as exc:
        raise field_error("tracking_number", str(exc)) from exc
    return IncomingCall(
        source=body.source,
        external_id=body.external_id,
        tracking_number=tracking,
        caller_number=body.caller_number,
        duration_seconds=body.duration_seconds,
        received_at=body.received_at,
        transcript=body.transcript,
        recording_url=body.recording_url,
        caller_name=body.caller_name,
        caller_postal_code=body.caller_postal_code,
        caller_city=body.caller_city,
        caller_state=body.caller_state,
        voicemail=body.voicemail,
        absent=frozenset(set(CallCreate.model_fields) - body.model_fields_set),
    )


def check_recording_url(url: str | None, *, allow_private: bool, field_name: str) -> None:
    """Refuse a recording URL the outbound policy would never fetch (422 naming the field)."""
    if url is None:
        return
    try:
        check_url_form(url, allow_private=allow_private)
    except UnsafeUrl as exc:
        raise field_error(field_name, str(exc)) from exc


def _caller(raw: str) -> tuple[str, bool]:
    """(number, valid): E.164 when it parses, else the input as given."""
    try:
        return normalize_phone(raw), True
    except ValueError:
        return raw.strip(), False


def _columns(call: IncomingCall, *, update: bool) -> dict[str, Any]:
    """The call's columns; for an update, without what the tracker did not send this time."""
    number, valid = _caller(call.caller_number)
    values: dict[str, Any] = {
        "tracking_number": call.tracking_number,
        "caller_number": number,
        "caller_number_valid": valid,
        "duration_seconds": call.duration_seconds,
        "received_at": call.received_at,
        "transcript": call.transcript,
        "recording_url": call.recording_url,
        "caller_name": call.caller_name,
        "caller_postal_code": normalize_postal_code(call.caller_postal_code)
        or call.caller_postal_code,
        "caller_city": call.caller_city,
        "caller_state": call.caller_state,
        "voicemail": call.voicemail,
        "answered": call.answered,
    }
    if not update:
        return values
    return {k: v for k, v in values.items() if k not in call.absent}


def _summary(row: Any) -> dict[str, Any]:
    return {
        "call_id": public_id(CALL_PREFIX, row.id),
        "source": row.source,
        "external_id": row.external_id,
        "caller_number": row.caller_number,
        "caller_number_valid": row.caller_number_valid,
        "has_transcript": row.transcript is not None,
        "has_recording": row.recording_url is not None,
    }


async def ingest(tx: Tx, call: IncomingCall, *, stt_enabled: bool) -> Stored:
    """Store a call, or update the one with the same tracker id; queue what it needs next.

    A new call is audited as `call.received`. A transcript that arrives on a call that had
    none (CallRail's call-modified webhook) triggers classification then.
    """
    organization_id = tx.actor.organization_id
    now = tx.now()
    existing = None
    if call.external_id is not None:
        existing = await repository.find_external(
            tx.conn, organization_id, call.source, call.external_id
        )
    if existing is None:
        values = _columns(call, update=False)
        row = await repository.insert(
            tx.conn,
            id=uuid.uuid4(),
            organization_id=organization_id,
            source=call.source,
            external_id=call.external_id,
            environment=tx.actor.environment.value,
            dispatch_allowed=call.dispatch_allowed,
            transcript_source="tracker" if call.transcript else None,
            transcript_at=now if call.transcript else None,
            status=CallStatus.RECEIVED.value,
            created_at=now,
            updated_at=now,
            **values,
        )
        await events.record(
            tx, Action.CALL_RECEIVED, _summary(row), data=repository.event_data(row)
        )
        await _queue_next(tx, row, stt_enabled=stt_enabled)
        return Stored(row, created=True)

    values = _columns(call, update=True)
    changes = {key: value for key, value in values.items() if getattr(existing, key) != value}
    # A tracker that re-sends a call without its transcript does not erase ours.
    if changes.get("transcript", "") is None:
        del changes["transcript"]
    if changes.get("recording_url", "") is None:
        del changes["recording_url"]
    if not changes:
        return Stored(existing, created=False)
    new_transcript = "transcript" in changes
    if new_transcript:
        changes.update(transcript_source="tracker", transcript_at=now, transcription_error=None)
    row = await repository.update(tx.conn, organization_id, existing.id, updated_at=now, **changes)
    await events.record(
        tx,
        Action.CALL_UPDATED,
        {"call_id": public_id(CALL_PREFIX, row.id), "changed": sorted(changes)},
    )
    if new_transcript or ("recording_url" in changes and row.transcript is None):
        await _queue_next(tx, row, stt_enabled=stt_enabled)
    return Stored(row, created=False)


async def _queue_next(tx: Tx, row: Any, *, stt_enabled: bool) -> None:
    """Transcribe the recording first when there is no transcript and a server can; else classify."""
    payload = {"call_id": str(row.id)}
    if row.transcript is None and row.recording_url is not None and stt_enabled:
        await jobs.defer(tx, TRANSCRIBE_TASK, payload, dedupe_key=str(row.id))
        return
    await jobs.defer(tx, CLASSIFY_TASK, payload, dedupe_key=str(row.id))


def parse_call_id(text: str) -> uuid.UUID:
    """The UUID of a `call_...` id; 404 for anything else (it names no call)."""
    call_id = parse_public_id(CALL_PREFIX, text)
    if call_id is None:
        raise NotFound(f"Call {text} not found.")
    return call_id


def call_out(row: Any, *, signer: Signer, public_url: str, now: datetime) -> CallOut:
    """A call row in full, its recording as a signed link to this service."""
    return CallOut(
        id=public_id(CALL_PREFIX, row.id),
        status=row.status,
        source=row.source,
        external_id=row.external_id,
        tracking_number=row.tracking_number,
        caller_number=row.caller_number,
        caller_number_valid=row.caller_number_valid,
        caller_name=row.caller_name,
        caller_postal_code=row.caller_postal_code,
        caller_city=row.caller_city,
        caller_state=row.caller_state,
        duration_seconds=row.duration_seconds,
        voicemail=row.voicemail,
        recording_url=(
            recording_link(signer, public_url, row.id, now) if row.recording_url else None
        ),
        transcript=row.transcript,
        transcript_source=row.transcript_source,
        transcription_error=row.transcription_error,
        classification=repository.classification_of(row),
        model_classification=repository.model_classification_of(row),
        correction_note=row.correction_note,
        dispatch_decision=repository.decision_of(row),
        received_at=row.received_at,
        classified_at=row.classified_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def get_row(tx: Tx, call_id: uuid.UUID, *, lock: bool = False) -> Any:
    """The call, or 404."""
    row = await repository.get(tx.conn, tx.actor.organization_id, call_id, lock=lock)
    if row is None:
        raise NotFound(f"Call {public_id(CALL_PREFIX, call_id)} not found.")
    return row


async def list_calls(
    tx: Tx,
    page: PageQuery,
    *,
    status: str | None,
    classification: str | None,
    qualified: bool | None,
    urgency: str | None,
    dispatch_action: str | None,
    start_at: datetime | None,
    end_at: datetime | None,
) -> Page[Any]:
    """Calls, newest `received_at` first."""
    rows = await repository.page(
        tx.conn,
        tx.actor.organization_id,
        page,
        status=status,
        intents=CLASSIFICATION_FILTERS[classification] if classification else None,
        qualified=qualified,
        urgency=urgency,
        dispatch_action=dispatch_action,
        start_at=start_at,
        end_at=end_at,
    )
    return paginate(rows, page, repository.list_item_of, position=lambda r: (r.received_at, r.id))


async def stats(tx: Tx, window: StatsWindow) -> CallStats:
    """Counts over the calls received in the window ending now."""
    now = tx.now()
    total, qualified, junk, by_intent, median = await repository.stats(
        tx.conn, tx.actor.organization_id, now - WINDOWS[window], now
    )
    return CallStats(
        window=window,
        total_calls=total,
        qualified=qualified,
        junk_filtered=junk,
        by_intent=by_intent,
        median_classification_seconds=round(median, 3) if median is not None else None,
    )


async def correct(tx: Tx, call_id: uuid.UUID, body: CallPatch) -> Any:
    """A human's classification: in force from now on, audited with a per-field diff."""
    row = await get_row(tx, call_id, lock=True)
    if row.intent is None and not all(
        getattr(body.classification, f) is not None for f in ("intent", "urgency", "qualified")
    ):
        raise field_error(
            "classification",
            "the call is not classified yet: give intent, urgency and qualified",
        )
    before = {"intent": row.intent, "urgency": row.urgency, "qualified": row.qualified}
    given = body.classification.model_dump(exclude_none=True)
    after = {**before, **given}
    now = tx.now()
    diff = events.diff(before, after)
    note_changed = body.note is not None and body.note != row.correction_note
    if not diff and row.corrected and not note_changed:
        return row
    row = await repository.update(
        tx.conn,
        tx.actor.organization_id,
        call_id,
        intent=after["intent"],
        urgency=after["urgency"],
        qualified=after["qualified"],
        corrected=True,
        corrected_at=now,
        correction_note=body.note if body.note is not None else row.correction_note,
        first_classified_at=row.first_classified_at or now,
        classified_at=row.classified_at or now,
        status=row.status if row.status != CallStatus.RECEIVED else CallStatus.CLASSIFIED.value,
        updated_at=now,
    )
    await events.record(
        tx,
        Action.CALL_CORRECTED,
        {
            "call_id": public_id(CALL_PREFIX, call_id),
            "diff": diff,
            "note": body.note,
        },
    )
    return row


async def dispatch_by_hand(tx: Tx, call_id: uuid.UUID, *, reason: str) -> Any:
    """A person dispatches a classified call the rules held back (owner review, the callback
    queue, ignored): the decision becomes auto_dispatch, audited, and its side effects run
    as for any auto-dispatched call (the caller's lead, the SMS callback, the CRM job)."""
    row = await get_row(tx, call_id, lock=True)
    if row.status == CallStatus.RECEIVED or row.decision is None:
        raise Conflict(
            "This call is not classified yet: classify or correct it first.",
            details={"status": row.status},
        )
    if row.dispatch_action == DispatchAction.AUTO_DISPATCH:
        raise Conflict(
            "This call is dispatched already.", details={"dispatch_action": row.dispatch_action}
        )
    now = tx.now()
    decision = {
        **row.decision,
        "action": DispatchAction.AUTO_DISPATCH.value,
        "reason": reason,
        "decided_at": now.isoformat(),
        "simulated": row.environment == "test",
        "notify_on_call": False,
        "error": None,
    }
    row = await repository.update(
        tx.conn,
        tx.actor.organization_id,
        call_id,
        decision=decision,
        dispatch_action=DispatchAction.AUTO_DISPATCH.value,
        status=CallStatus.CLASSIFIED.value,
        updated_at=now,
    )
    await events.record(
        tx,
        Action.CALL_DISPATCH_DECIDED,
        {
            "call_id": public_id(CALL_PREFIX, call_id),
            "action": DispatchAction.AUTO_DISPATCH.value,
            "reason": reason,
            "by_hand": True,
        },
    )
    await jobs.defer(tx, DISPATCH_TASK, {"call_id": str(call_id)}, dedupe_key=str(call_id))
    return row


async def request_classification(tx: Tx, call_id: uuid.UUID) -> ClassifyQueued:
    """Queue the call's classification again (a human correction stays in force)."""
    row = await get_row(tx, call_id)
    job = await jobs.defer(
        tx, CLASSIFY_TASK, {"call_id": str(row.id), "again": True}, dedupe_key=str(row.id)
    )
    return ClassifyQueued(
        id=public_id(CALL_PREFIX, row.id), status=row.status, queued=job is not None
    )


async def corrections_jsonl(tx: Tx) -> AsyncIterator[bytes]:
    """Corrected calls as training lines: the corpus's fields, the model's answer beside them."""
    async for row in repository.corrected(tx.conn, tx.actor.organization_id):
        model = row.model_classification or {}
        line = {
            "text": row.transcript or "",
            "intent": row.intent,
            "urgency": row.urgency,
            "qualified": row.qualified,
            "kind": "voicemail" if row.voicemail else "call",
            "group": public_id(CALL_PREFIX, row.id),
            "call_id": public_id(CALL_PREFIX, row.id),
            "note": row.correction_note,
            "corrected_at": row.corrected_at.isoformat() if row.corrected_at else None,
            "model": {
                k: model.get(k)
                for k in ("intent", "urgency", "qualified", "confidence", "provider")
            }
            if model
            else None,
        }
        yield orjson.dumps(line) + b"\n"
