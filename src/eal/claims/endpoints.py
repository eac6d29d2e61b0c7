"""Claims endpoints: the API, and the signed links (uploads, thumbnails, the summary)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from starlette.responses import Response

from eal.api.deps import RuntimeDep, TxDep
from eal.api.paging import PageParams
from eal.api.responses import model_response
from eal.api.routing import api_router
from eal.auth.context import AuthContext
from eal.auth.deps import require
from eal.auth.scopes import Scope
from eal.claims import intake, links, service, views
from eal.claims import repository as claims
from eal.claims.responses import (
    ClaimListItem,
    ClaimOut,
    ClaimPage,
    ClaimQueued,
    ClaimReviewOut,
    PhotoStored,
    ScopeItemOut,
    UploadsOut,
)
from eal.claims.schemas import (
    CLAIM_ID_PATTERN,
    ClaimCreate,
    ClaimReviewRequest,
    ClaimStatus,
    DryingLogIn,
    ItemCreate,
    LossType,
    RoomsIn,
    UploadRequest,
)
from eal.db.tx import Tx
from eal.kit.paging import Page
from eal.runtime import Runtime

ClaimsRead = Annotated[AuthContext, Depends(require(Scope.READ))]
ClaimsWrite = Annotated[AuthContext, Depends(require(Scope.WRITE))]
ClaimIdParam = Annotated[
    str, Path(pattern=f"^{CLAIM_ID_PATTERN}$", description="A claim id: `clm_` and 32 hex digits.")
]
Exp = Annotated[int, Query(ge=0, le=2**40)]
Sig = Annotated[str, Query(min_length=1, max_length=100)]

router = api_router(tags=["claims"])
#: Signed links at the root, outside the versioned API: the URL is the credential.
files = api_router(tags=["claims-links"], accepts_files=True, include_in_schema=False)


async def claim_out(tx: Tx, runtime: Runtime, claim_id: str) -> ClaimOut:
    """A claim as GET /claims/{id} shows it (the console reads it the same way)."""
    row = await service.claim_row(tx, service.claim_id_of(claim_id))
    return await _render(tx, runtime, row)


async def _render(tx: Tx, runtime: Runtime, row: Any) -> ClaimOut:
    org = tx.actor.organization_id
    photos = await claims.photos(tx.conn, org, row.id)
    items = await claims.items(tx.conn, org, row.id)
    return views.claim_of(
        row,
        photos,
        items,
        signer=runtime.signer,
        public_url=runtime.settings.public_url,
        now=tx.now(),
    )


@router.get("/claims", response_model=ClaimPage)
async def list_claims(
    auth: ClaimsRead,
    tx: TxDep,
    page: PageParams,
    status: ClaimStatus | None = None,
    loss_type: LossType | None = None,
) -> Page[ClaimListItem]:
    """Claim documentation jobs, newest first; filter by status and loss_type."""
    return await service.list_claims(
        tx,
        page,
        status=status.value if status else None,
        loss_type=loss_type.value if loss_type else None,
    )


@router.post("/claims", status_code=202, response_model=ClaimQueued)
async def create_claim(body: ClaimCreate, auth: ClaimsWrite, tx: TxDep) -> Response:
    """Create a documentation job: a CompanyCam project is imported, uploads start collecting."""
    return model_response(await service.create_claim(tx, body), status_code=202)


@router.get("/claims/{claim_id}", response_model=ClaimOut)
async def get_claim(
    claim_id: ClaimIdParam, auth: ClaimsRead, tx: TxDep, runtime: RuntimeDep
) -> Response:
    """The claim: rooms with their scope lines, photos, drying log, summary links."""
    return model_response(await claim_out(tx, runtime, claim_id))


@router.put("/claims/{claim_id}/rooms", response_model=ClaimOut)
async def replace_rooms(
    claim_id: ClaimIdParam, body: RoomsIn, auth: ClaimsWrite, tx: TxDep, runtime: RuntimeDep
) -> Response:
    """Replace the claim's rooms (extraction runs again once it has run)."""
    row = await service.replace_rooms(tx, service.claim_id_of(claim_id), body)
    return model_response(await _render(tx, runtime, row))


@router.put("/claims/{claim_id}/drying-log", response_model=ClaimOut)
async def replace_drying_log(
    claim_id: ClaimIdParam, body: DryingLogIn, auth: ClaimsWrite, tx: TxDep, runtime: RuntimeDep
) -> Response:
    """Replace the drying log (temperature and RH per room and outside; GPP computed)."""
    row = await service.replace_drying_log(tx, service.claim_id_of(claim_id), body)
    return model_response(await _render(tx, runtime, row))


