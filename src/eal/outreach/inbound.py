"""What comes back: inbound SMS (opt-out keywords, replies), status callbacks, email replies,
unsubscribe links and opens.

These run in requests without an API key: the organization is named by the
URL (Twilio's and the inbound-parse webhooks) or by a signed token (links in
emails), and becomes the transaction's tenant once that is checked.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from email.utils import getaddresses, parseaddr
from typing import Any

import structlog

from eal import events
from eal.ai.replies import classify_reply
from eal.db.tx import Tx
from eal.events import Action
from eal.integrations.twilio import STATUS as TWILIO_STATUS
from eal.kit.identity import Actor, Source
from eal.kit.ids import public_id
from eal.kit.signed import InvalidToken, Signer
from eal.leads import repository as leads
from eal.organizations import repository as organizations
from eal.outreach import repository
from eal.outreach.addresses import normalize_address
from eal.outreach.email import UNSUBSCRIBE_PURPOSE, MessageRef
from eal.outreach.keywords import sms_intent
from eal.outreach.schemas import (
    MESSAGE_PREFIX,
    Channel,
    Direction,
    MessageStatus,
    ReplyLabel,
    StopReason,
)
from eal.outreach.sending import set_status
from eal.outreach.sequences import pause_until
from eal.outreach.service import org_outreach, stop_enrollments, suppress

log = structlog.get_logger(__name__)

OUT_OF_OFFICE_PAUSE = timedelta(days=7)
OPTED_OUT_REASONS = ("user_opt_out", "carrier_opt_out", "user_unsubscribe")
#: Twilio error codes meaning the recipient opted out at the carrier.
OPT_OUT_ERROR_CODES = {"21610"}
_STATUS_ORDER = {
    MessageStatus.QUEUED: 0,
    MessageStatus.SENDING: 1,
    MessageStatus.SENT: 2,
    MessageStatus.DELIVERED: 3,
    MessageStatus.UNDELIVERED: 3,
    MessageStatus.FAILED: 3,
}


def public_actor(organization_id: uuid.UUID, correlation_id: str | None) -> Actor:
    """Who acts for a request from a provider or a recipient (no API key)."""
    return Actor(
        organization_id=organization_id, source=Source.SYSTEM, correlation_id=correlation_id
    )


@dataclass(frozen=True)
class SmsReply:
    """What to answer an inbound SMS with (TwiML), if anything."""

    text: str | None


def _default_help(org_name: str) -> str:
    return (
        f"{org_name}: for help, reply here or call us. Reply STOP to opt out, START to opt back in. "
        "Msg & data rates may apply."
    )


async def _org_name(tx: Tx) -> str:
    row = await organizations.get(tx.conn, tx.actor.organization_id)
    return str(row.name) if row is not None else "We"


async def _store_inbound(
    tx: Tx,
    channel: Channel,
    sender: str,
    recipient: str,
    body: str,
    *,
    subject: str | None = None,
    reply_to: Any = None,
    provider_message_id: str | None = None,
    email_message_id: str | None = None,
    classification: str | None = None,
) -> Any:
    organization_id = tx.actor.organization_id
    now = tx.clock.now()
    lead = None
    if reply_to is not None and reply_to.lead_id is not None:
        lead = await leads.get(tx.conn, organization_id, reply_to.lead_id)
    elif channel is Channel.SMS:
        lead = await leads.find_by_phone(tx.conn, organization_id, sender)
    else:
        lead = await leads.find_by_email(tx.conn, organization_id, sender)
    row = await repository.insert_message(
        tx.conn,
        id=uuid.uuid4(),
        organization_id=organization_id,
        channel=channel.value,
        direction=Direction.INBOUND.value,
        to_address=recipient,
        from_address=sender,
        subject=subject,
        body=body,
        status=MessageStatus.RECEIVED.value,
        provider="twilio" if channel is Channel.SMS else "inbound_parse",
        provider_message_id=provider_message_id,
        email_message_id=email_message_id,
        lead_id=lead.id if lead is not None else None,
        reply_to_message_id=reply_to.id if reply_to is not None else None,
        classification=classification,
        created_at=now,
        updated_at=now,
    )
    await repository.add_event(tx.conn, organization_id, row.id, row.status, now)
    return row


async def inbound_sms(
    tx: Tx, *, sender_raw: str, recipient: str, body: str, message_sid: str | None
) -> SmsReply:
    """An SMS to the organization's number: opt-out keywords first, then a reply.

    An opt-out is recorded even from a number we never wrote to, and is
    confirmed exactly once; a reply stops the sender's running sequences (an
    out-of-office one pauses them).
    """
    organization_id = tx.actor.organization_id
    org = await org_outreach(tx, organization_id)
    try:
        sender = normalize_address(Channel.SMS, sender_raw, region=org.region)
    except ValueError:
        sender = sender_raw.strip()  # kept as given: an opt-out is never lost
    intent = sms_intent(body)
    org_name = await _org_name(tx)
    reply_to = await repository.last_outbound_to(tx.conn, organization_id, "sms", sender)
    classified = classify_reply(body, today=tx.clock.now().date()) if intent == "other" else None
    await _store_inbound(
        tx,
        Channel.SMS,
        sender,
        recipient,
        body,
        reply_to=reply_to,
        provider_message_id=message_sid,
        classification=classified.label if classified is not None else intent,
    )
    if intent == "opt_out":
        row, _created = await suppress(
            tx, Channel.SMS, sender, reason="user_opt_out", source="sms_keyword"
        )
        if await repository.mark_confirmed(tx.conn, row.id, tx.clock.now()):
            return SmsReply(
                f"{org_name}: you are unsubscribed and will receive no more messages. "
                "Reply START to opt back in."
            )
        return SmsReply(None)  # confirmed once already: never a second reply
    if intent == "opt_in":
        existing = await repository.find_suppression(tx.conn, organization_id, "sms", sender)
        if existing is not None and existing.reason in OPTED_OUT_REASONS:
            await repository.delete_suppression(tx.conn, organization_id, existing.id)
            await events.record(
                tx,
                Action.OUTREACH_SUPPRESSION_REMOVED,
                {
                    "suppression_id": repository.suppression_of(existing).id,
                    "channel": "sms",
                    "address": sender,
                    "reason": existing.reason,
                    "source": "sms_keyword",
                },
            )
            return SmsReply(f"{org_name}: you are subscribed again. Reply STOP to opt out.")
        return SmsReply(None)
    if intent == "help":
        return SmsReply(org.config.help_reply or _default_help(org_name))
    assert classified is not None
    await _after_reply(tx, Channel.SMS, sender, classified.label, classified.return_date)
    await events.record(
        tx,
        Action.OUTREACH_SMS_RECEIVED,
        {
            "from": sender,
            "classification": classified.label,
            "reply_to_message_id": public_id(MESSAGE_PREFIX, reply_to.id) if reply_to else None,
        },
    )
    return SmsReply(None)


async def _after_reply(
    tx: Tx, channel: Channel, sender: str, label: str, return_date: date | None
) -> None:
    """A real reply stops the sender's sequences; an out-of-office one pauses them."""
    if label == ReplyLabel.OUT_OF_OFFICE:
        org = await org_outreach(tx, tx.actor.organization_id)
        until = (
            datetime.combine(return_date, time(9, 0), tzinfo=org.zone).astimezone(UTC)
            if return_date is not None
            else tx.clock.now() + OUT_OF_OFFICE_PAUSE
        )
        await pause_until(tx, sender, until)
        return
    await stop_enrollments(tx, address=sender, reason=StopReason.REPLIED)


