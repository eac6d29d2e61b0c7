"""Backfilling an organization's call history from CallRail's API v3.

Each call is stored as a webhook would store it, in its own transaction, so an import that
stops halfway keeps what it imported and running it again adds nothing: calls are matched
by their CallRail id. Calls older than two hours are classified but never dispatched
automatically: the caller has waited too long for an automatic text.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from eal.calls.callrail import incoming_of_callrail
from eal.calls.recording import callrail_client
from eal.calls.service import ingest
from eal.db.tx import Tx
from eal.errors import Conflict, NotFound
from eal.kit.identity import Actor
from eal.organizations import repository as organizations
from eal.runtime import Runtime


@dataclass
class ImportSummary:
    """What an import did."""

    organization_id: uuid.UUID
    since: date
    listed: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    outbound_skipped: int = 0
    refused: list[dict[str, str]] = field(default_factory=list)


async def import_callrail(
    runtime: Runtime,
    actor: Actor,
    since: date,
    *,
    until: date | None = None,
    progress: Callable[[ImportSummary], None] | None = None,
) -> ImportSummary:
    """Import every call since `since` for the actor's organization; what was done.

    Raises NotFound (no such organization) and Conflict (no CallRail API key and account);
    CallRail's own errors go through as they are.
    """
    organization_id = actor.organization_id
    async with runtime.db.tenant_transaction(organization_id) as conn:
        if not await organizations.exists(conn, organization_id):
            raise NotFound(f"Organization {organization_id} not found.")
        settings = await organizations.settings_of(conn, organization_id)
    client = callrail_client(settings, runtime.secret_box, runtime.http)
    if client is None:
        raise Conflict(
            "No CallRail API key and account are configured: set "
            "settings.integrations.callrail {api_key, account_id} first.",
            details={"reason": "callrail_not_configured"},
        )
    summary = ImportSummary(organization_id=organization_id, since=since)
    allow_private = runtime.settings.allow_private_webhook_urls
    async for call in client.calls(since, until=until):
        summary.listed += 1
        if call.direction != "inbound":
            summary.outbound_skipped += 1
        else:
            async with runtime.db.tenant_transaction(organization_id) as conn:
                tx = Tx(conn, actor=actor, clock=runtime.clock)
                try:
                    incoming = incoming_of_callrail(
                        call, allow_private=allow_private, now=runtime.clock.now()
                    )
                except ValueError as exc:
                    summary.refused.append({"id": call.id, "error": str(exc)})
                    continue
                before = tx.now()
                stored = await ingest(tx, incoming, stt_enabled=runtime.settings.stt_enabled)
                if stored.created:
                    summary.created += 1
                elif stored.row.updated_at >= before:
                    summary.updated += 1
                else:
                    summary.unchanged += 1
        if progress is not None:
            progress(summary)
    return summary
