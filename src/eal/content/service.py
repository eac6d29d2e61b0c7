"""Content items: creating and generating them, reads, lists, edits with revisions, approval.

A blog post is composed by a job (`content.compose_blog`) deferred in the request that
asks for it: the item is `generating` until the draft is stored. Video scripts and review
replies take milliseconds and are composed in the request. A reply to a negative or mixed
review waits for the owner (`pending_owner_approval`) and cannot be published before an
admin approves it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from eal import events, jobs
from eal.ai.blog import (
    BlogRequest,
    check_blog,
    count_words,
    outline_from_markdown,
    read_time_minutes,
)
from eal.ai.reviews import Sentiment, Tone, analyze, draft_reply, fit_to_platform, platform_limit
from eal.ai.video import VideoScript, compose_video_script
from eal.content import repository
from eal.content.schemas import (
    CONTENT_PREFIX,
    CUTDOWN_SECONDS,
    BlogCreate,
    ContentOut,
    ContentPatch,
    ContentStatus,
    ContentType,
    RevisionOut,
    VideoScriptCreate,
)
from eal.content.settings import ContentConfig
from eal.db.tx import Tx
from eal.errors import Conflict, NotFound, field_error
from eal.events import Action
from eal.kit.ids import parse_public_id
from eal.kit.paging import Page, PageQuery, paginate
from eal.organizations import repository as organizations

BLOG_TASK = "content.compose_blog"
PUBLISH_TASK = "content.publish"
EDITABLE = frozenset({ContentStatus.DRAFT, ContentStatus.PENDING_OWNER_APPROVAL})
OWNER_REVIEW = frozenset({"negative", "mixed"})


@dataclass(frozen=True)
class ReviewInput:
    """A review to reply to, whoever brings it (the content endpoint, a recorded review)."""

    platform: str
    review_id: str
    rating: int | None
    text: str
    reviewer_name: str | None
    tone: Tone = "warm-professional"


@dataclass(frozen=True)
class DraftedReply:
    """The stored reply and what the drafting said about it."""

    row: Any
    sentiment: Sentiment
    auto_publish_recommended: bool


def parse_content_id(text: str) -> uuid.UUID:
    """The UUID of a `ctnt_...` id; 404 for anything else (it names no item)."""
    item_id = parse_public_id(CONTENT_PREFIX, text)
    if item_id is None:
        raise NotFound(f"Content {text} not found.")
    return item_id


async def get_row(tx: Tx, item_id: uuid.UUID, *, lock: bool = False) -> Any:
    """The item, or 404."""
    row = await repository.get(tx.conn, tx.actor.organization_id, item_id, lock=lock)
    if row is None:
        raise NotFound(f"Content {repository.content_id(item_id)} not found.")
    return row


async def content_out(tx: Tx, row: Any) -> ContentOut:
    """The item in full, with its revision count, publications and cutdown."""
    org = tx.actor.organization_id
    return repository.item_of(
        row,
        revisions=await repository.count_revisions(tx.conn, org, row.id),
        publications=await repository.publications(tx.conn, org, row.id),
        cutdown_id=(
            await repository.cutdown_of(tx.conn, org, row.id)
            if row.type == ContentType.VIDEO and row.parent_id is None
            else None
        ),
    )


async def list_content(
    tx: Tx, page: PageQuery, *, type_: str | None, status: str | None, channel: str | None
) -> Page[Any]:
    """Items, newest first."""
    rows = await repository.page(
        tx.conn, tx.actor.organization_id, page, type_=type_, status=status, channel=channel
    )
    return paginate(rows, page, repository.list_item_of)


def _summary(row: Any) -> dict[str, Any]:
    return {
        "content_id": repository.content_id(row.id),
        "type": row.type,
        "status": row.status,
        "provider": row.provider,
    }


async def _insert(tx: Tx, **values: Any) -> Any:
    now = tx.now()
    row = await repository.insert(
        tx.conn,
        id=uuid.uuid4(),
        organization_id=tx.actor.organization_id,
        environment=tx.actor.environment.value,
        created_at=now,
        updated_at=now,
        **values,
    )
    await events.record(tx, Action.CONTENT_CREATED, _summary(row))
    return row


async def create_blog(tx: Tx, body: BlogCreate) -> Any:
    """Store a blog item as `generating` and queue its composition."""
    row = await _insert(
        tx,
        type=ContentType.BLOG.value,
        status=ContentStatus.GENERATING.value,
        target_keyword=body.target_keyword,
        request=body.model_dump(mode="json"),
    )
    await jobs.defer(tx, BLOG_TASK, {"content_id": str(row.id)}, dedupe_key=str(row.id))
    return row


async def org_name(tx: Tx) -> str:
    """The organization's name, as content signs it."""
    row = await organizations.get(tx.conn, tx.actor.organization_id)
    return str(row.name) if row is not None else "our team"


