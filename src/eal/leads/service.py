"""Leads: create (scored on the way in), read, list, update, re-score. No HTTP here.

Every change writes one audit entry in the caller's transaction. Scoring is
the pure engine of :mod:`eal.leads.scoring`; its inputs come from
:mod:`eal.leads.scoring_inputs`; statements and row mapping from
:mod:`eal.leads.repository`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from eal import events
from eal.db.tx import Tx
from eal.errors import NotFound, ValidationFailed
from eal.events import Action
from eal.kit.paging import Page, PageQuery, paginate
from eal.leads import repository
from eal.leads.phone import phone_is_valid
from eal.leads.schemas import (
    LeadCreate,
    LeadListItem,
    LeadOut,
    LeadScored,
    LeadUpdate,
    PipelineStage,
    ScoreContribution,
)
from eal.leads.scoring import LeadSignals, ScoreResult, score_lead
from eal.leads.scoring_inputs import scoring_context
from eal.outreach import service as outreach
from eal.outreach.schemas import StopReason

_CLOSING_STAGES = {"won": StopReason.WON, "lost": StopReason.LOST}


def check_contact(name: str | None, company: str | None, email: str | None) -> None:
    """A lead needs an email, or a name and a company; else a 422 naming the fields."""
    if email is not None or (name is not None and company is not None):
        return
    message = "required: give an email, or both name and company"
    fields = [{"field": "email", "message": message}]
    if name is None:
        fields.append({"field": "name", "message": message})
    if company is None:
        fields.append({"field": "company", "message": message})
    names = ", ".join(f["field"] for f in fields)
    raise ValidationFailed(f"{names}: {message}", details={"fields": fields})


def signals_of(values: Any, *, pain_points: str | None) -> LeadSignals:
    """Scoring signals from a lead row or a LeadCreate (same attribute names)."""
    return LeadSignals(
        message=values.message,
        pain_points=pain_points,
        name=values.name,
        company=values.company,
        email=values.email,
        phone=values.phone,
        source=values.source,
        industry=values.industry,
        company_size=values.company_size,
        postal_code=values.postal_code,
        form_started_at=values.form_started_at,
        form_submitted_at=values.form_submitted_at,
    )


def contributions_of(result: ScoreResult) -> list[ScoreContribution]:
    """Each contribution of a score, as the API shows it."""
    return [
        ScoreContribution(signal=c.code, label=c.label, value=c.value) for c in result.contributions
    ]


async def create_lead(tx: Tx, body: LeadCreate) -> LeadOut:
    """Insert a lead, scored now, and record `lead.created`; the lead as GET renders it.

    Every column's value is chosen here (ids and timestamps included), so the
    stored row is known without reading it back. The lead is inserted by the
    statement that records it: one round trip.
    """
    check_contact(body.name, body.company, body.email)
    return await _insert(tx, body)


#: The source of a lead made from a dispatched call.
PHONE_CALL_SOURCE = "phone_call"
#: How much of a call's transcript becomes the lead's message.
CALL_MESSAGE_CHARS = 4000


async def lead_for_caller(
    tx: Tx,
    *,
    phone: str,
    name: str | None,
    postal_code: str | None,
    message: str | None,
) -> tuple[uuid.UUID, bool]:
    """(lead id, created): the organization's newest lead with this phone, else a new one.

    A new lead has source `phone_call`, the caller's name and postal code, and the start of
    the transcript as its message; it is scored and recorded as `lead.created` like any other.
    """
    found = await repository.find_by_phone(tx.conn, tx.actor.organization_id, phone)
    if found is not None:
        return found.id, False
    fields: dict[str, Any] = dict.fromkeys(LeadCreate.model_fields)
    fields.update(
        name=name,
        phone=phone,
        source=PHONE_CALL_SOURCE,
        postal_code=postal_code,
        message=message[:CALL_MESSAGE_CHARS] if message else None,
        pipeline_stage=PipelineStage.NEW,
    )
    lead = await _insert(tx, LeadCreate.model_construct(**fields))
    return lead.id, True


async def _insert(tx: Tx, body: LeadCreate) -> LeadOut:
    now = tx.now()
    organization_id = tx.actor.organization_id
    context = await scoring_context(tx, organization_id, now)
    result = score_lead(signals_of(body, pain_points=None), context)
    values: dict[str, Any] = dict.fromkeys(repository.COLUMNS)
    values.update(body.model_dump())
    values["phone_valid"] = None if body.phone is None else phone_is_valid(body.phone)
    values.update(
        id=uuid.uuid4(),
        organization_id=organization_id,
        pipeline_stage=body.pipeline_stage.value,
        lead_score=result.score,
        ai_reasoning=result.reasoning,
        pain_points=result.pain_points,
        timeline=result.timeline,
        qualification_completed_at=now,
        scored_at=now,
        created_at=now,
        updated_at=now,
    )
    lead = repository.lead_of(_Columns(values))
    await events.record(
        tx,
        Action.LEAD_CREATED,
        {
            "lead_id": str(lead.id),
            "source": values["source"],
            "pipeline_stage": values["pipeline_stage"],
            "lead_score": values["lead_score"],
        },
        data=lead,
        change=events.Change(
            repository.INSERT_ROW, tuple(values[name] for name in repository.COLUMNS)
        ),
    )
    return lead


class _Columns:
    """A dict of column values seen as a row (attribute access), for the row mapping."""

    __slots__ = ("_values",)

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = values

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError as exc:
            raise AttributeError(name) from exc


async def _locked(tx: Tx, lead_id: uuid.UUID) -> Any:
    row = await repository.lock(tx.conn, tx.actor.organization_id, lead_id)
    if row is None:
        raise NotFound(f"Lead {lead_id} not found.")
    return row


async def get_lead(tx: Tx, lead_id: uuid.UUID) -> LeadOut:
    """One lead of the organization (another tenant's id is a 404)."""
    row = await repository.get(tx.conn, tx.actor.organization_id, lead_id)
    if row is None:
        raise NotFound(f"Lead {lead_id} not found.")
    return repository.lead_of(row)


async def list_leads(
    tx: Tx,
    page: PageQuery,
    *,
    pipeline_stage: str | None = None,
    source: str | None = None,
    start_at: datetime | None = None,
    end_at: datetime | None = None,
) -> Page[LeadListItem]:
    """Newest first, keyset-paginated on (created_at, id); filters are ANDed."""
    rows = await repository.page(
        tx.conn,
        tx.actor.organization_id,
        page,
        pipeline_stage=pipeline_stage,
        source=source,
        start_at=start_at,
        end_at=end_at,
    )
    return paginate(rows, page, repository.list_item_of)


async def search_leads(tx: Tx, text: str, *, limit: int = 50) -> list[LeadListItem]:
    """The newest leads whose name, company, email or phone contains `text` (any case)."""
    rows = await repository.search(tx.conn, tx.actor.organization_id, text, limit)
    return [repository.list_item_of(row) for row in rows]


async def update_lead(tx: Tx, lead_id: uuid.UUID, body: LeadUpdate) -> LeadOut:
    """Apply whitelisted field changes; one `lead.updated` entry with the real diff."""
    row = await _locked(tx, lead_id)
    sent = {k: (v.value if hasattr(v, "value") else v) for k, v in body.changes().items()}
    before = {name: getattr(row, name) for name in sent}
    changes = events.diff(before, sent)
    if not changes:
        return repository.lead_of(row)
    merged = {n: sent.get(n, getattr(row, n)) for n in ("name", "company", "email")}
    check_contact(merged["name"], merged["company"], merged["email"])
    values = {name: change["to"] for name, change in changes.items()}
    values["updated_at"] = tx.now()
    updated = await repository.update_columns(tx.conn, tx.actor.organization_id, lead_id, values)
    lead = repository.lead_of(updated)
    await events.record(
        tx, Action.LEAD_UPDATED, {"lead_id": str(lead_id), "diff": changes}, data=lead
    )
    stage = changes.get("pipeline_stage", {}).get("to")
    if stage in _CLOSING_STAGES:
        # A won or lost lead gets no more outreach: its sequences stop here,
        # in the same transaction as the stage change.
        await outreach.stop_enrollments(tx, reason=_CLOSING_STAGES[stage], lead_id=lead_id)
    return lead


async def rescore_lead(tx: Tx, lead_id: uuid.UUID) -> LeadScored:
    """Score the lead again from its current fields and the latest settings.

    Pain points and timeline are filled only when empty: values a person set
    are never overwritten by the scorer.
    """
    row = await _locked(tx, lead_id)
    context = await scoring_context(tx, tx.actor.organization_id, row.created_at)
    result = score_lead(signals_of(row, pain_points=row.pain_points), context)
    now = tx.now()
    values: dict[str, Any] = {
        "lead_score": result.score,
        "ai_reasoning": result.reasoning,
        "pain_points": row.pain_points if row.pain_points is not None else result.pain_points,
        "timeline": row.timeline if row.timeline is not None else result.timeline,
    }
    changes = events.diff({name: getattr(row, name) for name in values}, values)
    updated = await repository.update_columns(
        tx.conn,
        tx.actor.organization_id,
        lead_id,
        {**values, "scored_at": now, "qualification_completed_at": now, "updated_at": now},
    )
    contributions = contributions_of(result)
    await events.record(
        tx,
        Action.LEAD_SCORED,
        {
            "lead_id": str(lead_id),
            "diff": changes,
            "contributions": [c.model_dump() for c in contributions],
        },
    )
    lead = repository.lead_of(updated)
    if changes:
        # The score (or what the scorer fills in) changed: that is a lead.updated
        # event for webhook subscribers, with the same per-field diff.
        await events.record(
            tx, Action.LEAD_UPDATED, {"lead_id": str(lead_id), "diff": changes}, data=lead
        )
    return LeadScored(
        id=lead.id,
        lead_score=lead.lead_score,
        ai_reasoning=lead.ai_reasoning,
        scored_at=now,
        contributions=contributions,
    )
