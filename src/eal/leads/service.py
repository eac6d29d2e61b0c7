"""Leads: create (scored on the way in), read, list, update, re-score. No HTTP here.

Every change writes one audit entry in the caller's transaction. Scoring is
the pure engine of :mod:`eal.leads.scoring`; this module only gathers its
inputs (the lead, the organization's settings, recent weather) in one query.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import lru_cache
from types import SimpleNamespace
from typing import Any

import structlog
from sqlalchemy import Integer, Select, bindparam, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from eal import events
from eal.auth.context import Actor
from eal.db.engine import driver_connection
from eal.errors import NotFound, ValidationFailed
from eal.kit.clock import isoformat, utcnow
from eal.kit.cursor import Cursor, page_of
from eal.leads import scoring_weights
from eal.leads.models import leads
from eal.leads.schemas import LeadCreate, LeadUpdate
from eal.leads.scoring import (
    LeadSignals,
    ScoreResult,
    ScoringContext,
    WeatherEvent,
    score_lead,
)

log = structlog.get_logger(__name__)

#: Scoring reads at most this many of an organization's recent weather events.
MAX_WEATHER_EVENTS = 200

LIST_COLUMNS = (
    leads.c.id,
    leads.c.organization_id,
    leads.c.name,
    leads.c.company,
    leads.c.email,
    leads.c.source,
    leads.c.lead_score,
    leads.c.pipeline_stage,
    leads.c.industry,
    leads.c.company_size,
    leads.c.created_at,
    leads.c.updated_at,
)

# Statements are built once: building and cache-keying a 27-column statement
# or a filtered SELECT costs more CPU (~0.2 ms) than scoring the lead.
_BY_ID = (leads.c.organization_id == bindparam("b_org"), leads.c.id == bindparam("b_id"))
SELECT_LEAD = select(leads).where(*_BY_ID)
# FOR NO KEY UPDATE: serialises pushes of one lead without blocking the foreign-key
# checks (KEY SHARE) that audit and delivery inserts make.
LOCK_LEAD = SELECT_LEAD.with_for_update(key_share=True)
# The SET clause is the set of column keys in the parameters of each execution.
UPDATE_LEAD = update(leads).where(*_BY_ID).returning(*leads.c)
# Creating a lead (the hottest write) runs on the driver with every column given.
_LEAD_COLUMNS = tuple(column.name for column in leads.c)
_INSERT_LEAD_ROW = "INSERT INTO leads ({}) VALUES ({})".format(
    ", ".join(_LEAD_COLUMNS), ", ".join(f"${n}" for n in range(1, len(_LEAD_COLUMNS) + 1))
)


# --- Shapes ----------------------------------------------------------------


def crm_sync_out(row: Any) -> dict[str, Any] | None:
    """The lead's CRM sync state, or None when it was never pushed."""
    if row.crm_status is None:
        return None
    return {
        "vendor": row.crm_vendor,
        "external_id": row.crm_external_id,
        "status": row.crm_status,
        "last_synced_at": row.crm_last_synced_at,
        "error": row.crm_error,
    }


# Plain str names: SQLAlchemy's are a str subclass, which orjson refuses as keys.
_LIST_NAMES = tuple(str(column.name) for column in LIST_COLUMNS)


def list_item_out(row: Any) -> dict[str, Any]:
    """A lead as list pages show it."""
    return {name: getattr(row, name) for name in _LIST_NAMES}


