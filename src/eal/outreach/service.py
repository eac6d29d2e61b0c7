"""Queueing messages, reading them, and the suppression list (no HTTP, no provider calls).

`queue_message` is the one entry of the sending path: ad-hoc API sends,
sequence steps, call callbacks and review requests all come through it. It
refuses what may not be sent (a suppressed address, the daily limit reached),
defers marketing SMS out of the recipient's quiet hours, stores the message
and defers its delivery job in the caller's transaction.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from eal import events, jobs
from eal.db.tx import Tx
from eal.errors import Conflict, NotFound, RateLimited, Suppressed, field_error
from eal.events import Action
from eal.kit.ids import parse_public_id, public_id
from eal.kit.paging import Page, PageQuery, paginate
from eal.leads import repository as leads
from eal.organizations import repository as organizations
from eal.outreach import compliance, repository, sequence_repository
from eal.outreach.addresses import normalize_address
from eal.outreach.schemas import (
    MESSAGE_PREFIX,
    SUPPRESSION_PREFIX,
    Channel,
    Direction,
    InboundSecretCreated,
    MessageDetail,
    MessageOut,
    MessageQueued,
    MessageStatus,
    Purpose,
    SendRequest,
    StopReason,
    SuppressionCreate,
    SuppressionDeleted,
    SuppressionOut,
)
from eal.outreach.settings import OutreachConfig

DELIVER_TASK = "outreach.deliver"
VOLUME_WINDOW = timedelta(hours=24)
INBOUND_SECRET_PREFIX = "eis_"


@dataclass(frozen=True)
class Outgoing:
    """A message to queue, whoever asks for it."""

    channel: Channel
    to: str
    body: str
    subject: str | None = None
    purpose: Purpose = Purpose.TRANSACTIONAL
    lead_id: uuid.UUID | None = None


@dataclass(frozen=True)
class OrgOutreach:
    """What the sending path needs from an organization's settings."""

    config: OutreachConfig
    zone: ZoneInfo
    region: str
    settings: dict[str, Any]

    @property
    def sms_configured(self) -> bool:
        return isinstance((self.settings.get("integrations") or {}).get("sms"), dict)

    @property
    def email_configured(self) -> bool:
        return isinstance((self.settings.get("integrations") or {}).get("email"), dict)

    def sender(self, channel: Channel) -> str | None:
        """The from number or address the organization sends from."""
        item = (self.settings.get("integrations") or {}).get(channel.value)
        if not isinstance(item, dict):
            return None
        value = item.get("from_number") if channel is Channel.SMS else item.get("from_address")
        return str(value) if value else None


async def org_outreach(tx: Tx, organization_id: uuid.UUID) -> OrgOutreach:
    """The organization's outreach settings, defaults filled in."""
    settings = await organizations.settings_of(tx.conn, organization_id)
    locale = str(settings.get("default_locale") or "en-US")
    region = locale.split("-")[-1].upper() if "-" in locale else "US"
    return OrgOutreach(
        config=OutreachConfig.from_settings(settings),
        zone=ZoneInfo(str(settings.get("timezone") or "America/New_York")),
        region=region if len(region) == 2 else "US",
        settings=settings,
    )


def _message_id(text: str) -> uuid.UUID:
    parsed = parse_public_id(MESSAGE_PREFIX, text)
    if parsed is None:
        raise NotFound(f"Message {text} not found.")
    return parsed


async def check_not_suppressed(tx: Tx, channel: Channel, address: str) -> None:
    """Refuse an address on the suppression list (422 `suppressed`)."""
    found = await repository.find_suppression(
        tx.conn, tx.actor.organization_id, channel.value, address
    )
    if found is not None:
        raise Suppressed(
            f"{address} is on the suppression list ({found.reason}); nothing is sent to it.",
            details={
                "channel": channel.value,
                "address": address,
                "reason": found.reason,
                "suppression_id": public_id(SUPPRESSION_PREFIX, found.id),
            },
        )