async def status_callback(
    tx: Tx, *, message_sid: str, twilio_status: str, error_code: str | None
) -> bool:
    """Apply a Twilio status callback; False when no message of ours has that sid."""
    row = await repository.find_by_provider_id(tx.conn, tx.actor.organization_id, message_sid)
    if row is None:
        return False
    mapped = TWILIO_STATUS.get(twilio_status)
    if mapped is None:
        return True
    status = MessageStatus(mapped)
    current = MessageStatus(row.status)
    if _STATUS_ORDER.get(status, 0) <= _STATUS_ORDER.get(current, 0):
        return True  # out of order or repeated: the message already knows more
    values: dict[str, Any] = {}
    if status is MessageStatus.DELIVERED:
        values["delivered_at"] = tx.clock.now()
    if error_code:
        values["error_code"] = error_code
        values["error"] = f"Twilio error {error_code}"
    await set_status(tx, row, status, detail=f"twilio: {twilio_status}", **values)
    if error_code in OPT_OUT_ERROR_CODES:
        await suppress(
            tx,
            Channel.SMS,
            row.to_address,
            reason="carrier_opt_out",
            source="twilio_error",
            message_id=row.id,
        )
    return True


# --- email -----------------------------------------------------------------------------


def _references(headers: dict[str, Any]) -> list[str]:
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    ids: list[str] = []
    for name in ("in-reply-to", "references"):
        for token in lowered.get(name, "").replace(",", " ").split():
            token = token.strip()
            if token.startswith("<") and token.endswith(">") and token not in ids:
                ids.append(token)
    return ids


