"""Publishing an item: WordPress posts and Google Business Profile review replies, now or later.

`POST /content/{id}/publish` answers one result per channel: `published` (with the post's
`url`), `scheduled` (a `content.publish` job runs at `scheduled_for`), `not_configured`
(no connector for the channel: nothing is pretended), `failed` (the vendor's error), or
`simulated` (a test-environment key: no vendor is called). A channel an item is published
on already answers its stored result again: a post is never created twice.

Immediate publishes call the vendor inside the request, after every check, so the only
thing that can still roll back is the commit itself. A scheduled publication is marked
`publishing` in its own transaction before the vendor is called; a job retried after that
looks the WordPress post up by its slug before creating it (Google replaces a reply, so a
second reply is harmless).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

from eal import events, jobs
from eal.ai.blog import slugify
from eal.ai.reviews import fit_to_platform
from eal.content import repository
from eal.content.html import markdown_to_html
from eal.content.schemas import (
    Channel,
    ContentStatus,
    ContentType,
    PublicationOut,
    PublishOut,
    PublishRequest,
)
from eal.content.service import PUBLISH_TASK, get_row
from eal.content.settings import ConnectorUnreadable, google_business_client, wordpress_client
from eal.db.tx import Tx
from eal.errors import Conflict
from eal.events import Action
from eal.integrations.google_business import GoogleBusinessError
from eal.integrations.wordpress import WordPressClient, WordPressError
from eal.kit.outbound import UnsafeUrl
from eal.organizations import repository as organizations
from eal.runtime import Runtime

log = structlog.get_logger(__name__)

PUBLISH_RETRY = jobs.RetryPolicy(max_attempts=5)
#: What each connector publishes; the social channels have none yet.
CONNECTOR_TYPES: dict[Channel, frozenset[str]] = {
    Channel.WORDPRESS: frozenset({ContentType.BLOG.value}),
    Channel.GOOGLE_BUSINESS: frozenset({ContentType.REVIEW_RESPONSE.value}),
}
DONE = frozenset({"published", "simulated"})
GOOGLE_PLATFORMS = frozenset({"google", "gbp", "google_business"})


class PublishContent(jobs.NoPayload):
    """The payload of `content.publish`."""

    content_id: uuid.UUID
    channel: Channel


@dataclass(frozen=True)
class Outcome:
    status: str
    url: str | None = None
    external_id: str | None = None
    error: str | None = None


def check_publishable(row: Any, channels: list[Channel]) -> None:
    """Refuse an item that may not go out (409) or a channel that cannot take it (422)."""
    item = repository.content_id(row.id)
    if row.status == ContentStatus.PENDING_OWNER_APPROVAL:
        raise Conflict(
            f"Content {item} is waiting for the owner's approval: POST "
            f"/api/v1/content/{item}/approve first.",
            details={"status": row.status, "reason": "pending_owner_approval"},
        )
    if row.status in (ContentStatus.GENERATING, ContentStatus.FAILED):
        raise Conflict(
            f"Content {item} is {row.status}: there is no draft to publish.",
            details={"status": row.status},
        )
    for channel in channels:
        kinds = CONNECTOR_TYPES.get(channel)
        if kinds is not None and row.type not in kinds:
            raise Conflict(
                f"Content {item} is a {row.type} item: {channel.value} publishes "
                f"{', '.join(sorted(kinds))} items only.",
                details={"channel": channel.value, "type": row.type},
            )
        if channel is Channel.GOOGLE_BUSINESS and (row.platform or "") not in GOOGLE_PLATFORMS:
            raise Conflict(
                f"Content {item} replies to a {row.platform} review: google_business "
                "replies to Google reviews only.",
                details={"channel": channel.value, "platform": row.platform},
            )


async def publish(tx: Tx, runtime: Runtime, item_id: uuid.UUID, body: PublishRequest) -> PublishOut:
    """Publish the item on each channel now, or schedule it for `scheduled_for`."""
    row = await get_row(tx, item_id, lock=True)
    check_publishable(row, body.channels)
    now = tx.now()
    later = body.scheduled_for if body.scheduled_for and body.scheduled_for > now else None
    results = await publish_rows(tx, runtime, row, body.channels, scheduled_for=later)
    row = await get_row(tx, item_id)
    return PublishOut(id=repository.content_id(row.id), status=row.status, results=results)


async def publish_rows(
    tx: Tx,
    runtime: Runtime,
    row: Any,
    channels: list[Channel],
    *,
    scheduled_for: datetime | None = None,
) -> list[PublicationOut]:
    """Publish (or schedule) a checked item on `channels`; each channel's result."""
    org = tx.actor.organization_id
    settings = await organizations.settings_of(tx.conn, org)
    results: list[Any] = []
    fresh: list[Any] = []
    for channel in channels:
        existing = await repository.get_publication(tx.conn, org, row.id, channel.value)
        if existing is not None and existing.status in DONE:
            results.append(existing)
            continue
        configured = channel in CONNECTOR_TYPES and (
            tx.actor.is_test or (settings.get("integrations") or {}).get(channel.value)
        )
        if not configured:
            outcome = Outcome("not_configured")
        elif scheduled_for is not None:
            saved = await repository.save_publication(
                tx.conn,
                organization_id=org,
                item_id=row.id,
                channel=channel.value,
                now=tx.now(),
                status="scheduled",
                scheduled_for=scheduled_for,
                url=None,
                error=None,
            )
            await jobs.defer(
                tx,
                PUBLISH_TASK,
                PublishContent(content_id=row.id, channel=channel),
                execute_after=scheduled_for,
            )
            results.append(saved)
            fresh.append(saved)
            continue
        else:
            outcome = await send(runtime, row, channel, settings, simulate=tx.actor.is_test)
        recorded = await _record(tx, row, channel, outcome)
        results.append(recorded)
        fresh.append(recorded)
    await _settle_item(tx, row, results, fresh)
    return [repository.publication_of(r) for r in results]