async def create_video(tx: Tx, body: VideoScriptCreate) -> Any:
    """Compose a script and its 30-second cutdown, each stored as an item; the script's row."""
    config = ContentConfig.from_settings(
        await organizations.settings_of(tx.conn, tx.actor.organization_id)
    )
    name = await org_name(tx)
    script = compose_video_script(
        body.topic, body.format, body.duration_seconds, name, config.phone
    )
    cutdown = compose_video_script(body.topic, "short", CUTDOWN_SECONDS, name, config.phone)
    main = await _insert(tx, **_video_values(script, body.model_dump(mode="json")))
    await _insert(
        tx,
        parent_id=main.id,
        **_video_values(cutdown, {**body.model_dump(mode="json"), "cutdown_of": str(main.id)}),
    )
    return main


def _video_values(script: VideoScript, request: dict[str, Any]) -> dict[str, Any]:
    scenes: list[dict[str, Any]] = [
        {
            "scene": s.scene,
            "voiceover": s.voiceover,
            "broll_suggestion": s.broll_suggestion,
            "lower_third": s.lower_third,
            "duration_seconds": s.duration_seconds,
        }
        for s in script.scenes
    ]
    return {
        "type": ContentType.VIDEO.value,
        "status": ContentStatus.DRAFT.value,
        "title": script.title,
        "body": "\n\n".join(s.voiceover for s in script.scenes),
        "scenes": scenes,
        "format": script.format,
        "duration_seconds": script.duration_seconds,
        "word_count": script.word_count,
        "provider": "embedded",
        "request": request,
    }


async def draft_review_reply(tx: Tx, review: ReviewInput, *, announce: bool) -> DraftedReply:
    """Draft and store the public reply to a review.

    Negative and mixed reviews wait for the owner; with `announce` they fire
    `review.received` (a recorded review announces itself once, when it is recorded).
    """
    reply = draft_reply(
        review_text=review.text,
        rating=review.rating,
        reviewer_name=review.reviewer_name,
        tone=review.tone,
        org_name=await org_name(tx),
        platform=review.platform,
    )
    text = fit_to_platform(reply.response_text, review.platform)
    owner = reply.sentiment in OWNER_REVIEW
    row = await _insert(
        tx,
        type=ContentType.REVIEW_RESPONSE.value,
        status=(ContentStatus.PENDING_OWNER_APPROVAL if owner else ContentStatus.DRAFT).value,
        title=f"Reply to {review.platform} review {review.review_id}"[:200],
        body=text,
        word_count=count_words(text),
        platform=review.platform,
        external_review_id=review.review_id,
        rating=review.rating,
        sentiment=reply.sentiment,
        provider="embedded",
        request={"tone": review.tone, "mentions": list(reply.mentions)},
    )
    if owner and announce:
        await events.record(
            tx,
            Action.REVIEW_RECEIVED,
            {"content_id": repository.content_id(row.id), "review_id": review.review_id},
            data=review_event_data(review, reply.sentiment, row),
        )
    return DraftedReply(
        row=row,
        sentiment=reply.sentiment,
        auto_publish_recommended=reply.auto_publish_recommended and not owner,
    )


def review_event_data(review: ReviewInput, sentiment: str, reply_row: Any | None) -> dict[str, Any]:
    """A review as `review.received` carries it."""
    return {
        "platform": review.platform,
        "review_id": review.review_id,
        "rating": review.rating,
        "sentiment": sentiment,
        "reply_content_id": repository.content_id(reply_row.id) if reply_row else None,
        "reply_status": reply_row.status if reply_row else None,
    }


def sentiment_of(text: str, rating: int | None) -> Sentiment:
    """The sentiment of a review (text and stars)."""
    return analyze(text, rating).sentiment