def lead_out(row: Any) -> dict[str, Any]:
    """A leads row as GET /leads/{id} returns it."""
    out = list_item_out(row)
    for name in (
        "phone",
        "pain_points",
        "timeline",
        "budget_range",
        "ai_reasoning",
        "qualification_completed_at",
        "scored_at",
        "postal_code",
        "address",
        "message",
        "form_started_at",
        "form_submitted_at",
    ):
        out[name] = getattr(row, name)
    out["crm_sync"] = crm_sync_out(row)
    return out


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return isoformat(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {key: _json_value(item) for key, item in value.items()}
    return value


def lead_event_data(out: dict[str, Any]) -> dict[str, Any]:
    """`lead_out`'s rendering as JSON values: the response body and an event's webhook `data`.

    The same result as dumping it through `LeadOut` (tests hold the two
    together), without validating again what this module just built.
    """
    return {key: _json_value(value) for key, value in out.items()}


def now_ms() -> datetime:
    """The current time at the API's precision (milliseconds).

    Stored timestamps equal the ones responses show, so a client can pass a
    lead's created_at back as a start_at/end_at bound and match that lead.
    """
    now = utcnow()
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


# --- Validation ------------------------------------------------------------


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


# --- Scoring context ---------------------------------------------------------

# Settings and weather in one round trip, run on the driver. The weather window
# is indexed by (organization_id, occurred_at). The connection decodes json/jsonb.
_CONTEXT = (
    "SELECT o.settings, o.config_revision, coalesce(("
    "  SELECT json_agg(json_build_array(w.id, w.event_type, w.postal_codes, w.occurred_at))"
    "  FROM (SELECT id, event_type, postal_codes, occurred_at FROM weather_events"
    "        WHERE organization_id = $1 AND occurred_at >= $2 AND occurred_at <= $3"
    "        ORDER BY occurred_at DESC LIMIT $4) w"
    "), '[]'::json) AS weather "
    "FROM organizations o WHERE o.id = $1"
)

_CACHE_SIZE = 4096
#: How far past the lead's arrival a cached weather window reaches, and so how
#: long one read serves new leads of an organization whose inputs did not change.
CONTEXT_CACHE_HORIZON = timedelta(minutes=5)


@dataclass(frozen=True)
class _Inputs:
    """An organization's scoring inputs as read at one config revision.

    `template` holds the parsed settings; `weather` the events (newest first)
    that occurred in [start, end].
    """

    revision: int
    template: ScoringContext
    weather: tuple[WeatherEvent, ...]
    start: datetime
    end: datetime
    complete: bool
    """False when the read hit MAX_WEATHER_EVENTS: older events were left out."""


# Inputs per (organization, config revision): the database raises the revision
# whenever settings or weather events change, and every request reads it with
# its key, so a cached entry is never stale. Parsed events are also kept per id.
_inputs_cache: OrderedDict[tuple[uuid.UUID, int], _Inputs] = OrderedDict()
_weather_cache: OrderedDict[str, WeatherEvent] = OrderedDict()


def _remember(cache: OrderedDict[Any, Any], key: Any, value: Any) -> None:
    cache[key] = value
    if len(cache) > _CACHE_SIZE:
        cache.popitem(last=False)


def _settings_template(
    organization_id: uuid.UUID, settings: dict[str, Any], at: datetime
) -> ScoringContext:
    try:
        return ScoringContext.from_settings(settings, now=at)
    except ValueError as exc:
        # Settings are validated when written; should an old or hand-edited
        # value not parse, the lead is still taken and scored without it.
        log.warning(
            "lead_scoring_settings_unusable",
            organization_id=str(organization_id),
            error=str(exc),
        )
        return ScoringContext(now=at)


def _weather_event(raw: list[Any]) -> WeatherEvent | None:
    event_id = str(raw[0])
    event = _weather_cache.get(event_id)
    if event is None:
        try:
            event = WeatherEvent(
                type=raw[1],
                postal_codes=tuple(raw[2]),
                occurred_at=datetime.fromisoformat(raw[3]),
            )
        except ValueError:
            log.warning("weather_event_unusable", weather_event_id=event_id)
            return None
        _remember(_weather_cache, event_id, event)
    return event


async def _read_inputs(
    conn: AsyncConnection, organization_id: uuid.UUID, start: datetime, end: datetime
) -> _Inputs:
    driver = await driver_connection(conn)
    row = await driver.fetchrow(_CONTEXT, organization_id, start, end, MAX_WEATHER_EVENTS)
    if row is None:
        raise RuntimeError(f"organization {organization_id} is not visible to its own tenant")
    revision = row["config_revision"]
    cached = _inputs_cache.get((organization_id, revision))
    template = (
        cached.template
        if cached is not None
        else _settings_template(organization_id, row["settings"], start)
    )
    return _Inputs(
        revision=revision,
        template=template,
        weather=tuple(e for e in map(_weather_event, row["weather"]) if e is not None),
        start=start,
        end=end,
        complete=len(row["weather"]) < MAX_WEATHER_EVENTS,
    )


async def scoring_context(
    conn: AsyncConnection,
    organization_id: uuid.UUID,
    at: datetime,
    *,
    revision: int | None = None,
) -> ScoringContext:
    """The organization's scoring context for a lead that arrived at `at`.

    Weather counts when it occurred in the `WEATHER_RECENT_DAYS` before `at`,
    so re-scoring a lead later judges it by the weather of its arrival.
    `revision` is the organization's config revision read in this transaction
    (with the API key); given, the inputs come from the cache when they were
    read at that revision and cover the window, else they are read and kept.
    """
    since = at - timedelta(days=scoring_weights.WEATHER_RECENT_DAYS)
    inputs = None if revision is None else _inputs_cache.get((organization_id, revision))
    if inputs is None or not (inputs.complete and inputs.start <= since and at <= inputs.end):
        # A cacheable read reaches ahead, so that the next leads' windows fit in it.
        end = at if revision is None else at + CONTEXT_CACHE_HORIZON
        inputs = await _read_inputs(conn, organization_id, since, end)
        if not inputs.complete and end != at:
            # Capped: events after `at` must not take the places of earlier ones.
            inputs = await _read_inputs(conn, organization_id, since, at)
        # Kept only when read at the revision the key saw: a different one is
        # a change made since (or in this transaction), not yet settled.
        if revision is not None and inputs.revision == revision:
            _remember(_inputs_cache, (organization_id, revision), inputs)
    weather = tuple(e for e in inputs.weather if since <= e.occurred_at <= at)
    return replace(inputs.template, now=at, weather_events=weather[:MAX_WEATHER_EVENTS])


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


def contributions_out(result: ScoreResult) -> list[dict[str, Any]]:
    """Each contribution as {signal, label, value}."""
    return [{"signal": c.code, "label": c.label, "value": c.value} for c in result.contributions]


# --- Commands and queries ----------------------------------------------------


async def create_lead(conn: AsyncConnection, actor: Actor, body: LeadCreate) -> dict[str, Any]:
    """Insert a lead, scored now, and record `lead.created`; the lead as JSON (as GET renders it).

    Every column's value is chosen here (ids and timestamps included), so the
    stored row is known without reading it back, and the one JSON rendering
    serves as both the webhook event's `data` and the response body.
    """
    check_contact(body.name, body.company, body.email)
    now = now_ms()
    organization_id = actor.organization_id
    revision = events.cached_config_revision(conn, actor, organization_id)
    context = await scoring_context(conn, organization_id, now, revision=revision)
    result = score_lead(signals_of(body, pain_points=None), context)
    values = dict.fromkeys(_LEAD_COLUMNS)
    values.update(body.model_dump())
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
    out = lead_event_data(lead_out(SimpleNamespace(**values)))
    # The lead is inserted by the statement that records it: one round trip.
    await events.record(
        conn,
        actor,
        "lead.created",
        {
            "lead_id": out["id"],
            "source": values["source"],
            "pipeline_stage": values["pipeline_stage"],
            "lead_score": values["lead_score"],
        },
        data=out,
        change=events.Change(_INSERT_LEAD_ROW, tuple(values[name] for name in _LEAD_COLUMNS)),
    )
    return out


async def _locked(conn: AsyncConnection, organization_id: uuid.UUID, lead_id: uuid.UUID) -> Any:
    row = (await conn.execute(LOCK_LEAD, {"b_org": organization_id, "b_id": lead_id})).first()
    if row is None:
        raise NotFound(f"Lead {lead_id} not found.")
    return row


async def get_lead(
    conn: AsyncConnection, organization_id: uuid.UUID, lead_id: uuid.UUID
) -> dict[str, Any]:
    """One lead of the organization (another tenant's id is a 404)."""
    row = (await conn.execute(SELECT_LEAD, {"b_org": organization_id, "b_id": lead_id})).first()
    if row is None:
        raise NotFound(f"Lead {lead_id} not found.")
    return lead_out(row)


@lru_cache(maxsize=32)
def _list_statement(stage: bool, source: bool, start: bool, end: bool, after: bool) -> Select[Any]:
    """The page query for one combination of filters (built once per combination)."""
    query = select(*LIST_COLUMNS).where(leads.c.organization_id == bindparam("org"))
    if stage:
        query = query.where(leads.c.pipeline_stage == bindparam("stage"))
    if source:
        query = query.where(leads.c.source == bindparam("source"))
    if start:
        query = query.where(leads.c.created_at >= bindparam("start_at"))
    if end:
        query = query.where(leads.c.created_at <= bindparam("end_at"))
    if after:
        # A row comparison is an index range condition, so page 10,000 starts
        # where it should instead of filtering every row before it.
        query = query.where(
            tuple_(leads.c.created_at, leads.c.id)
            < tuple_(
                bindparam("after_at", type_=leads.c.created_at.type),
                bindparam("after_id", type_=leads.c.id.type),
            )
        )
    return query.order_by(leads.c.created_at.desc(), leads.c.id.desc()).limit(
        bindparam("limit", type_=Integer)
    )


async def list_leads(
    conn: AsyncConnection,
    organization_id: uuid.UUID,
    cursor: Cursor | None,
    limit: int,
    *,
    pipeline_stage: str | None = None,
    source: str | None = None,
    start_at: datetime | None = None,
    end_at: datetime | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first, keyset-paginated on (created_at, id); filters are ANDed."""
    query = _list_statement(
        pipeline_stage is not None,
        source is not None,
        start_at is not None,
        end_at is not None,
        cursor is not None,
    )
    params: dict[str, Any] = {
        "org": organization_id,
        "stage": pipeline_stage,
        "source": source,
        "start_at": start_at,
        "end_at": end_at,
        "limit": limit + 1,
    }
    if cursor is not None:
        params.update(after_at=cursor.created_at, after_id=cursor.id)
    rows = (await conn.execute(query, params)).all()
    page, next_cursor = page_of(rows, limit)
    # Rows of LIST_COLUMNS already have the list item's keys.
    return [r._asdict() for r in page], next_cursor


async def update_lead(
    conn: AsyncConnection, actor: Actor, lead_id: uuid.UUID, body: LeadUpdate
) -> dict[str, Any]:
    """Apply whitelisted field changes; one `lead.updated` entry with the real diff."""
    row = await _locked(conn, actor.organization_id, lead_id)
    sent = {k: (v.value if hasattr(v, "value") else v) for k, v in body.changes().items()}
    before = {name: getattr(row, name) for name in sent}
    changes = events.diff(before, sent)
    if not changes:
        return lead_out(row)
    merged = {n: sent.get(n, getattr(row, n)) for n in ("name", "company", "email")}
    check_contact(merged["name"], merged["company"], merged["email"])
    values = {name: change["to"] for name, change in changes.items()}
    values.update(updated_at=now_ms(), b_org=actor.organization_id, b_id=lead_id)
    row = (await conn.execute(UPDATE_LEAD, values)).one()
    out = lead_out(row)
    await events.record(
        conn,
        actor,
        "lead.updated",
        {"lead_id": str(lead_id), "diff": changes},
        data=lead_event_data(out),
    )
    return out


async def rescore_lead(
    conn: AsyncConnection, actor: Actor, lead_id: uuid.UUID
) -> tuple[dict[str, Any], ScoreResult]:
    """Score the lead again from its current fields and the latest settings.

    Pain points and timeline are filled only when empty: values a person set
    are never overwritten by the scorer.
    """
    row = await _locked(conn, actor.organization_id, lead_id)
    context = await scoring_context(conn, actor.organization_id, row.created_at)
    result = score_lead(signals_of(row, pain_points=row.pain_points), context)
    now = now_ms()
    values: dict[str, Any] = {
        "lead_score": result.score,
        "ai_reasoning": result.reasoning,
        "pain_points": row.pain_points if row.pain_points is not None else result.pain_points,
        "timeline": row.timeline if row.timeline is not None else result.timeline,
    }
    changes = events.diff({name: getattr(row, name) for name in values}, values)
    row = (
        await conn.execute(
            UPDATE_LEAD,
            {
                **values,
                "scored_at": now,
                "qualification_completed_at": now,
                "updated_at": now,
                "b_org": actor.organization_id,
                "b_id": lead_id,
            },
        )
    ).one()
    await events.record(
        conn,
        actor,
        "lead.scored",
        {
            "lead_id": str(lead_id),
            "diff": changes,
            "contributions": contributions_out(result),
        },
    )
    out = lead_out(row)
    if changes:
        # The score (or what the scorer fills in) changed: that is a lead.updated
        # event for webhook subscribers, with the same per-field diff.
        await events.record(
            conn,
            actor,
            "lead.updated",
            {"lead_id": str(lead_id), "diff": changes},
            data=lead_event_data(out),
        )
    return out, result
