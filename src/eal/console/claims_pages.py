"""Claims in the console: the list, and a claim's rooms, photos and scope lines to decide.

Decisions go through the claims service exactly as `POST /claims/{id}/review`
(one line per form: approve, edit with a quantity, or reject with a reason), so
they are audited per decision and a reviewed claim is reopened only on purpose.
Staff may decide lines; every role may read.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from pydantic import ValidationError
from starlette.responses import Response

from eal.api.deps import runtime_of
from eal.api.paging import page_query
from eal.api.routing import api_router
from eal.auth.scopes import Scope
from eal.claims import service as claims
from eal.claims.endpoints import claim_out
from eal.claims.responses import ClaimOut
from eal.claims.schemas import ClaimReviewRequest, ClaimStatus, DecisionKind
from eal.console.web import form_post, page, redirect, signed_in
from eal.errors import AppError

router = api_router(accepts_form=True, include_in_schema=False)

STATUS_LABELS = {
    ClaimStatus.COLLECTING: "Collecting photos",
    ClaimStatus.EXTRACTING: "Drafting the scope",
    ClaimStatus.READY_FOR_REVIEW: "Ready for review",
    ClaimStatus.PARTIALLY_REVIEWED: "Partly reviewed",
    ClaimStatus.REVIEWED: "Reviewed",
}


def _same_origin(url: str) -> str:
    """A signed link of this service as a path, so the page loads it from where it is served."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


@router.get("/console/claims")
async def claims_page(
    request: Request, status: str | None = None, cursor: str | None = None
) -> Response:
    """Claims, newest first, by status."""
    session = await signed_in(request)
    if isinstance(session, Response):
        return session
    chosen = status if status in ClaimStatus._value2member_map_ else None
    listed = await claims.list_claims(
        request.state.tx, await page_query(cursor=cursor or None), status=chosen
    )
    return page(
        request,
        "claims.html",
        session=session,
        title="Claims",
        claims=listed.data,
        next_cursor=listed.next_cursor,
        chosen=chosen,
        statuses=STATUS_LABELS,
    )


async def _claim_page(
    request: Request, claim: ClaimOut, *, status: int = 200, **context: Any
) -> Response:
    session = request.state.console_session
    items = {item.id: item for room in claim.rooms for item in room.scope_items}
    decided = sum(1 for item in items.values() if item.review is not None)
    return page(
        request,
        "claim.html",
        status=status,
        session=session,
        title=f"Claim {claim.id}",
        claim=claim,
        decided=decided,
        total=len(items),
        item_ids=set(items),
        label=STATUS_LABELS.get(ClaimStatus(claim.status), claim.status),
        pdf=_same_origin(claim.summary_pdf_url),
        txt=_same_origin(claim.summary_txt_url),
        thumb=_same_origin,
        reviewable=claim.status
        in (
            ClaimStatus.READY_FOR_REVIEW,
            ClaimStatus.PARTIALLY_REVIEWED,
            ClaimStatus.REVIEWED,
        ),
        **context,
    )


@router.get("/console/claims/{claim_id}")
async def claim_page(request: Request, claim_id: str) -> Response:
    """One claim: its rooms with photos and scope lines, each with its evidence."""
    session = await signed_in(request)
    if isinstance(session, Response):
        return session
    claim = await claim_out(request.state.tx, runtime_of(request), claim_id)
    return await _claim_page(request, claim)


@router.post("/console/claims/{claim_id}/lines/{item_id}")
async def decide_line(request: Request, claim_id: str, item_id: str) -> Response:
    """Approve, edit or reject one line (staff and up)."""
    posted = await form_post(request, Scope.READ)
    if isinstance(posted, Response):
        return posted
    _session, fields = posted
    decision: dict[str, Any] = {"scope_item_id": item_id, "decision": fields.get("decision")}
    if fields.get("decision") == DecisionKind.EDIT:
        decision["qty"] = fields.get("qty") or None
        decision["note"] = fields.get("note") or None
    elif fields.get("decision") == DecisionKind.REJECT:
        decision["reason"] = fields.get("reason") or None
    tx = request.state.tx
    try:
        body = ClaimReviewRequest.model_validate(
            {"decisions": [decision], "reopen": fields.get("reopen") == "1"}
        )
    except ValidationError as exc:
        problem = exc.errors()[0]["msg"].removeprefix("Value error, ")
        claim = await claim_out(tx, runtime_of(request), claim_id)
        return await _claim_page(request, claim, status=422, line_error=(item_id, problem))
    try:
        await claims.review(tx, claims.claim_id_of(claim_id), body)
    except AppError as exc:
        if exc.status_code == 404 and "Claim" in exc.message:
            raise
        claim = await claim_out(tx, runtime_of(request), claim_id)
        return await _claim_page(
            request, claim, status=exc.status_code, line_error=(item_id, exc.message)
        )
    return redirect(f"/console/claims/{claim_id}#{item_id}")
