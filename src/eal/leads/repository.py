"""Statements of the leads domain and the mapping from rows to the API's lead models.

Other modules (the CRM push, later calls and outreach) import this module,
not the service, for lead rows.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Integer, Row, Select, bindparam, select, tuple_, update
from sqlalchemy import func as sa_func
from sqlalchemy.ext.asyncio import AsyncConnection

from eal.kit.paging import PageQuery
from eal.leads.models import leads
from eal.leads.schemas import CrmStatus, CrmSyncOut, LeadListItem, LeadOut

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
# or a filtered SELECT cost more CPU (~0.2 ms, measured) than scoring the lead.
_BY_ID = (leads.c.organization_id == bindparam("b_org"), leads.c.id == bindparam("b_id"))
_SELECT = select(leads).where(*_BY_ID)
# FOR NO KEY UPDATE: serialises changes and pushes of one lead without blocking
# the foreign-key checks (KEY SHARE) that audit and delivery inserts make.
_LOCK = _SELECT.with_for_update(key_share=True)
# The SET clause is the set of column keys in the parameters of each execution.
_UPDATE = update(leads).where(*_BY_ID).returning(*leads.c)
_UPDATE_UNLESS_SYNCED = _UPDATE.where(leads.c.crm_status.is_distinct_from(CrmStatus.OK.value))

COLUMNS = tuple(str(column.name) for column in leads.c)
"""Every column, in table order (plain str: SQLAlchemy's names are a str subclass)."""
INSERT_ROW = "INSERT INTO leads ({}) VALUES ({})".format(
    ", ".join(COLUMNS), ", ".join(f"${n}" for n in range(1, len(COLUMNS) + 1))
)
"""Creating a lead (the hottest write) runs on the driver with every column given,
inside the statement that records it (see `events.Change`)."""

_LIST_NAMES = tuple(str(column.name) for column in LIST_COLUMNS)
_DETAIL_NAMES = (
    "phone",
    "phone_valid",
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
)


def crm_sync_of(row: Any) -> CrmSyncOut | None:
    """The lead's CRM sync state, or None when it was never pushed."""
    if row.crm_status is None:
        return None
    return CrmSyncOut.model_construct(
        vendor=row.crm_vendor,
        external_id=row.crm_external_id,
        status=row.crm_status,
        last_synced_at=row.crm_last_synced_at,
        error=row.crm_error,
    )


def list_item_of(row: Any) -> LeadListItem:
    """A lead as list pages show it."""
    # Not validated: the values come typed from the database (or from the
    # service that just wrote them), and this runs once per listed lead.
    return LeadListItem.model_construct(**{name: getattr(row, name) for name in _LIST_NAMES})


def lead_of(row: Any) -> LeadOut:
    """A leads row (or anything with its column names) as GET /leads/{id} returns it."""
    values = {name: getattr(row, name) for name in _LIST_NAMES}
    for name in _DETAIL_NAMES:
        values[name] = getattr(row, name)
    values["crm_sync"] = crm_sync_of(row)
    return LeadOut.model_construct(**values)


async def get(conn: AsyncConnection, organization_id: uuid.UUID, lead_id: uuid.UUID) -> Any:
    """The lead row, or None."""
    return (await conn.execute(_SELECT, {"b_org": organization_id, "b_id": lead_id})).first()


async def get_many(
    conn: AsyncConnection, organization_id: uuid.UUID, lead_ids: list[uuid.UUID]
) -> list[Row[Any]]:
    """The organization's leads among `lead_ids` (unknown ids are left out)."""
    if not lead_ids:
        return []
    rows = await conn.execute(
        select(leads).where(leads.c.organization_id == organization_id, leads.c.id.in_(lead_ids))
    )
    return list(rows.all())


async def find_by_phone(
    conn: AsyncConnection, organization_id: uuid.UUID, phone: str
) -> Row[Any] | None:
    """The newest lead with this (E.164) phone number."""
    return (
        await conn.execute(
            select(leads)
            .where(leads.c.organization_id == organization_id, leads.c.phone == phone)
            .order_by(leads.c.created_at.desc())
            .limit(1)
        )
    ).first()


async def find_by_email(
    conn: AsyncConnection, organization_id: uuid.UUID, email: str
) -> Row[Any] | None:
    """The newest lead with this email address (compared without case)."""
    return (
        await conn.execute(
            select(leads)
            .where(
                leads.c.organization_id == organization_id,
                sa_func.lower(leads.c.email) == email.lower(),
            )
            .order_by(leads.c.created_at.desc())
            .limit(1)
        )
    ).first()


async def lock(conn: AsyncConnection, organization_id: uuid.UUID, lead_id: uuid.UUID) -> Any:
    """The lead row locked for a change (NO KEY UPDATE), or None."""
    return (await conn.execute(_LOCK, {"b_org": organization_id, "b_id": lead_id})).first()


async def update_columns(
    conn: AsyncConnection,
    organization_id: uuid.UUID,
    lead_id: uuid.UUID,
    values: dict[str, Any],
    *,
    unless_synced: bool = False,
) -> Row[Any] | None:
    """Set `values` on the lead; its new row (None when `unless_synced` and it is synced)."""
    statement = _UPDATE_UNLESS_SYNCED if unless_synced else _UPDATE
    params = {**values, "b_org": organization_id, "b_id": lead_id}
    return (await conn.execute(statement, params)).first()


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


async def search(
    conn: AsyncConnection, organization_id: uuid.UUID, text: str, limit: int
) -> list[Row[Any]]:
    """Leads whose name, company, email or phone contains `text`, newest first."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    query = (
        select(*[leads.c[name] for name in _LIST_NAMES])
        .where(
            leads.c.organization_id == organization_id,
            leads.c.name.ilike(pattern, escape="\\")
            | leads.c.company.ilike(pattern, escape="\\")
            | leads.c.email.ilike(pattern, escape="\\")
            | leads.c.phone.ilike(pattern, escape="\\"),
        )
        .order_by(leads.c.created_at.desc(), leads.c.id.desc())
        .limit(limit)
    )
    return list((await conn.execute(query)).all())


async def page(
    conn: AsyncConnection,
    organization_id: uuid.UUID,
    page: PageQuery,
    *,
    pipeline_stage: str | None = None,
    source: str | None = None,
    start_at: datetime | None = None,
    end_at: datetime | None = None,
) -> list[Row[Any]]:
    """Newest first, one row over the page; filters are ANDed.

    The statement per filter combination is prepared once (not through
    `PageQuery.apply`): the list is hot, and building it per request cost
    more than running it.
    """
    cursor = page.cursor
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
        "limit": page.limit + 1,
    }
    if cursor is not None:
        params.update(after_at=cursor.created_at, after_id=cursor.id)
    return list((await conn.execute(query, params)).all())
