"""Content endpoints: lists and reads, edits and revisions, generation, approval, publishing."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path
from starlette.convertors import Convertor, register_url_convertor
from starlette.responses import Response

from eal.api.deps import RuntimeDep, TxDep
from eal.api.paging import PageParams
from eal.api.responses import model_response
from eal.api.routing import api_router
from eal.auth.context import AuthContext
from eal.auth.deps import require
from eal.auth.scopes import Scope
from eal.content import publishing, replies, service
from eal.content.schemas import (
    CONTENT_ID_PATTERN,
    BlogCreate,
    Channel,
    ContentOut,
    ContentPage,
    ContentPatch,
    ContentStatus,
    ContentType,
    PublishOut,
    PublishRequest,
    ReviewResponseCreate,
    ReviewResponseOut,
    RevisionOut,
    RevisionPage,
    VideoScriptCreate,
)
from eal.db.tx import Tx
from eal.kit.paging import Page


class _ContentId(Convertor[str]):
    """`ctnt_` and 32 hex digits: anything else under /content/ names no item (404)."""

    regex = CONTENT_ID_PATTERN

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("content_id", _ContentId())

ContentRead = Annotated[AuthContext, Depends(require(Scope.READ))]
ContentWrite = Annotated[AuthContext, Depends(require(Scope.WRITE))]
ContentAdmin = Annotated[AuthContext, Depends(require(Scope.ADMIN))]
ContentIdParam = Annotated[
    str,
    Path(pattern=f"^{CONTENT_ID_PATTERN}$", description="A content id: `ctnt_` and 32 hex digits."),
]

router = api_router(tags=["content"])


async def _out(tx: Tx, row: object, *, status_code: int = 200) -> Response:
    return model_response(await service.content_out(tx, row), status_code=status_code)


@router.get("/content", response_model=ContentPage)
async def list_content(
    auth: ContentRead,
    tx: TxDep,
    page: PageParams,
    type: ContentType | None = None,
    status: ContentStatus | None = None,
    channel: Channel | None = None,
) -> Page[object]:
    """Content items, newest first."""
    return await service.list_content(
        tx,
        page,
        type_=type.value if type else None,
        status=status.value if status else None,
        channel=channel.value if channel else None,
    )


@router.post("/content/blog", status_code=202, response_model=ContentOut)
async def create_blog(body: BlogCreate, auth: ContentWrite, tx: TxDep) -> Response:
    """Start an SEO blog draft: the item is `generating` until a job stores the draft."""
    row = await service.create_blog(tx, body)
    return await _out(tx, row, status_code=202)


@router.post("/content/video-script", status_code=201, response_model=ContentOut)
async def create_video_script(body: VideoScriptCreate, auth: ContentWrite, tx: TxDep) -> Response:
    """A script in timed scenes with B-roll and lower thirds, and a 30-second cutdown."""
    row = await service.create_video(tx, body)
    return await _out(tx, row, status_code=201)


@router.post("/content/review-response", status_code=201, response_model=ReviewResponseOut)
async def create_review_response(
    body: ReviewResponseCreate, auth: ContentWrite, tx: TxDep, runtime: RuntimeDep
) -> ReviewResponseOut:
    """A reply to a review; negative and mixed reviews wait for the owner."""
    review = service.ReviewInput(
        platform=body.platform,
        review_id=body.review_id,
        rating=body.rating,
        text=body.review_text,
        reviewer_name=body.reviewer_name,
        tone=body.tone,
    )
    responded = await replies.respond(tx, runtime, review, announce=True)
    return await replies.review_response_out(tx, responded)


@router.get("/content/{content_id:content_id}", response_model=ContentOut)
async def get_content(content_id: ContentIdParam, auth: ContentRead, tx: TxDep) -> Response:
    """The full item: body, outline, meta, scenes, checks, revisions count, publications."""
    return await _out(tx, await service.get_row(tx, service.parse_content_id(content_id)))


@router.patch("/content/{content_id:content_id}", response_model=ContentOut)
async def update_content(
    content_id: ContentIdParam, body: ContentPatch, auth: ContentWrite, tx: TxDep
) -> Response:
    """Edit a draft's text; the previous text is kept as a revision."""
    row = await service.update(tx, service.parse_content_id(content_id), body)
    return await _out(tx, row)


@router.get("/content/{content_id:content_id}/revisions", response_model=RevisionPage)
async def list_revisions(
    content_id: ContentIdParam, auth: ContentRead, tx: TxDep, page: PageParams
) -> Page[RevisionOut]:
    """The item's earlier texts, newest first."""
    return await service.revisions(tx, service.parse_content_id(content_id), page)


@router.post("/content/{content_id:content_id}/approve", response_model=ContentOut)
async def approve_content(content_id: ContentIdParam, auth: ContentAdmin, tx: TxDep) -> Response:
    """The owner's approval of a reply that waited for it (admin)."""
    row = await service.approve(tx, service.parse_content_id(content_id))
    return await _out(tx, row)


@router.post("/content/{content_id:content_id}/publish", response_model=PublishOut)
async def publish_content(
    content_id: ContentIdParam,
    body: PublishRequest,
    auth: ContentWrite,
    tx: TxDep,
    runtime: RuntimeDep,
) -> PublishOut:
    """Publish to the configured channels now, or at `scheduled_for`; one result per channel."""
    return await publishing.publish(tx, runtime, service.parse_content_id(content_id), body)