async def check_volume(tx: Tx, org: OrgOutreach, channel: Channel, now: datetime) -> int:
    """How many more messages of `channel` the daily limit allows; RateLimited at none.

    Locks the organization's count of the channel until commit, so concurrent
    senders cannot both take the last one.
    """
    limit = org.config.daily_limits[channel.value]
    await repository.lock_volume(tx.conn, tx.actor.organization_id, channel.value)
    count, oldest = await repository.volume_since(
        tx.conn, tx.actor.organization_id, channel.value, now - VOLUME_WINDOW
    )
    if count < limit:
        return limit - count
    frees_at = (oldest or now) + VOLUME_WINDOW
    wait = max(1, int((frees_at - now).total_seconds()) + 1)
    raise RateLimited(
        f"The organization's {channel.value} limit of {limit} messages per 24 hours is reached.",
        details={"channel": channel.value, "limit": limit, "retry_after_seconds": wait},
        headers={"Retry-After": str(wait)},
    )


async def quiet_hours_release(
    tx: Tx, org: OrgOutreach, address: str, at: datetime, *, exclude: uuid.UUID | None = None
) -> datetime | None:
    """When a marketing SMS to `address` may go, if not at `at` (quiet hours, state caps).

    Earlier messages to the number are read only where a cap applies;
    `exclude` is the message being decided, when it is stored already.
    """
    rules = compliance.rules_for(address, org.config, org.zone)
    recent: list[datetime] = []
    if rules.max_per_24h is not None:
        recent = await repository.sends_to_since(
            tx.conn, tx.actor.organization_id, address, at - VOLUME_WINDOW, exclude=exclude
        )
    allowed = rules.next_allowed(at, recent)
    return allowed if allowed > at else None


async def queue_message(
    tx: Tx,
    outgoing: Outgoing,
    *,
    org: OrgOutreach | None = None,
    defer_delivery: bool = True,
) -> Any:
    """Store `outgoing` (already normalised) as queued and defer its delivery; its row.

    With `defer_delivery` false the caller sends it itself, through `sending.deliver`
    inside its own job (a call's dispatch does, so that its retries and its outcome
    are the call's). Raises Suppressed, RateLimited or Conflict (no provider).
    """
    organization_id = tx.actor.organization_id
    org = org or await org_outreach(tx, organization_id)
    now = tx.now()
    await check_not_suppressed(tx, outgoing.channel, outgoing.to)
    configured = org.sms_configured if outgoing.channel is Channel.SMS else org.email_configured
    if not configured and not tx.actor.is_test:
        raise Conflict(
            f"No {outgoing.channel.value} provider is configured for this organization. "
            f"Set settings.integrations.{outgoing.channel.value} with "
            "PATCH /api/v1/organizations/{id}.",
            details={"reason": f"{outgoing.channel.value}_not_configured"},
        )
    await check_volume(tx, org, outgoing.channel, now)
    scheduled_for = None
    if outgoing.channel is Channel.SMS and outgoing.purpose is Purpose.MARKETING:
        scheduled_for = await quiet_hours_release(tx, org, outgoing.to, now)
    row = await repository.insert_message(
        tx.conn,
        id=uuid.uuid4(),
        organization_id=organization_id,
        channel=outgoing.channel.value,
        direction=Direction.OUTBOUND.value,
        purpose=outgoing.purpose.value,
        to_address=outgoing.to,
        from_address=org.sender(outgoing.channel),
        subject=outgoing.subject,
        body=outgoing.body,
        status=MessageStatus.QUEUED.value,
        scheduled_for=scheduled_for,
        lead_id=outgoing.lead_id,
        created_at=now,
        updated_at=now,
    )
    detail = f"held for quiet hours until {scheduled_for.isoformat()}" if scheduled_for else None
    await repository.add_event(tx.conn, organization_id, row.id, row.status, now, detail)
    await events.record(
        tx,
        Action.OUTREACH_MESSAGE_QUEUED,
        {
            "message_id": public_id(MESSAGE_PREFIX, row.id),
            "channel": row.channel,
            "purpose": row.purpose,
            "lead_id": str(row.lead_id) if row.lead_id else None,
            "scheduled_for": scheduled_for.isoformat() if scheduled_for else None,
        },
    )
    if defer_delivery:
        await jobs.defer(
            tx,
            DELIVER_TASK,
            {"message_id": str(row.id)},
            dedupe_key=str(row.id),
            execute_after=scheduled_for,
        )
    return row


