"""Which event types an organization's enabled webhooks subscribe to, cached per config revision.

Knowing that nobody listens lets `record` skip building and sending delivery
bodies for most audit entries (measured: most entries of a busy organization
have no subscriber, and building two JSON bodies per entry cost more than the
rest of the append). The database raises an organization's
`config_revision` whenever one of its webhook endpoints changes, and every
request reads that revision with its API key, so an entry cached under it is
current for the request.
"""

from __future__ import annotations

import uuid
from typing import Any

from eal.kit.revcache import RevisionCache

_SUBSCRIBED = (
    "SELECT o.config_revision, coalesce(("
    "  SELECT array_agg(DISTINCT t.event_type) FROM webhook_endpoints e,"
    "  unnest(e.events) AS t(event_type)"
    "  WHERE e.organization_id = $1 AND e.enabled AND e.deleted_at IS NULL"
    "), '{}'::text[]) AS event_types "
    "FROM organizations o WHERE o.id = $1"
)

subscribed_cache: RevisionCache[frozenset[str]] = RevisionCache()


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
    types = subscribed_cache.get(organization_id, revision)
    if types is not None:
        return types
    row = await driver.fetchrow(_SUBSCRIBED, organization_id)
    if row is None:
        raise RuntimeError(f"organization {organization_id} is not visible to its own tenant")
    types = frozenset(row["event_types"])
    if row["config_revision"] == revision:
        subscribed_cache.put(organization_id, revision, types)
    return types
