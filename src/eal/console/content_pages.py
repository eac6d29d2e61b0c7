"""Content in the console: drafts and review replies; edit, approve, publish.

Each action is the API's, through the content service: an edit keeps the
previous text as a revision; a reply to a negative or mixed review waits for
the owner's approval (an owner here, as `POST /content/{id}/approve` needs
the admin scope); publishing answers one result per channel. Editing and
publishing need a manager.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import ValidationError
from starlette.responses import Response

from eal.api.deps import runtime_of
from eal.api.paging import page_query
from eal.api.routing import api_router
from eal.auth.scopes import Scope
from eal.console.web import filter_query, form_post, page, redirect, signed_in
from eal.content import publishing
from eal.content import service as content
from eal.content.schemas import Channel, ContentPatch, ContentStatus, ContentType, PublishRequest
from eal.errors import AppError

router = api_router(accepts_form=True, include_in_schema=False)

TYPE_LABELS = {
    ContentType.BLOG: "Blog post",
    ContentType.VIDEO: "Video script",
    ContentType.SOCIAL: "Social post",
    ContentType.REVIEW_RESPONSE: "Review reply",
}
STATUS_LABELS = {
    ContentStatus.GENERATING: "Being written",
    ContentStatus.DRAFT: "Draft",
    ContentStatus.PENDING_OWNER_APPROVAL: "Waiting for the owner",
    ContentStatus.SCHEDULED: "Scheduled",
    ContentStatus.PUBLISHED: "Published",
    ContentStatus.FAILED: "Failed",
}
CHANNEL_LABELS = {
    Channel.WORDPRESS: "WordPress",
    Channel.GOOGLE_BUSINESS: "Google Business Profile",
    Channel.FACEBOOK: "Facebook",
    Channel.INSTAGRAM: "Instagram",
}


@router.get("/console/content")
async def content_list_page(
    request: Request, type: str | None = None, status: str | None = None, cursor: str | None = None
) -> Response:
    """Content items, newest first, by type and status."""
    session = await signed_in(request)
    if isinstance(session, Response):
        return session
    chosen_type = type if type in ContentType._value2member_map_ else None
    chosen_status = status if status in ContentStatus._value2member_map_ else None
    listed = await content.list_content(
        request.state.tx,
        await page_query(cursor=cursor or None),
        type_=chosen_type,
        status=chosen_status,
        channel=None,
    )
    query = filter_query({"type": chosen_type, "status": chosen_status})
    return page(
        request,
        "content_list.html",
        session=session,
        title="Content",
        items=listed.data,
        next_cursor=listed.next_cursor,
        chosen_type=chosen_type,
        chosen_status=chosen_status,
        query=query,
        types=TYPE_LABELS,
        statuses=STATUS_LABELS,
    )


async def _item_page(
    request: Request, content_id: str, *, status: int = 200, **context: Any
) -> Response:
    tx = request.state.tx
    item = await content.content_out(
        tx, await content.get_row(tx, content.parse_content_id(content_id))
    )
    return page(
        request,
        "content_item.html",
        status=status,
        session=request.state.console_session,
        title=item.title or TYPE_LABELS[item.type],
        item=item,
        types=TYPE_LABELS,
        statuses=STATUS_LABELS,
        channels=CHANNEL_LABELS,
        editable=item.status
        in (ContentStatus.DRAFT, ContentStatus.PENDING_OWNER_APPROVAL, ContentStatus.FAILED),
        **context,
    )


@router.get("/console/content/{content_id}")
async def content_item_page(request: Request, content_id: str) -> Response:
    """One item: its text, review, checks and publications, with what may be done to it."""
    session = await signed_in(request)
    if isinstance(session, Response):
        return session
    return await _item_page(request, content_id, notice=request.query_params.get("done") or None)


@router.post("/console/content/{content_id}/edit")
async def edit_content(request: Request, content_id: str) -> Response:
    """Save new text (managers and owners); the previous text becomes a revision."""
    acting = await form_post(request, Scope.WRITE)
    if isinstance(acting, Response):
        return acting
    _, fields = acting
    values = {
        name: fields[name].strip()
        for name in ("title", "body", "meta_description")
        if name in fields
    }
    blank = [name for name, value in values.items() if not value]
    if blank or not values:
        field = (blank or ["body"])[0].replace("_", " ")
        return await _item_page(
            request, content_id, status=422, form_error=f"The {field} cannot be empty."
        )
    try:
        body = ContentPatch.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        return await _item_page(
            request, content_id, status=422, form_error=f"{first['loc'][0]}: {first['msg']}"
        )
    try:
        await content.update(request.state.tx, content.parse_content_id(content_id), body)
    except AppError as exc:
        if exc.status_code == 404:
            raise
        return await _item_page(request, content_id, status=exc.status_code, form_error=exc.message)
    return redirect(f"/console/content/{content_id}?done=saved")


@router.post("/console/content/{content_id}/approve")
async def approve_content(request: Request, content_id: str) -> Response:
    """The owner's approval of a reply that waited for it."""
    acting = await form_post(request, Scope.ADMIN)
    if isinstance(acting, Response):
        return acting
    try:
        await content.approve(request.state.tx, content.parse_content_id(content_id))
    except AppError as exc:
        if exc.status_code == 404:
            raise
        return await _item_page(request, content_id, status=exc.status_code, form_error=exc.message)
    return redirect(f"/console/content/{content_id}?done=approved")


@router.post("/console/content/{content_id}/publish")
async def publish_content(request: Request, content_id: str) -> Response:
    """Publish now to the chosen channels (managers and owners); one result per channel."""
    acting = await form_post(request, Scope.WRITE)
    if isinstance(acting, Response):
        return acting
    _, fields = acting
    chosen = [value for value in Channel if fields.get(f"channel_{value.value}") == "on"]
    tx = request.state.tx
    try:
        body = PublishRequest(channels=chosen)
    except ValidationError:
        return await _item_page(
            request, content_id, status=422, form_error="Choose at least one channel."
        )
    try:
        result = await publishing.publish(
            tx, runtime_of(request), content.parse_content_id(content_id), body
        )
    except AppError as exc:
        if exc.status_code == 404:
            raise
        return await _item_page(request, content_id, status=exc.status_code, form_error=exc.message)
    return await _item_page(request, content_id, results=result.results)