async def send(tx: Tx, body: SendRequest) -> MessageQueued:
    """POST /outreach/send: check, queue and defer one ad-hoc message."""
    organization_id = tx.actor.organization_id
    org = await org_outreach(tx, organization_id)
    try:
        to = normalize_address(body.channel, body.to, region=org.region)
    except ValueError as exc:
        raise field_error("to", str(exc)) from exc
    if body.lead_id is not None and await leads.get(tx.conn, organization_id, body.lead_id) is None:
        raise field_error("lead_id", "no such lead in this organization")
    row = await queue_message(
        tx,
        Outgoing(
            channel=body.channel,
            to=to,
            body=body.body,
            subject=body.subject,
            purpose=body.purpose,
            lead_id=body.lead_id,
        ),
        org=org,
    )
    return MessageQueued(
        message_id=public_id(MESSAGE_PREFIX, row.id),
        status=row.status,
        channel=row.channel,
        queued_at=row.created_at,
        scheduled_for=row.scheduled_for,
    )


async def list_messages(
    tx: Tx,
    page: PageQuery,
    *,
    channel: str | None = None,
    status: str | None = None,
    direction: str | None = None,
    lead_id: uuid.UUID | None = None,
    start_at: datetime | None = None,
    end_at: datetime | None = None,
) -> Page[MessageOut]:
    """The organization's messages, newest first."""
    rows = await repository.message_page(
        tx.conn,
        tx.actor.organization_id,
        page,
        channel=channel,
        status=status,
        direction=direction,
        lead_id=lead_id,
        start_at=start_at,
        end_at=end_at,
    )
    return paginate(rows, page, lambda r: repository.message_of(r, r.sequence_id))


async def get_message(tx: Tx, message_id: str) -> MessageDetail:
    """One message with its body, provider id, error and status history."""
    organization_id = tx.actor.organization_id
    row = await repository.get_message(tx.conn, organization_id, _message_id(message_id))
    if row is None:
        raise NotFound(f"Message {message_id} not found.")
    sequence_id = await repository.sequence_of_enrollment(tx.conn, row.enrollment_id)
    listed = repository.message_of(row, sequence_id)
    return MessageDetail(
        **listed.model_dump(),
        body=row.body,
        provider=row.provider,
        provider_message_id=row.provider_message_id,
        error=row.error,
        error_code=row.error_code,
        reply_to_message_id=(
            public_id(MESSAGE_PREFIX, row.reply_to_message_id) if row.reply_to_message_id else None
        ),
        history=await repository.history(tx.conn, organization_id, row.id),
    )


# --- suppressions ------------------------------------------------------------------


async def suppress(
    tx: Tx,
    channel: Channel,
    address: str,
    *,
    reason: str,
    source: str,
    message_id: uuid.UUID | None = None,
) -> tuple[Any, bool]:
    """Add `address` (normalised) to the suppression list and stop its sequences.

    Returns (the suppression row, whether it is new). Adding an address that
    is already suppressed changes nothing.
    """
    organization_id = tx.actor.organization_id
    row, created = await repository.insert_suppression(
        tx.conn,
        organization_id=organization_id,
        channel=channel.value,
        address=address,
        reason=reason,
        source=source,
        message_id=message_id,
        now=tx.clock.now(),
    )
    if created:
        suppression = repository.suppression_of(row)
        await events.record(
            tx,
            Action.OUTREACH_SUPPRESSION_ADDED,
            {
                "suppression_id": suppression.id,
                "channel": row.channel,
                "address": row.address,
                "reason": row.reason,
                "source": row.source,
            },
        )
        stop = StopReason.BOUNCED if reason in ("hard_bounce", "bounce") else StopReason.OPTED_OUT
        await stop_enrollments(tx, address=address, reason=stop)
    return row, created