async def update(tx: Tx, item_id: uuid.UUID, body: ContentPatch) -> Any:
    """Edit a draft (or a reply awaiting the owner); the previous text becomes a revision."""
    row = await get_row(tx, item_id, lock=True)
    if row.status not in EDITABLE:
        raise Conflict(
            f"Content {repository.content_id(row.id)} is {row.status}: only drafts can be edited.",
            details={"status": row.status},
        )
    given = body.model_dump(exclude_unset=True, exclude_none=True)
    if "meta_description" in given and row.type != ContentType.BLOG:
        raise field_error("meta_description", "only blog posts have a meta description")
    changes = {key: value for key, value in given.items() if getattr(row, key) != value}
    if not changes:
        return row
    if row.type == ContentType.REVIEW_RESPONSE and "body" in changes:
        limit, unit = platform_limit(row.platform or "")
        text = changes["body"]
        size = len(text.encode()) if unit == "bytes" else len(text)
        if size > limit:
            raise field_error("body", f"is {size} {unit}; {row.platform} allows at most {limit}")
    values: dict[str, Any] = dict(changes)
    if "body" in changes:
        values["word_count"] = count_words(changes["body"])
        if row.type == ContentType.BLOG:
            values["outline"] = [
                {"level": item.level, "text": item.text}
                for item in outline_from_markdown(changes["body"])
            ]
            values["estimated_read_time_min"] = read_time_minutes(values["word_count"])
    if row.type == ContentType.BLOG and row.request:
        values["seo_checks"] = _recheck(row, values)
    await repository.insert_revision(
        tx.conn,
        id=uuid.uuid4(),
        organization_id=row.organization_id,
        content_id=row.id,
        revision=row.revision,
        title=row.title,
        body=row.body,
        meta_description=row.meta_description,
        edited_by=tx.actor.key_id,
        created_at=tx.now(),
    )
    updated = await repository.update(
        tx.conn,
        row.organization_id,
        row.id,
        revision=row.revision + 1,
        updated_at=tx.now(),
        **values,
    )
    await events.record(
        tx,
        Action.CONTENT_UPDATED,
        {**_summary(updated), "changed": sorted(changes), "revision": updated.revision},
    )
    return updated


def _recheck(row: Any, values: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The SEO checks of the edited post, against what was asked for."""
    title = values.get("title", row.title)
    meta = values.get("meta_description", row.meta_description)
    body = values.get("body", row.body)
    request = stored_blog_request(row.request)
    if title is None or meta is None or body is None or request is None:
        return None
    return [
        {"name": c.name, "passed": c.passed, "detail": c.detail}
        for c in check_blog(title, meta, body, request)
    ]


def stored_blog_request(stored: dict[str, Any]) -> BlogRequest | None:
    """The composer's request a post was written for (kept on the item), or None."""
    composed = stored.get("composed_with")
    if not isinstance(composed, dict):
        return None
    return BlogRequest(**{**composed, "nearby_places": tuple(composed["nearby_places"])})


async def revisions(tx: Tx, item_id: uuid.UUID, page: PageQuery) -> Page[RevisionOut]:
    """The item's earlier texts, newest first."""
    row = await get_row(tx, item_id)
    rows = await repository.revisions_page(tx.conn, tx.actor.organization_id, row.id, page)
    return paginate(rows, page, repository.revision_of)


async def approve(tx: Tx, item_id: uuid.UUID) -> Any:
    """The owner's go-ahead for a reply that waited for it; it becomes a publishable draft."""
    row = await get_row(tx, item_id, lock=True)
    if row.status != ContentStatus.PENDING_OWNER_APPROVAL:
        if row.approved_at is not None:
            return row  # approved already: nothing changes
        raise Conflict(
            f"Content {repository.content_id(row.id)} is {row.status}: it is not waiting "
            "for approval.",
            details={"status": row.status},
        )
    now = tx.now()
    updated = await repository.update(
        tx.conn,
        row.organization_id,
        row.id,
        status=ContentStatus.DRAFT.value,
        approved_at=now,
        approved_by=tx.actor.key_id,
        updated_at=now,
    )
    await events.record(tx, Action.CONTENT_APPROVED, _summary(updated))
    return updated
