"""Background work of claims: importing CompanyCam photos, and extraction.

The import reads the project, then each photo the claim does not have yet
(CompanyCam's photo id is kept), one transaction per photo so a retried job
goes on where it stopped; vendor calls happen outside any transaction. A
transient failure (network, 429, 5xx) is retried with backoff; a permanent
one (a refused key, an unknown project), or the last attempt, is kept as the
claim's `import_error`, and extraction runs on what the claim has: nothing a
person entered waits on a vendor.
"""

from __future__ import annotations

import asyncio
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog

from eal import events, jobs
from eal.claims import extraction, intake, repository, service
from eal.claims.images import MAX_PHOTO_BYTES, ImageRejected, inspect_image
from eal.claims.schemas import CLAIM_PREFIX, PHOTO_PREFIX, ClaimStatus
from eal.claims.service import EXTRACT_TASK, IMPORT_TASK, ClaimJob
from eal.claims.settings import ConnectorUnreadable, companycam_client
from eal.events import Action
from eal.integrations.companycam import CompanyCamError
from eal.kit.ids import public_id
from eal.kit.outbound import UnsafeUrl
from eal.organizations import repository as organizations

log = structlog.get_logger("eal.claims")

IMPORT_RETRY = jobs.RetryPolicy(max_attempts=6)
EXTRACT_RETRY = jobs.RetryPolicy(max_attempts=3)


class _Failed(Exception):
    """The import cannot succeed by trying again; the message says why."""


def _zone(settings: dict[str, Any]) -> ZoneInfo:
    try:
        return ZoneInfo(settings.get("timezone") or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


async def import_photos(ctx: jobs.JobContext, payload: ClaimJob) -> None:
    """Import the claim's new CompanyCam photos, then queue its extraction."""
    async with ctx.transaction() as tx:
        claim = await repository.get(tx.conn, ctx.organization_id, payload.claim_id)
        if claim is None or claim.source_vendor != "companycam":
            return
        settings = await organizations.settings_of(tx.conn, ctx.organization_id)
        known = await repository.external_ids(tx.conn, claim.id)
    runtime = ctx.runtime
    added: list[str] = []
    skipped: list[dict[str, str]] = []
    error: str | None = None
    try:
        client = companycam_client(settings, runtime.secret_box, runtime.http)
        if client is None:
            raise _Failed(
                "CompanyCam is not configured: set settings.integrations.companycam.api_key"
            )
        async with client:
            project = await client.project(claim.source_project_id)
            if project.coordinates is not None and claim.loss_lat is None:
                async with ctx.transaction() as tx:
                    claim = await repository.update(
                        tx.conn,
                        ctx.organization_id,
                        claim.id,
                        loss_lat=project.coordinates[0],
                        loss_lon=project.coordinates[1],
                        address=claim.address or project.address or None,
                    )
            async for photo in client.photos(claim.source_project_id):
                if photo.id in known or photo.original_url is None:
                    continue
                try:
                    data, _ = await client.download(photo.original_url, max_bytes=MAX_PHOTO_BYTES)
                except CompanyCamError as exc:
                    if exc.transient:
                        raise
                    skipped.append({"photo": photo.id, "reason": exc.message})
                    known.add(photo.id)
                    continue
                try:
                    facts = await asyncio.to_thread(inspect_image, data)
                except ImageRejected as exc:
                    skipped.append({"photo": photo.id, "reason": exc.message})
                    known.add(photo.id)
                    continue
                async with ctx.transaction() as tx:
                    current = await repository.get(
                        tx.conn, ctx.organization_id, claim.id, lock=True
                    )
                    if current is None:
                        return
                    row = await intake.store_photo(
                        tx,
                        runtime.storage,
                        current,
                        facts,
                        data,
                        source="companycam",
                        external_id=photo.id,
                        tags=photo.tags,
                        description=photo.description,
                        captured_at=photo.captured_at,
                        gps=photo.coordinates,
                        zone=_zone(settings),
                    )
                    if row is not None:
                        await intake.count_photos(tx, current)
                        added.append(public_id(PHOTO_PREFIX, row.id))
                known.add(photo.id)
    except CompanyCamError as exc:
        if exc.transient and ctx.attempt < IMPORT_RETRY.max_attempts:
            raise
        error = f"CompanyCam: {exc.message}"
    except (_Failed, ConnectorUnreadable) as exc:
        error = str(exc)
    except UnsafeUrl as exc:
        error = f"CompanyCam's address is refused: {exc.reason}"
    async with ctx.transaction() as tx:
        claim = await repository.get(tx.conn, ctx.organization_id, payload.claim_id, lock=True)
        if claim is None:
            return
        claim = await repository.update(
            tx.conn,
            ctx.organization_id,
            claim.id,
            imported_at=tx.now() if error is None else claim.imported_at,
            import_error=error,
            updated_at=tx.now(),
        )
        fields = {
            "claim_id": public_id(CLAIM_PREFIX, claim.id),
            "project_id": claim.source_project_id,
            "photo_ids": added,
            "skipped": skipped,
        }
        if error is None:
            await events.record(tx, Action.CLAIM_PHOTOS_IMPORTED, fields)
        else:
            log.warning("claim_import_failed", claim_id=fields["claim_id"], error=error)
            await events.record(tx, Action.CLAIM_IMPORT_FAILED, {**fields, "error": error})
        await intake.assign_rooms(tx, claim)
        await service.queue_extraction(tx, claim)


async def extract(ctx: jobs.JobContext, payload: ClaimJob) -> None:
    """Run the scope calculator on the claim and store its lines (`claim.scope.ready`)."""
    async with ctx.transaction() as tx:
        claim = await repository.get(tx.conn, ctx.organization_id, payload.claim_id, lock=True)
        if claim is None or claim.status != ClaimStatus.EXTRACTING.value:
            return
        photos = await repository.photos(tx.conn, ctx.organization_id, claim.id)
        settings = await organizations.settings_of(tx.conn, ctx.organization_id)
        scope = extraction.compute(claim, photos, settings)
        await extraction.store(tx, claim, scope)


jobs.task(IMPORT_TASK, payload=ClaimJob, retry=IMPORT_RETRY)(import_photos)
jobs.task(EXTRACT_TASK, payload=ClaimJob, retry=EXTRACT_RETRY)(extract)

__all__ = ["extract", "import_photos"]
