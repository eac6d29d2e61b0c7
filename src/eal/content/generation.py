"""The `content.compose_blog` job: the draft of a blog item that is `generating`.

The item and the organization's settings are read in one transaction, the post is written
outside any (an LLM may take a minute), and the draft is recorded in another, with the row
locked; an item that is no longer `generating` is left alone, so a job that runs twice
writes one draft. The embedded composer is told the sentences of the organization's posts
about other places, so that no two of its posts for different cities copy each other. The composer's request (keyword, place, nearby places, the business's
name, phone and website) is kept on the item, so an edited post is checked against it.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import structlog

from eal import events, jobs
from eal.ai.blog import BlogRequest, nearby_places, sentence_keys
from eal.ai.llm import LlmConfig
from eal.content import repository
from eal.content.schemas import ContentStatus
from eal.content.service import org_name
from eal.content.settings import ContentConfig
from eal.content.writer import write_blog
from eal.events import Action
from eal.organizations import repository as organizations

log = structlog.get_logger(__name__)

COMPOSE_RETRY = jobs.RetryPolicy(max_attempts=3)


class ComposeBlog(jobs.NoPayload):
    """The payload of `content.compose_blog`."""

    content_id: uuid.UUID


def blog_request_of(asked: dict[str, Any], *, name: str, config: ContentConfig) -> BlogRequest:
    """The composer's request for a stored `POST /content/blog` body."""
    area = asked["service_area"]
    postal = area.get("postal_code")
    return BlogRequest(
        target_keyword=asked["target_keyword"],
        city=area["city"],
        region=area["region"],
        postal_code=postal,
        service_type=asked["service_type"],
        word_count_target=int(asked["word_count_target"]),
        organization_name=name,
        phone=config.phone,
        website=config.website,
        nearby_places=nearby_places(postal, area["city"], area["region"]),
    )


async def compose(ctx: jobs.JobContext, payload: ComposeBlog) -> None:
    """Write the item's draft (once)."""
    async with ctx.transaction() as tx:
        row = await repository.get(tx.conn, ctx.organization_id, payload.content_id)
        if row is None or row.status != ContentStatus.GENERATING:
            return
        settings = await organizations.settings_of(tx.conn, ctx.organization_id)
        config = ContentConfig.from_settings(settings)
        request = blog_request_of(row.request, name=await org_name(tx), config=config)
        elsewhere = await repository.blog_bodies_elsewhere(
            tx.conn, ctx.organization_id, row.id, request.city, request.region
        )
    # The organization's posts for other places: this one words its facts differently.
    avoid = frozenset(key for body in elsewhere for key in sentence_keys(body))
    llm = None
    runtime = ctx.runtime
    if config.llm_enabled and runtime.settings.llm_enabled:
        llm = LlmConfig.from_settings(runtime.settings)
    try:
        written = await write_blog(request, llm=llm, http=runtime.operator_http, avoid=avoid)
    except Exception as exc:
        if ctx.attempt < COMPOSE_RETRY.max_attempts:
            raise
        await _failed(ctx, payload.content_id, f"{type(exc).__name__}: {exc}"[:500])
        return
    draft = written.draft
    async with ctx.transaction() as tx:
        current = await repository.get(tx.conn, ctx.organization_id, payload.content_id, lock=True)
        if current is None or current.status != ContentStatus.GENERATING:
            return
        composed = dataclasses.asdict(request)
        composed["nearby_places"] = list(request.nearby_places)
        updated = await repository.update(
            tx.conn,
            ctx.organization_id,
            current.id,
            status=ContentStatus.DRAFT.value,
            title=draft.title,
            meta_description=draft.meta_description,
            slug=draft.slug,
            outline=[{"level": o.level, "text": o.text} for o in draft.outline],
            body=draft.body_markdown,
            word_count=draft.word_count,
            estimated_read_time_min=draft.estimated_read_time_min,
            seo_checks=[dataclasses.asdict(c) for c in draft.seo_checks],
            provider=written.provider,
            request={**current.request, "composed_with": composed},
            updated_at=tx.now(),
        )
        await events.record(
            tx,
            Action.CONTENT_GENERATED,
            {
                "content_id": repository.content_id(updated.id),
                "provider": written.provider,
                "word_count": draft.word_count,
                "seo_checks_failed": [c.name for c in draft.seo_checks if not c.passed],
            },
        )


async def _failed(ctx: jobs.JobContext, item_id: uuid.UUID, error: str) -> None:
    log.warning("blog composition failed", content_id=str(item_id), error=error)
    async with ctx.transaction() as tx:
        current = await repository.get(tx.conn, ctx.organization_id, item_id, lock=True)
        if current is None or current.status != ContentStatus.GENERATING:
            return
        await repository.update(
            tx.conn,
            ctx.organization_id,
            item_id,
            status=ContentStatus.FAILED.value,
            error=error,
            updated_at=tx.now(),
        )
        await events.record(
            tx,
            Action.CONTENT_GENERATION_FAILED,
            {"content_id": repository.content_id(item_id), "error": error},
        )
