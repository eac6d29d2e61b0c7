"""Replies to reviews: drafted, routed to the owner when the review is unhappy, or published.

A negative or mixed review's reply waits for the owner (`pending_owner_approval`), whatever
the settings say. A positive review's reply is published to Google Business Profile at
once when `settings.reviews.auto_publish_positive` is true and the review is a Google one;
otherwise it stays a draft for a person to publish.
"""

from __future__ import annotations

from dataclasses import dataclass

from eal.content import repository
from eal.content.publishing import GOOGLE_PLATFORMS, check_publishable, publish_rows
from eal.content.schemas import Channel, PublicationOut, ReviewResponseOut
from eal.content.service import DraftedReply, ReviewInput, draft_review_reply
from eal.content.settings import ContentConfig
from eal.db.tx import Tx
from eal.organizations import repository as organizations
from eal.runtime import Runtime


@dataclass(frozen=True)
class Responded:
    drafted: DraftedReply
    publication: PublicationOut | None


async def respond(tx: Tx, runtime: Runtime, review: ReviewInput, *, announce: bool) -> Responded:
    """Draft the reply to `review`; publish it when the organization lets positive ones go."""
    drafted = await draft_review_reply(tx, review, announce=announce)
    publication = None
    config = ContentConfig.from_settings(
        await organizations.settings_of(tx.conn, tx.actor.organization_id)
    )
    if (
        drafted.auto_publish_recommended
        and config.auto_publish_positive
        and review.platform in GOOGLE_PLATFORMS
    ):
        check_publishable(drafted.row, [Channel.GOOGLE_BUSINESS])
        (publication,) = await publish_rows(tx, runtime, drafted.row, [Channel.GOOGLE_BUSINESS])
    return Responded(drafted, publication)


async def review_response_out(tx: Tx, responded: Responded) -> ReviewResponseOut:
    """The spec's answer for a drafted reply, with the stored item's id and status."""
    row = await repository.get(tx.conn, tx.actor.organization_id, responded.drafted.row.id)
    assert row is not None
    return ReviewResponseOut(
        id=repository.content_id(row.id),
        status=row.status,
        response_text=row.body or "",
        sentiment=responded.drafted.sentiment,
        auto_publish_recommended=responded.drafted.auto_publish_recommended,
        provider=row.provider or "embedded",
        publication=responded.publication,
    )