async def stop_enrollments(
    tx: Tx, *, reason: StopReason, address: str | None = None, lead_id: uuid.UUID | None = None
) -> int:
    """Stop every running enrollment of an address or a lead; how many were stopped."""
    organization_id = tx.actor.organization_id
    rows = await sequence_repository.running_enrollments(
        tx.conn, organization_id, address=address, lead_id=lead_id
    )
    now = tx.clock.now()
    for row in rows:
        await sequence_repository.update_enrollment(
            tx.conn,
            organization_id,
            row.id,
            status="stopped",
            stop_reason=reason.value,
            next_due_at=None,
            finished_at=now,
            updated_at=now,
        )
        await events.record(
            tx,
            Action.OUTREACH_ENROLLMENT_CHANGED,
            {
                "enrollment_id": sequence_repository.enrollment_of(row).id,
                "diff": {
                    "status": {"from": row.status, "to": "stopped"},
                    "stop_reason": {"from": None, "to": reason.value},
                },
            },
        )
    return len(rows)


async def add_suppression(tx: Tx, body: SuppressionCreate) -> SuppressionOut:
    """POST /outreach/suppressions: block all outbound to this address."""
    org = await org_outreach(tx, tx.actor.organization_id)
    try:
        address = normalize_address(body.channel, body.address, region=org.region)
    except ValueError as exc:
        raise field_error("address", str(exc)) from exc
    row, _created = await suppress(tx, body.channel, address, reason=body.reason, source="api")
    return repository.suppression_of(row)


async def list_suppressions(
    tx: Tx, page: PageQuery, *, channel: str | None = None, reason: str | None = None
) -> Page[SuppressionOut]:
    """The suppression list, newest first."""
    rows = await repository.suppression_page(
        tx.conn, tx.actor.organization_id, page, channel=channel, reason=reason
    )
    return paginate(rows, page, repository.suppression_of)


async def remove_suppression(tx: Tx, suppression_id: str) -> SuppressionDeleted:
    """DELETE /outreach/suppressions/{id}: messages may go to the address again."""
    parsed = parse_public_id(SUPPRESSION_PREFIX, suppression_id)
    row = (
        await repository.delete_suppression(tx.conn, tx.actor.organization_id, parsed)
        if parsed is not None
        else None
    )
    if row is None:
        raise NotFound(f"Suppression {suppression_id} not found.")
    await events.record(
        tx,
        Action.OUTREACH_SUPPRESSION_REMOVED,
        {
            "suppression_id": suppression_id,
            "channel": row.channel,
            "address": row.address,
            "reason": row.reason,
        },
    )
    return SuppressionDeleted(id=suppression_id, deleted=True)


# --- inbound secret ------------------------------------------------------------------


def hash_secret(secret: str) -> bytes:
    """The stored form of an inbound secret (256 random bits: a fast hash is right)."""
    return hashlib.sha256(secret.encode("utf-8")).digest()


async def create_inbound_secret(tx: Tx) -> InboundSecretCreated:
    """A new inbound-parse secret for email replies (it replaces any earlier one)."""
    secret = INBOUND_SECRET_PREFIX + secrets.token_urlsafe(32)
    now = tx.clock.now()
    prefix = secret[:12]
    await repository.store_inbound_secret(
        tx.conn, tx.actor.organization_id, hash_secret(secret), prefix, now
    )
    await events.record(tx, Action.OUTREACH_INBOUND_SECRET_CREATED, {"secret_prefix": prefix})
    return InboundSecretCreated(secret=secret, secret_prefix=prefix, created_at=now)
