"""What the signed links do: store an upload, serve a thumbnail, render the summary.

They carry no API key: the signature is checked first (an altered or expired
link is a 403 and touches nothing), then the claim's organization becomes
the transaction's tenant, as for any request.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from fastapi import Request

from eal.auth.deps import limit_anonymous
from eal.claims import intake, repository, service, summary
from eal.claims.images import ImageRejected, inspect_image
from eal.claims.responses import PhotoStored
from eal.claims.schemas import CLAIM_PREFIX, PHOTO_PREFIX, ClaimStatus
from eal.db.tx import Tx
from eal.errors import Conflict, Forbidden, NotFound, UnsupportedMediaType, ValidationFailed
from eal.kit.identity import Actor, Source
from eal.kit.ids import parse_public_id
from eal.kit.signed import ExpiredToken, InvalidToken
from eal.logging import bind_organization
from eal.runtime import Runtime
from eal.storage import StorageNotFound


async def _open(tx: Tx, request: Request, claim_id: uuid.UUID, key_id: uuid.UUID | None) -> Any:
    organization_id = await repository.open_tenant(tx.conn, claim_id)
    if organization_id is None:
        raise NotFound("This claim does not exist.")
    tx.bind(
        Actor(
            organization_id=organization_id,
            source=Source.API,
            correlation_id=request.state.request_id,
            key_id=key_id,
        ),
        config_revision=None,
    )
    bind_organization(organization_id)
    return organization_id


def _refused(exc: InvalidToken, what: str) -> Forbidden:
    if isinstance(exc, ExpiredToken):
        return Forbidden(f"This {what} link has expired.", details={"link": "expired"})
    return Forbidden(f"This {what} link is not valid.", details={"link": "invalid"})


def _media(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


async def store_upload(
    tx: Tx, runtime: Runtime, request: Request, claim_id: str, token: str
) -> PhotoStored:
    """Store the one file a signed upload URL allows; errors change nothing."""
    await limit_anonymous(request)
    try:
        grant = intake.UploadGrant.unpack(
            runtime.signer.verify(intake.UPLOAD_PURPOSE, token, now=tx.now())
        )
    except InvalidToken as exc:
        raise _refused(exc, "upload") from exc
    except (ValueError, TypeError) as exc:
        raise Forbidden("This upload link is not valid.", details={"link": "invalid"}) from exc
    if parse_public_id(CLAIM_PREFIX, claim_id) != grant.claim_id:
        raise Forbidden("This upload link is for another claim.", details={"link": "invalid"})
    sent_type = _media(request.headers.get("content-type"))
    if sent_type != grant.content_type:
        raise UnsupportedMediaType(
            f"This link is for a {grant.content_type} file; send that Content-Type.",
            details={"expected": grant.content_type, "content_type": sent_type or None},
        )
    data = await request.body()
    if len(data) != grant.size:
        raise ValidationFailed(
            f"This link is for a file of {grant.size} bytes; {len(data)} were sent.",
            details={"fields": [{"field": "body", "message": f"must be {grant.size} bytes"}]},
        )
    try:
        # Decoding is CPU work (up to a second for a HEIC): off the event loop.
        facts = await asyncio.to_thread(inspect_image, data, declared_type=grant.content_type)
    except ImageRejected as exc:
        raise ValidationFailed(
            f"{grant.filename}: {exc.message}",
            details={"fields": [{"field": "body", "message": exc.message}]},
        ) from exc
    await _open(tx, request, grant.claim_id, grant.key_id)
    claim = await repository.get(tx.conn, tx.actor.organization_id, grant.claim_id, lock=True)
    if claim is None:
        raise NotFound("This claim does not exist.")
    settings_zone = await summary.organization_zone(tx)
    photo = await intake.store_photo(
        tx,
        runtime.storage,
        claim,
        facts,
        data,
        source="upload",
        filename=grant.filename,
        external_id=f"upload:{grant.nonce}",
        zone=settings_zone,
    )
    if photo is None:
        raise Conflict(
            "This upload link was used already: ask for a new one to add another file.",
            details={"link": "used"},
        )
    claim = await intake.count_photos(tx, claim)
    await intake.record_upload(tx, claim, photo)
    if claim.status not in (ClaimStatus.COLLECTING.value, ClaimStatus.EXTRACTING.value):
        # Photo summaries are part of the scope's evidence: bring them up to date.
        await service.queue_extraction(tx, claim)
    return intake.stored_of(photo)


async def thumbnail(
    tx: Tx,
    runtime: Runtime,
    request: Request,
    claim_id: str,
    photo_id: str,
    *,
    exp: int,
    sig: str,
) -> bytes:
    """The thumbnail a signed link names."""
    await limit_anonymous(request)
    try:
        runtime.signer.verify_query(
            intake.THUMBNAIL_PURPOSE, f"{claim_id}/{photo_id}", exp=exp, sig=sig, now=tx.now()
        )
    except InvalidToken as exc:
        raise _refused(exc, "thumbnail") from exc
    claim_uid = service.claim_id_of(claim_id)
    photo_uid = parse_public_id(PHOTO_PREFIX, photo_id)
    organization_id = await _open(tx, request, claim_uid, None)
    photo = (
        await repository.photo(tx.conn, organization_id, claim_uid, photo_uid)
        if photo_uid is not None
        else None
    )
    if photo is None:
        raise NotFound(f"Photo {photo_id} not found.")
    try:
        return await runtime.storage.get(photo.thumbnail_key)
    except StorageNotFound as exc:
        raise NotFound(f"Photo {photo_id} has no stored thumbnail.") from exc


async def summary_file(
    tx: Tx, runtime: Runtime, request: Request, claim_id: str, kind: str, *, exp: int, sig: str
) -> bytes:
    """The claim's summary (`kind` pdf or txt) a signed link names."""
    await limit_anonymous(request)
    try:
        runtime.signer.verify_query(
            intake.SUMMARY_PURPOSE, f"{claim_id}.{kind}", exp=exp, sig=sig, now=tx.now()
        )
    except InvalidToken as exc:
        raise _refused(exc, "summary") from exc
    claim_uid = service.claim_id_of(claim_id)
    await _open(tx, request, claim_uid, None)
    report = await summary.build(tx, runtime.storage, claim_uid, with_thumbnails=kind == "pdf")
    if kind == "pdf":
        # Rendering is CPU work: off the event loop, so other requests go on meanwhile.
        return await asyncio.to_thread(summary.render_pdf, report)
    return summary.render_text(report).encode("utf-8")
