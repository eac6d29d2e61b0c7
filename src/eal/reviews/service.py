"""Review requests after a won job, and reviews recorded from listing surfaces.

A request goes out on the one sending path (`outreach.service.queue_message`) as a
marketing message, so the suppression list, the daily limits and SMS quiet hours apply.
Every customer with a won job may be asked, whatever their mood: filtering requests by
expected sentiment ("review gating") breaks the FTC's 2024 rule on reviews and Google's
policy, so the product has no such option.

A recorded review is stored once per platform and review id: posting it again answers the
stored review and changes nothing. The first time it fires `review.received` and drafts
the reply (negative and mixed ones wait for the owner).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from eal import events
from eal.ai.reviews import first_name
from eal.content import replies
from eal.content import repository as content
from eal.content.service import ReviewInput, org_name, review_event_data, sentiment_of
from eal.db.tx import Tx
from eal.errors import Conflict, field_error
from eal.events import Action
from eal.kit.ids import public_id
from eal.leads import repository as leads
from eal.outreach import service as outreach
from eal.outreach.addresses import normalize_address
from eal.outreach.schemas import MESSAGE_PREFIX, Channel, Purpose
from eal.reviews import repository
from eal.reviews.schemas import ReviewCreate, ReviewOut, ReviewRequestCreate, ReviewRequested
from eal.runtime import Runtime

WON = "won"


def request_text(
    channel: Channel, *, name: str | None, org: str, url: str
) -> tuple[str, str | None]:
    """(body, subject) of a review request."""
    hello = f"Hi {name}," if name else "Hi,"
    if channel is Channel.SMS:
        return (
            f"{hello} thank you for choosing {org}. Would you share how we did? {url} "
            "Reply STOP to opt out.",
            None,
        )
    body = (
        f"{hello}\n\nThank you for choosing {org}. If you have a minute, we would be grateful "
        f"if you shared how we did:\n\n{url}\n\nThank you,\n{org}"
    )
    return body, f"How did {org} do?"


async def request_review(tx: Tx, body: ReviewRequestCreate) -> ReviewRequested:
    """Ask a won lead for a review (409 for any other stage); fires `review.requested`."""
    organization_id = tx.actor.organization_id
    lead = await leads.get(tx.conn, organization_id, body.lead_id)
    if lead is None:
        raise field_error("lead_id", "no such lead in this organization")
    if lead.pipeline_stage != WON:
        raise Conflict(
            f"Lead {body.lead_id} is in stage {lead.pipeline_stage}: reviews are requested "
            "once the job is won.",
            details={"pipeline_stage": lead.pipeline_stage, "required": WON},
        )
    channel = Channel(body.channel)
    raw = lead.phone if channel is Channel.SMS else lead.email
    if not raw:
        what = "phone number" if channel is Channel.SMS else "email address"
        raise Conflict(
            f"Lead {body.lead_id} has no {what} to send a {channel.value} request to.",
            details={"channel": channel.value, "reason": "no_address"},
        )
    org = await outreach.org_outreach(tx, organization_id)
    try:
        to = normalize_address(channel, raw, region=org.region)
    except ValueError as exc:
        raise field_error("channel", f"the lead's address cannot be used: {exc}") from exc
    text, subject = request_text(
        channel, name=first_name(lead.name), org=await org_name(tx), url=body.review_url
    )
    message = await outreach.queue_message(
        tx,
        outreach.Outgoing(
            channel=channel,
            to=to,
            body=text,
            subject=subject,
            purpose=Purpose.MARKETING,
            lead_id=lead.id,
        ),
        org=org,
    )
    result = ReviewRequested(
        message_id=public_id(MESSAGE_PREFIX, message.id),
        lead_id=lead.id,
        channel=channel.value,
        status=message.status,
        review_url=body.review_url,
        queued_at=message.created_at,
        scheduled_for=message.scheduled_for,
    )
    await events.record(
        tx,
        Action.REVIEW_REQUESTED,
        {"lead_id": str(lead.id), "message_id": result.message_id, "channel": channel.value},
        data=result.model_dump(mode="json"),
    )
    return result


@dataclass(frozen=True)
class Recorded:
    review: ReviewOut
    created: bool


async def record_review(tx: Tx, runtime: Runtime, body: ReviewCreate) -> Recorded:
    """Store a review once; the first time, fire `review.received` and draft the reply."""
    organization_id = tx.actor.organization_id
    sentiment = sentiment_of(body.text or "", body.rating)
    row = await repository.insert_new(
        tx.conn,
        id=uuid.uuid4(),
        organization_id=organization_id,
        platform=body.platform,
        review_id=body.review_id,
        rating=body.rating,
        text=body.text,
        author=body.author,
        url=body.url,
        review_created_at=body.created_at,
        sentiment=sentiment,
        created_at=tx.now(),
    )
    if row is None:
        stored = await repository.find(tx.conn, organization_id, body.platform, body.review_id)
        assert stored is not None
        reply = (
            await content.get(tx.conn, organization_id, stored.reply_content_id)
            if stored.reply_content_id
            else None
        )
        return Recorded(repository.review_of(stored, reply), created=False)
    review = ReviewInput(
        platform=body.platform,
        review_id=body.review_id,
        rating=body.rating,
        text=body.text or "",
        reviewer_name=body.author,
    )
    responded = await replies.respond(tx, runtime, review, announce=False)
    row = await repository.set_reply(tx.conn, organization_id, row.id, responded.drafted.row.id)
    reply = await content.get(tx.conn, organization_id, responded.drafted.row.id)
    out = repository.review_of(row, reply)
    data = {**review_event_data(review, sentiment, reply), "id": out.id, "url": body.url}
    await events.record(
        tx,
        Action.REVIEW_RECEIVED,
        {"review_id": body.review_id, "platform": body.platform, "id": out.id},
        data=data,
    )
    return Recorded(out, created=True)
