"""Which event types an organization's enabled webhooks subscribe to, cached per config revision.

Knowing that nobody listens lets `events.record` skip building and sending
delivery bodies for most audit entries. The database raises an
organization's `config_revision` whenever one of its webhook endpoints
changes, and every request reads that revision with its API key, so an
entry cached under it is current for the request.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from typing import Any

_SUBSCRIBED = (
    "SELECT o.config_revision, coalesce(("
    "  SELECT array_agg(DISTINCT t.event_type) FROM webhook_endpoints e,"
    "  unnest(e.events) AS t(event_type)"
    "  WHERE e.organization_id = $1 AND e.enabled AND e.deleted_at IS NULL"
    "), '{}'::text[]) AS event_types "
    "FROM organizations o WHERE o.id = $1"
)

_CACHE_SIZE = 4096
_subscribed: OrderedDict[tuple[uuid.UUID, int], frozenset[str]] = OrderedDict()


async def subscribed_types(
    driver: Any, organization_id: uuid.UUID, revision: int
) -> frozenset[str]:
    """The event types some enabled endpoint of the organization subscribes to.

    `driver` is the asyncpg connection of the caller's transaction (whose
    tenant is the organization); `revision` its config revision as the
    transaction read it. A miss costs one query, whose answer is kept under
    the revision when that is still `revision` (else this transaction or a
    later commit changed the endpoints, and the answer is used once).
    """
    key = (organization_id, revision)
    types = _subscribed.get(key)
    if types is not None:
        _subscribed.move_to_end(key)
        return types
    row = await driver.fetchrow(_SUBSCRIBED, organization_id)
    if row is None:
        raise RuntimeError(f"organization {organization_id} is not visible to its own tenant")
    types = frozenset(row["event_types"])
    if row["config_revision"] == revision:
        _subscribed[key] = types
        if len(_subscribed) > _CACHE_SIZE:
            _subscribed.popitem(last=False)
    return types