async def _record(tx: Tx, row: Any, channel: Channel, outcome: Outcome) -> Any:
    done = outcome.status in DONE
    return await repository.save_publication(
        tx.conn,
        organization_id=tx.actor.organization_id,
        item_id=row.id,
        channel=channel.value,
        now=tx.now(),
        status=outcome.status,
        url=outcome.url,
        external_id=outcome.external_id,
        error=outcome.error,
        published_at=tx.now() if done else None,
        scheduled_for=None,
    )


async def _settle_item(tx: Tx, row: Any, results: list[Any], fresh: list[Any]) -> None:
    """The item's status, channel and URL after its channels' results; their audit entries."""
    item = repository.content_id(row.id)
    published = [r for r in results if r.status in DONE]
    scheduled = [r for r in results if r.status == "scheduled"]
    values: dict[str, Any] = {}
    if published and row.status != ContentStatus.PUBLISHED:
        first = published[0]
        values = {
            "status": ContentStatus.PUBLISHED.value,
            "channel": first.channel,
            "url": first.url,
            "published_at": first.published_at or tx.now(),
        }
    elif scheduled and row.status not in (ContentStatus.PUBLISHED, ContentStatus.SCHEDULED):
        values = {"status": ContentStatus.SCHEDULED.value, "channel": scheduled[0].channel}
    elif not published and row.status == ContentStatus.SCHEDULED:
        every = await repository.publications(tx.conn, row.organization_id, row.id)
        if not any(p.status in ("scheduled", "publishing") for p in every):
            values = {"status": ContentStatus.DRAFT.value}
    if values:
        await repository.update(tx.conn, row.organization_id, row.id, updated_at=tx.now(), **values)
    for result in fresh:
        action = {
            "published": Action.CONTENT_PUBLISHED,
            "simulated": Action.CONTENT_PUBLISHED,
            "scheduled": Action.CONTENT_SCHEDULED,
            "failed": Action.CONTENT_PUBLISH_FAILED,
        }.get(result.status)
        if action is None:
            continue
        await events.record(
            tx,
            action,
            {
                "content_id": item,
                "channel": result.channel,
                "status": result.status,
                "url": result.url,
                "scheduled_for": result.scheduled_for.isoformat() if result.scheduled_for else None,
                "error": result.error,
            },
        )


