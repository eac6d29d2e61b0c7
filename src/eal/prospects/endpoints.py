"""Prospects endpoints: thin wrappers around the service, the importer and qualification."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from starlette.responses import Response

from eal.api.deps import RuntimeDep, TxDep
from eal.api.paging import PageParams
from eal.api.responses import model_response
from eal.api.routing import CSV, api_router
from eal.auth.context import AuthContext
from eal.auth.deps import require
from eal.auth.scopes import Scope
from eal.errors import UnsupportedMediaType
from eal.kit.paging import Page
from eal.kit.schemas import BLANK_CHARS
from eal.prospects import importer, service
from eal.prospects.schemas import (
    BATCH_ID_PATTERN,
    FIELDS,
    MAX_IMPORT_ROWS,
    BatchOut,
    BatchQueued,
    EnrolledOut,
    EnrollProspect,
    ImportResult,
    OutreachStatus,
    ProspectCreate,
    ProspectListItem,
    ProspectOut,
    ProspectPage,
    ProspectUpdate,
    QualificationOut,
    QualificationStatus,
    QualifyRequest,
    Vertical,
)

ProspectsRead = Annotated[AuthContext, Depends(require(Scope.READ))]
ProspectsWrite = Annotated[AuthContext, Depends(require(Scope.WRITE))]
BatchIdParam = Annotated[
    str, Path(pattern=f"^{BATCH_ID_PATTERN}$", description="`qbat_` and 32 hex digits.")
]

router = api_router(tags=["prospects"])
imports = api_router(tags=["prospects"], accepts_csv=True)

#: The CSV body's document (its schema is a component, with an example, as every body's is).
_CSV_EXAMPLE = (
    "company_name,contact_name,contact_email,vertical,postal_code,buildings_managed\n"
    "Sandy Springs Property Group,Daniel Park,dpark@example.com,property_management,30328,28\n"
)
_ROW = r'[^"\r\n\x00]*'
#: What the document promises is accepted: the columns in FIELDS order (each at most once,
#: company_name first), then at least one non-blank row. The server also takes any column
#: order and quoted cells; a file it cannot read is a 422.
_CSV_PATTERN = (
    r"^\ufeff?company_name"
    + "".join(f"(,{name})?" for name in FIELDS[1:])
    + rf'\r?\n[^"\r\n\x00]*[^"{BLANK_CHARS},\x00]{_ROW}(\r?\n{_ROW})*$'
)
_CSV_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"text/csv": {"schema": {"$ref": "#/components/schemas/ProspectCsv"}}},
    },
    "x-eal-schemas": {
        "ProspectCsv": {
            "type": "string",
            "title": "ProspectCsv",
            "pattern": _CSV_PATTERN,
            "description": f"UTF-8 CSV (a BOM is allowed), a header row naming columns among "
            f"{', '.join(FIELDS)} (company_name required), up to {MAX_IMPORT_ROWS:,} rows.",
            "examples": [_CSV_EXAMPLE],
        }
    },
}


@router.get("/prospects", response_model=ProspectPage)
async def list_prospects(
    auth: ProspectsRead,
    tx: TxDep,
    page: PageParams,
    qualification_status: QualificationStatus | None = None,
    vertical: Vertical | None = None,
    outreach_status: OutreachStatus | None = None,
) -> Page[ProspectListItem]:
    """Prospects, newest first; filter by qualification_status, vertical, outreach_status."""
    return await service.list_prospects(
        tx,
        page,
        qualification_status=qualification_status.value if qualification_status else None,
        vertical=vertical.value if vertical else None,
        outreach_status=outreach_status.value if outreach_status else None,
    )


@router.post("/prospects", status_code=201, response_model=ProspectOut)
async def create_prospect(body: ProspectCreate, auth: ProspectsWrite, tx: TxDep) -> Response:
    """Create a prospect (pending qualification, no outreach); a duplicate is a 409."""
    return model_response(await service.create_prospect(tx, body), status_code=201)


@imports.post(
    "/prospects/import",
    response_model=ImportResult,
    openapi_extra=_CSV_BODY,
    responses={413: {"description": "Body larger than 8 MiB."}},
)
async def import_prospects(request: Request, auth: ProspectsWrite, tx: TxDep) -> ImportResult:
    """Create prospects from a CSV file: valid rows are created, bad and duplicate rows reported."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != CSV:
        raise UnsupportedMediaType(
            "Send the file as CSV: 'Content-Type: text/csv'.",
            details={"content_type": request.headers.get("content-type")},
        )
    return await importer.import_csv(tx, await request.body())


@router.post(
    "/prospects/qualify",
    response_model=QualificationOut,
    responses={
        202: {"model": BatchQueued, "description": "A batch (prospect_ids), queued."},
    },
)
async def qualify_prospects(
    body: QualifyRequest, auth: ProspectsWrite, tx: TxDep, runtime: RuntimeDep
) -> Response:
    """Qualify one prospect now, or queue a batch of up to 500 (202 with its batch_id)."""
    if body.prospect_ids is not None:
        return model_response(await service.queue_batch(tx, body.prospect_ids), status_code=202)
    assert body.prospect_id is not None  # the body names one or the other
    return model_response(await service.qualify_now(tx, runtime, body.prospect_id))


@router.get("/prospects/qualify/{batch_id}", response_model=BatchOut)
async def get_qualify_batch(batch_id: BatchIdParam, auth: ProspectsRead, tx: TxDep) -> BatchOut:
    """A batch qualification's progress and the result of each prospect done so far."""
    return await service.get_batch(tx, batch_id)


@router.get("/prospects/{prospect_id:uuid}", response_model=ProspectOut)
async def get_prospect(prospect_id: uuid.UUID, auth: ProspectsRead, tx: TxDep) -> Response:
    """One prospect with its last qualification and outreach status."""
    return model_response(await service.get_prospect(tx, prospect_id))


@router.patch("/prospects/{prospect_id:uuid}", response_model=ProspectOut)
async def update_prospect(
    prospect_id: uuid.UUID, body: ProspectUpdate, auth: ProspectsWrite, tx: TxDep
) -> Response:
    """Change the fields sent (an explicit null clears one); a duplicate is a 409."""
    return model_response(await service.update_prospect(tx, prospect_id, body))


@router.post(
    "/prospects/{prospect_id:uuid}/enroll",
    status_code=201,
    response_model=EnrolledOut,
    responses={200: {"model": EnrolledOut, "description": "Already enrolled in the sequence."}},
)
async def enroll_prospect(
    prospect_id: uuid.UUID, body: EnrollProspect, auth: ProspectsWrite, tx: TxDep
) -> Response:
    """Enroll a qualified prospect in an outreach sequence; its outreach_status follows."""
    out, created = await service.enroll(tx, prospect_id, body)
    return model_response(out, status_code=201 if created else 200)


# The CSV route keeps its own route class (it takes text/csv) inside the domain's router.
router.include_router(imports)