@dataclass(frozen=True)
class InboundEmail:
    """An inbound-parse payload, as the endpoint validated it."""

    sender: str
    recipient: str
    subject: str
    text: str
    headers: dict[str, Any]


def _unsubscribe_ref(signer: Signer, token: str, tx: Tx) -> MessageRef | None:
    try:
        ref = MessageRef.unpack(signer.verify(UNSUBSCRIBE_PURPOSE, token, now=tx.clock.now()))
    except InvalidToken:
        return None
    return ref if ref.organization_id == tx.actor.organization_id else None


async def inbound_email(tx: Tx, email: InboundEmail, signer: Signer) -> dict[str, Any]:
    """A reply (or an unsubscribe by mail) to one of the organization's emails."""
    organization_id = tx.actor.organization_id
    _name, sender_address = parseaddr(email.sender)
    try:
        sender = normalize_address(Channel.EMAIL, sender_address)
    except ValueError:
        sender = sender_address.strip().lower() or email.sender.strip()
    recipients = [addr for _n, addr in getaddresses([email.recipient]) if addr]
    answered = await repository.find_by_email_ids(
        tx.conn, organization_id, _references(email.headers)
    )
    words = email.subject.split()
    if words and words[0].lower() == "unsubscribe":
        # The List-Unsubscribe mailto: its subject carries the message's signed
        # token, which names the recipient; without one, the sender asks for itself.
        ref = _unsubscribe_ref(signer, words[1] if len(words) > 1 else "", tx)
        if ref is not None and await unsubscribe(
            tx, ref.message_id, source="list-unsubscribe-mailto"
        ):
            return {"status": "unsubscribed"}
        await suppress(
            tx,
            Channel.EMAIL,
            sender,
            reason="user_unsubscribe",
            source="list-unsubscribe-mailto",
            message_id=answered.id if answered else None,
        )
        return {"status": "unsubscribed"}
    classified = classify_reply(
        email.text, subject=email.subject, headers=email.headers, today=tx.clock.now().date()
    )
    row = await _store_inbound(
        tx,
        Channel.EMAIL,
        sender,
        recipients[0] if recipients else email.recipient,
        email.text,
        subject=email.subject,
        reply_to=answered,
        email_message_id=_header(email.headers, "message-id"),
        classification=classified.label,
    )
    await _after_reply(tx, Channel.EMAIL, sender, classified.label, classified.return_date)
    message = repository.message_of(row)
    await events.record(
        tx,
        Action.OUTREACH_EMAIL_REPLIED,
        {
            "message_id": message.id,
            "from": sender,
            "classification": classified.label,
            "reply_to_message_id": public_id(MESSAGE_PREFIX, answered.id) if answered else None,
        },
        data={
            **message.model_dump(mode="json", by_alias=True),
            "classification": {
                "label": classified.label,
                "confidence": classified.confidence,
                "reason": classified.reason,
                "provider": classified.provider,
            },
        },
    )
    return {"status": "received", "message_id": message.id, "classification": classified.label}


def _header(headers: dict[str, Any], name: str) -> str | None:
    for key, value in headers.items():
        if str(key).lower() == name:
            return str(value)
    return None


# --- links in emails ------------------------------------------------------------------------


async def unsubscribe(tx: Tx, message_id: uuid.UUID, *, source: str) -> bool:
    """Suppress the recipient of one of our emails; False when there is no such message.

    `source` says how: `list-unsubscribe-header` (a mail client's one-click
    POST), `footer-link` (the page's button) or `list-unsubscribe-mailto`.
    """
    row = await repository.get_message(tx.conn, tx.actor.organization_id, message_id)
    if row is None or row.channel != Channel.EMAIL or row.direction != Direction.OUTBOUND:
        return False
    await suppress(
        tx,
        Channel.EMAIL,
        row.to_address,
        reason="user_unsubscribe",
        source=source,
        message_id=row.id,
    )
    return True


async def opened(tx: Tx, message_id: uuid.UUID) -> None:
    """Count the first open of an email (later ones change nothing)."""
    row = await repository.get_message(tx.conn, tx.actor.organization_id, message_id, lock=True)
    if row is None or row.opened_at is not None or row.direction != Direction.OUTBOUND:
        return
    now = tx.clock.now()
    await repository.update_message(
        tx.conn, tx.actor.organization_id, row.id, opened_at=now, updated_at=now
    )
    await events.record(
        tx, Action.OUTREACH_EMAIL_OPENED, {"message_id": public_id(MESSAGE_PREFIX, row.id)}
    )