@router.post("/claims/{claim_id}/extract", status_code=202, response_model=ClaimQueued)
async def extract_claim(claim_id: ClaimIdParam, auth: ClaimsWrite, tx: TxDep) -> Response:
    """Run extraction now (again); decisions on unchanged lines are kept."""
    queued = await service.request_extraction(tx, service.claim_id_of(claim_id))
    return model_response(queued, status_code=202)


@router.post("/claims/{claim_id}/import", status_code=202, response_model=ClaimQueued)
async def import_claim_photos(claim_id: ClaimIdParam, auth: ClaimsWrite, tx: TxDep) -> Response:
    """Import the CompanyCam project's new photos (then extract)."""
    queued = await service.request_import(tx, service.claim_id_of(claim_id))
    return model_response(queued, status_code=202)


@router.post("/claims/{claim_id}/uploads", response_model=UploadsOut)
async def create_uploads(
    claim_id: ClaimIdParam, body: UploadRequest, auth: ClaimsWrite, tx: TxDep, runtime: RuntimeDep
) -> Response:
    """One signed PUT URL per file (15 minutes; bound to the claim, the file's type and size)."""
    row = await service.claim_row(tx, service.claim_id_of(claim_id))
    out = intake.upload_links(
        runtime.signer,
        runtime.settings.public_url,
        row.id,
        body,
        tx.now(),
        key_id=tx.actor.key_id,
    )
    return model_response(out)


@router.post("/claims/{claim_id}/review", response_model=ClaimReviewOut)
async def review_claim(
    claim_id: ClaimIdParam, body: ClaimReviewRequest, auth: ClaimsWrite, tx: TxDep
) -> Response:
    """Approve, edit or reject scope lines: all of the batch is recorded, or none."""
    return model_response(await service.review(tx, service.claim_id_of(claim_id), body))


@router.post("/claims/{claim_id}/items", status_code=201, response_model=ScopeItemOut)
async def add_claim_item(
    claim_id: ClaimIdParam, body: ItemCreate, auth: ClaimsWrite, tx: TxDep
) -> Response:
    """Add a scope line by hand (it needs a decision like any other)."""
    uid = service.claim_id_of(claim_id)
    item_id = await service.add_item(tx, uid, body)
    rows = await claims.items(tx.conn, tx.actor.organization_id, uid)
    item = next(r for r in rows if r.id == item_id)
    return model_response(views.item_of(item), status_code=201)


# -- signed links ----------------------------------------------------------------


@files.put("/claims/{claim_id}/uploads/{token}", status_code=201, response_model=PhotoStored)
async def put_upload(
    claim_id: ClaimIdParam, token: str, request: Request, tx: TxDep, runtime: RuntimeDep
) -> Response:
    """Store the file a signed upload URL was made for; 201 with the photo's id."""
    stored = await links.store_upload(tx, runtime, request, claim_id, token)
    return model_response(stored, status_code=201)


@files.get("/claims/{claim_id}/photos/{photo_id}.jpg")
async def thumbnail(
    claim_id: ClaimIdParam,
    photo_id: str,
    request: Request,
    tx: TxDep,
    runtime: RuntimeDep,
    exp: Exp,
    sig: Sig,
) -> Response:
    """A photo's thumbnail (JPEG); the link is signed, no key needed."""
    data = await links.thumbnail(tx, runtime, request, claim_id, photo_id, exp=exp, sig=sig)
    return Response(
        data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=300"}
    )


@files.get("/claims/{claim_id}.pdf")
async def summary_pdf(
    claim_id: ClaimIdParam, request: Request, tx: TxDep, runtime: RuntimeDep, exp: Exp, sig: Sig
) -> Response:
    """The claim's summary as a PDF; the link is signed, no key needed."""
    data = await links.summary_file(tx, runtime, request, claim_id, "pdf", exp=exp, sig=sig)
    return Response(
        data,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{claim_id}.pdf"'},
    )


@files.get("/claims/{claim_id}.txt")
async def summary_txt(
    claim_id: ClaimIdParam, request: Request, tx: TxDep, runtime: RuntimeDep, exp: Exp, sig: Sig
) -> Response:
    """The claim's summary as text laid out to paste line by line."""
    data = await links.summary_file(tx, runtime, request, claim_id, "txt", exp=exp, sig=sig)
    return Response(data, media_type="text/plain; charset=utf-8")
