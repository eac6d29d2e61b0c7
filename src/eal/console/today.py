"""The Today page's figures: what came in, and what waits for a person.

Each figure is one indexed count under the session's tenant (row-level
security applies), the call figures from the calls domain's own stats.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from eal.calls import service as calls
from eal.calls.models import calls as calls_table
from eal.calls.schemas import CallStats, StatsWindow
from eal.claims.models import claims
from eal.content.models import content_items
from eal.db.tx import Tx
from eal.leads.models import leads
from eal.webhooks.models import webhook_endpoints

#: Claims whose scope waits for a decision.
CLAIMS_TO_REVIEW = ("ready_for_review", "partially_reviewed")


@dataclass(frozen=True, slots=True)
class Today:
    """The figures of the Today page."""

    calls: CallStats
    new_leads: int
    calls_for_owner_review: int
    claims_to_review: int
    replies_to_approve: int
    failing_webhooks: int


async def _count(tx: Tx, table: sa.Table, *where: sa.ColumnElement[bool]) -> int:
    org = tx.actor.organization_id
    query = sa.select(sa.func.count()).select_from(table).where(table.c.organization_id == org)
    return int(await tx.conn.scalar(query.where(*where)) or 0)


async def today(tx: Tx) -> Today:
    """The last 24 hours' calls and leads, and the work waiting for someone."""
    since = tx.now() - timedelta(hours=24)
    return Today(
        calls=await calls.stats(tx, StatsWindow.H24),
        new_leads=await _count(tx, leads, leads.c.created_at >= since),
        calls_for_owner_review=await _count(
            tx,
            calls_table,
            calls_table.c.dispatch_action == "owner_review",
            calls_table.c.corrected.is_(False),
            calls_table.c.received_at >= tx.now() - timedelta(days=7),
        ),
        claims_to_review=await _count(tx, claims, claims.c.status.in_(CLAIMS_TO_REVIEW)),
        replies_to_approve=await _count(
            tx,
            content_items,
            content_items.c.type == "review_response",
            content_items.c.status == "pending_owner_approval",
        ),
        failing_webhooks=await _count(
            tx,
            webhook_endpoints,
            webhook_endpoints.c.deleted_at.is_(None),
            sa.or_(
                webhook_endpoints.c.failing_since.is_not(None),
                webhook_endpoints.c.enabled.is_(False),
            ),
        ),
    )