async def send(
    runtime: Runtime,
    row: Any,
    channel: Channel,
    settings: dict[str, Any],
    *,
    simulate: bool,
    look_up_first: bool = False,
) -> Outcome:
    """Publish the item on one channel now (a vendor call); what happened."""
    if simulate:
        return Outcome("simulated")
    try:
        if channel is Channel.WORDPRESS:
            client = wordpress_client(settings, runtime.secret_box, runtime.http)
            if client is None:
                return Outcome("not_configured")
            return await _wordpress(client, row, look_up_first=look_up_first)
        if channel is Channel.GOOGLE_BUSINESS:
            google = google_business_client(settings, runtime.secret_box, runtime.http)
            if google is None:
                return Outcome("not_configured")
            comment = fit_to_platform(row.body or "", "google")
            await google.reply_to_review(row.external_review_id or "", comment)
            return Outcome("published", external_id=row.external_review_id)
    except (WordPressError, GoogleBusinessError) as exc:
        return Outcome("failed", error=exc.message[:500])
    except (ConnectorUnreadable, UnsafeUrl, ValueError) as exc:
        return Outcome("failed", error=str(exc)[:500])
    return Outcome("not_configured")


async def _wordpress(client: WordPressClient, row: Any, *, look_up_first: bool) -> Outcome:
    slug = row.slug or slugify(row.title or "post")
    if look_up_first:
        found = await client.find_post_by_slug(slug)
        if found is not None:
            return Outcome("published", url=found.link, external_id=str(found.id))
    try:
        post = await client.create_post(
            title=row.title or slug,
            content_html=markdown_to_html(row.body or ""),
            status="publish",
            slug=slug,
            excerpt=row.meta_description,
        )
    except WordPressError as exc:
        if not exc.transient:
            raise
        # The post may exist though the answer was lost: find it before reporting a failure.
        found = await client.find_post_by_slug(slug)
        if found is None:
            raise
        return Outcome("published", url=found.link, external_id=str(found.id))
    return Outcome("published", url=post.link, external_id=str(post.id))


async def publish_scheduled(ctx: jobs.JobContext, payload: PublishContent) -> None:
    """The `content.publish` job: publish a scheduled channel once its time has come."""
    org = ctx.organization_id
    async with ctx.transaction() as tx:
        pub = await repository.get_publication(tx.conn, org, payload.content_id, payload.channel)
        if pub is None or pub.status not in ("scheduled", "publishing"):
            return
        if pub.status == "scheduled" and pub.scheduled_for and pub.scheduled_for > tx.now():
            # Early (a clock that moved, an earlier schedule replaced): run again then.
            await jobs.defer(tx, PUBLISH_TASK, payload, execute_after=pub.scheduled_for)
            return
        retried = pub.status == "publishing"
        row = await repository.get(tx.conn, org, payload.content_id)
        if row is None:
            return
        await repository.save_publication(
            tx.conn,
            organization_id=org,
            item_id=row.id,
            channel=payload.channel.value,
            now=tx.now(),
            status="publishing",
        )
        settings = await organizations.settings_of(tx.conn, org)
    simulate = ctx.actor is not None and ctx.actor.is_test
    outcome = await send(
        ctx.runtime, row, payload.channel, settings, simulate=simulate, look_up_first=retried
    )
    async with ctx.transaction() as tx:
        row = await repository.get(tx.conn, org, payload.content_id, lock=True)
        if row is None:
            return
        saved = await _record(tx, row, payload.channel, outcome)
        await _settle_item(tx, row, [saved], [saved])
    if outcome.status == "failed":
        log.warning(
            "scheduled publication failed",
            content_id=str(payload.content_id),
            channel=payload.channel.value,
            error=outcome.error,
        )
