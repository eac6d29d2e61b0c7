"""Reviews endpoints: asking a won customer for a review, recording reviews found online."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends
from starlette.responses import Response

from eal.api.deps import RuntimeDep, TxDep
from eal.api.responses import model_response
from eal.api.routing import api_router
from eal.auth.context import AuthContext
from eal.auth.deps import require
from eal.auth.scopes import Scope
from eal.reviews import service
from eal.reviews.schemas import ReviewCreate, ReviewOut, ReviewRequestCreate, ReviewRequested

ReviewsWrite = Annotated[AuthContext, Depends(require(Scope.WRITE))]

router = api_router(tags=["reviews"])

_STORED: dict[int | str, dict[str, Any]] = {
    200: {"model": ReviewOut, "description": "Recorded before: the stored review, unchanged."}
}


@router.post("/reviews/request", status_code=202, response_model=ReviewRequested)
async def request_review(
    body: ReviewRequestCreate, auth: ReviewsWrite, tx: TxDep
) -> ReviewRequested:
    """Ask a customer whose job is won (pipeline_stage `won`) for a review."""
    return await service.request_review(tx, body)


@router.post("/reviews", status_code=201, response_model=ReviewOut, responses=_STORED)
async def record_review(
    body: ReviewCreate, auth: ReviewsWrite, tx: TxDep, runtime: RuntimeDep
) -> Response:
    """Record a review from a listing surface and draft its reply (once per review id)."""
    recorded = await service.record_review(tx, runtime, body)
    return model_response(recorded.review, status_code=201 if recorded.created else 200)
