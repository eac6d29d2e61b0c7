"""Handing messages to the providers, and recording what they answered.

A message is claimed (status `sending`, with the id of the job sending it)
in one transaction, handed to the provider outside any transaction, and its
outcome recorded in another, so no connection waits on a vendor. `Sender`
is one organization's provider for one channel, opened once and used for
many messages (a sequence run sends a batch through one). The
`outreach.deliver` job sends one queued message: ad-hoc sends, messages held
for quiet hours, and retries after a provider outage. Test-environment
messages never reach a provider: they end as `simulated`.

Neither Twilio's Messages API nor SMTP has an idempotency key, so a message
whose provider call may have gone through is never sent a second time when
it is marketing (a sequence step, a campaign): a worker that died during the
call, or an answer lost on the wire, ends it as `failed` with error code
`interrupted`. A transactional message (a call-back, a reply) is sent again
instead: a late duplicate is better than a lost answer to a customer.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import structlog

from eal import events, jobs
from eal.db.tx import Tx
from eal.events import Action
from eal.integrations.smtp import SmtpConfig, SmtpError, send_email
from eal.integrations.twilio import TwilioClient, TwilioError
from eal.kit.ids import public_id
from eal.metrics import count_send
from eal.outreach import repository
from eal.outreach.email import MessageRef, compose, links_for
from eal.outreach.providers import ProviderMissing, smtp_config, twilio_config
from eal.outreach.schemas import MESSAGE_PREFIX, Channel, MessageStatus, Purpose
from eal.outreach.service import DELIVER_TASK, org_outreach, quiet_hours_release, suppress
from eal.runtime import Runtime

log = structlog.get_logger(__name__)

SMTP_TIMEOUT_SECONDS = 30.0
MAX_ERROR_CHARS = 500
# A provider outage is retried for about three and a half hours (12 attempts,
# 10 s doubling up to an hour) before the message is given up as failed.
PROVIDER_RETRY = jobs.RetryPolicy(
    max_attempts=12, base=timedelta(seconds=10), cap=timedelta(hours=1)
)
INTERRUPTED = (
    "the provider call was interrupted and may have gone through; "
    "not sent again, so that it is never sent twice"
)


class DeliverMessage(jobs.NoPayload):
    """The payload of `outreach.deliver`."""

    message_id: uuid.UUID


def status_callback_url(public_url: str, organization_id: uuid.UUID) -> str:
    """Where Twilio posts status changes of the messages this organization sends."""
    return f"{public_url.rstrip('/')}/api/v1/integrations/twilio/{organization_id}/status"


# --- status changes -------------------------------------------------------------------


async def set_status(
    tx: Tx, row: Any, status: MessageStatus, *, detail: str | None = None, **values: Any
) -> Any:
    """Move a message to `status` (history row and audit entry); its new row."""
    now = tx.clock.now()
    updated = await repository.update_message(
        tx.conn, tx.actor.organization_id, row.id, status=status.value, updated_at=now, **values
    )
    await repository.add_event(tx.conn, tx.actor.organization_id, row.id, status.value, now, detail)
    if status is MessageStatus.SENT:
        await _record_sent(tx, updated)
    else:
        await events.record(
            tx,
            Action.OUTREACH_MESSAGE_STATUS,
            {
                "message_id": public_id(MESSAGE_PREFIX, row.id),
                "diff": {"status": {"from": row.status, "to": status.value}},
                "detail": detail,
            },
        )
    return updated


async def _record_sent(tx: Tx, row: Any) -> None:
    message = repository.message_of(row)
    action = (
        Action.OUTREACH_EMAIL_SENT if row.channel == Channel.EMAIL else Action.OUTREACH_SMS_SENT
    )
    await events.record(
        tx,
        action,
        {"message_id": message.id, "channel": row.channel, "to": row.to_address},
        data=message.model_dump(mode="json", by_alias=True),
    )


async def interrupt(tx: Tx, row: Any, error: str = INTERRUPTED) -> None:
    """End a marketing message whose provider call may have gone through (never resent)."""
    await set_status(
        tx,
        row,
        MessageStatus.FAILED,
        detail=INTERRUPTED,
        error=error[:MAX_ERROR_CHARS],
        error_code="interrupted",
    )


# --- the providers ------------------------------------------------------------------------


@dataclass
class Outcome:
    """What the provider answered for one message."""

    message_id: uuid.UUID
    sent: dict[str, Any] | None = None
    """provider, provider_message_id, email_message_id: it left."""
    failure: tuple[str, str] | None = None
    """(error, code): refused for good."""
    suppress_reason: str | None = None
    """With a failure: the address is to be suppressed (an opt-out, a hard bounce)."""
    transient: TwilioError | SmtpError | None = None
    """It may be tried again later (unless `maybe_sent`)."""


@dataclass
class Sender:
    """One organization's provider for one channel, for many messages."""

    runtime: Runtime
    organization_id: uuid.UUID
    channel: Channel
    org_name: str
    twilio: TwilioClient | None = None
    smtp: SmtpConfig | None = None
    callback: str = field(default="")

    @classmethod
    def open(
        cls,
        runtime: Runtime,
        organization_id: uuid.UUID,
        channel: Channel,
        settings: dict[str, Any],
        org_name: str,
    ) -> Sender:
        """The provider from the organization's settings; ProviderMissing when there is none."""
        sender = cls(runtime, organization_id, channel, org_name)
        if channel is Channel.SMS:
            sender.twilio = TwilioClient(twilio_config(settings, runtime.secret_box), runtime.http)
            sender.callback = status_callback_url(runtime.settings.public_url, organization_id)
        else:
            sender.smtp = smtp_config(settings, runtime.secret_box)
        return sender

    async def send(self, row: Any) -> Outcome:
        """Hand one claimed message to the provider; never raises for a provider's answer."""
        outcome = await self._send(row)
        count_send(
            self.channel.value,
            "sent" if outcome.sent is not None else "failed" if outcome.failure else "retry",
        )
        return outcome

    async def _send(self, row: Any) -> Outcome:
        try:
            if self.twilio is not None:
                sent = await self.twilio.send_sms(
                    to=row.to_address, body=row.body, status_callback=self.callback
                )
                return Outcome(row.id, sent={"provider": "twilio", "provider_message_id": sent.sid})
            assert self.smtp is not None
            return Outcome(row.id, sent=await self._email(row, self.smtp))
        except TwilioError as exc:
            if exc.transient:
                return Outcome(row.id, transient=exc)
            code = str(exc.code) if exc.code is not None else "twilio_error"
            reason = "carrier_opt_out" if exc.recipient_opted_out else None
            return Outcome(row.id, failure=(exc.message, code), suppress_reason=reason)
        except SmtpError as exc:
            if exc.transient:
                return Outcome(row.id, transient=exc)
            code = str(exc.code) if exc.code is not None else "smtp_error"
            reason = "hard_bounce" if exc.recipient_refused else None
            return Outcome(row.id, failure=(exc.message, code), suppress_reason=reason)

    async def _email(self, row: Any, config: SmtpConfig) -> dict[str, Any]:
        links = links_for(
            MessageRef(self.organization_id, row.id),
            self.runtime.signer,
            self.runtime.settings.public_url,
        )
        message, header_id = compose(
            message_id=row.id,
            to=row.to_address,
            subject=row.subject or "",
            text=row.body,
            config=config,
            links=links,
            org_name=self.org_name,
        )
        result = await send_email(
            config, message, self.runtime.outbound, timeout=SMTP_TIMEOUT_SECONDS
        )
        return {
            "provider": "smtp",
            "provider_message_id": result.response[:MAX_ERROR_CHARS] if result.response else None,
            "email_message_id": header_id,
        }


async def org_name(tx: Tx) -> str:
    """The organization's name, as emails and replies name it."""
    from eal.organizations import repository as organizations

    row = await organizations.get(tx.conn, tx.actor.organization_id)
    return str(row.name) if row is not None else "us"


# --- recording outcomes -----------------------------------------------------------------------


async def record_sent(tx: Tx, rows: dict[uuid.UUID, Any], outcomes: list[Outcome]) -> None:
    """Mark the messages that left as sent, in a few statements (a run's batch)."""
    now = tx.clock.now()
    sent = [o for o in outcomes if o.sent is not None]
    await repository.mark_sent(
        tx.conn,
        [
            {
                "id": o.message_id,
                "at": now,
                "provider": o.sent["provider"],
                "provider_message_id": o.sent.get("provider_message_id"),
                "email_message_id": o.sent.get("email_message_id"),
            }
            for o in sent
            if o.sent is not None
        ],
    )
    await repository.add_events(
        tx.conn,
        [
            {
                "organization_id": tx.actor.organization_id,
                "message_id": o.message_id,
                "status": MessageStatus.SENT.value,
                "detail": None,
                "created_at": now,
            }
            for o in sent
        ],
    )
    for outcome in sent:
        assert outcome.sent is not None
        row = rows[outcome.message_id]
        updated = SimpleNamespace(
            **{**row._mapping, "status": MessageStatus.SENT.value, "sent_at": now, **outcome.sent}
        )
        await _record_sent(tx, updated)


async def record_failure(tx: Tx, row: Any, outcome: Outcome) -> None:
    """A refusal for good: the message failed, and its address is suppressed if it says so."""
    assert outcome.failure is not None
    error, code = outcome.failure
    await set_status(
        tx,
        row,
        MessageStatus.FAILED,
        detail=error[:MAX_ERROR_CHARS],
        error=error[:MAX_ERROR_CHARS],
        error_code=code,
    )
    if outcome.suppress_reason is not None:
        await suppress(
            tx,
            Channel(row.channel),
            row.to_address,
            reason=outcome.suppress_reason,
            source="twilio_error" if row.channel == Channel.SMS else "smtp_bounce",
            message_id=row.id,
        )
    log.warning(
        "outreach_send_failed",
        message=public_id(MESSAGE_PREFIX, row.id),
        code=code,
        error=error[:200],
    )


async def record_transient(tx: Tx, row: Any, outcome: Outcome, *, attempt: int) -> bool:
    """A provider outage: end the message or make it sendable again; True when it is to retry."""
    exc = outcome.transient
    assert exc is not None
    if exc.maybe_sent and row.purpose == Purpose.MARKETING:
        await interrupt(tx, row, f"{INTERRUPTED} ({exc.message})")
        return False
    if attempt >= PROVIDER_RETRY.max_attempts:
        await set_status(
            tx,
            row,
            MessageStatus.FAILED,
            detail=f"gave up after {attempt} attempts: {exc.message}"[:MAX_ERROR_CHARS],
            error=exc.message[:MAX_ERROR_CHARS],
            error_code="provider_unavailable",
        )
        return False
    if not exc.maybe_sent:
        await set_status(
            tx, row, MessageStatus.QUEUED, detail=f"retrying: {exc.message}", job_id=None
        )
    # A transactional message that may have gone stays `sending`: the retry sends it again.
    return True


async def provider_missing(tx: Tx, row: Any, exc: ProviderMissing) -> None:
    """The organization has no usable provider for the channel (any more)."""
    await set_status(
        tx, row, MessageStatus.FAILED, detail=str(exc), error=str(exc), error_code=exc.reason
    )


# --- the deliver job ------------------------------------------------------------------------


async def _claim(ctx: jobs.JobContext, message_id: uuid.UUID) -> Any:
    """Lock the message and decide: None when there is nothing to send (any more)."""
    async with ctx.transaction() as tx:
        row = await repository.get_message(tx.conn, ctx.organization_id, message_id, lock=True)
        if row is None or row.status not in (MessageStatus.QUEUED, MessageStatus.SENDING):
            return None
        suppressed = await repository.find_suppression(
            tx.conn, ctx.organization_id, row.channel, row.to_address
        )
        if suppressed is not None:
            await set_status(
                tx,
                row,
                MessageStatus.FAILED,
                detail="the address was suppressed before the message left",
                error=f"suppressed ({suppressed.reason})",
                error_code="suppressed",
            )
            return None
        if tx.actor.is_test:
            await set_status(tx, row, MessageStatus.SIMULATED, detail="test key: not sent")
            count_send(row.channel, "simulated")
            return None
        if row.channel == Channel.SMS and row.purpose == Purpose.MARKETING:
            org = await org_outreach(tx, ctx.organization_id)
            later = await quiet_hours_release(tx, org, row.to_address, tx.now(), exclude=row.id)
            if later is not None:
                # Quiet hours or a state cap came into force since it was queued.
                await repository.update_message(
                    tx.conn, ctx.organization_id, row.id, scheduled_for=later
                )
                await jobs.defer(
                    tx,
                    DELIVER_TASK,
                    DeliverMessage(message_id=row.id),
                    dedupe_key=f"{row.id}:{int(later.timestamp())}",
                    execute_after=later,
                )
                return None
        if row.status == MessageStatus.SENDING and row.purpose == Purpose.MARKETING:
            await interrupt(tx, row)  # the attempt that claimed it died during the call
            return None
        if row.status == MessageStatus.QUEUED:
            row = await set_status(tx, row, MessageStatus.SENDING, job_id=ctx.job_id)
        return row


async def deliver(ctx: jobs.JobContext, payload: DeliverMessage) -> None:
    """Send one queued message through the organization's provider and record the outcome."""
    row = await _claim(ctx, payload.message_id)
    if row is None:
        return
    async with ctx.transaction() as tx:
        org = await org_outreach(tx, ctx.organization_id)
        name = await org_name(tx)
    try:
        sender = Sender.open(
            ctx.runtime, ctx.organization_id, Channel(row.channel), org.settings, name
        )
    except ProviderMissing as exc:
        async with ctx.transaction() as tx:
            current = await _current(tx, row.id)
            if current is not None:
                await provider_missing(tx, current, exc)
        return
    outcome = await sender.send(row)
    async with ctx.transaction() as tx:
        current = await _current(tx, row.id)
        if current is None:
            return  # a status callback or a sweep got there first
        if outcome.sent is not None:
            await set_status(
                tx, current, MessageStatus.SENT, sent_at=tx.clock.now(), **outcome.sent
            )
            return
        if outcome.failure is not None:
            await record_failure(tx, current, outcome)
            return
        retry = await record_transient(tx, current, outcome, attempt=ctx.attempt)
    if retry:
        assert outcome.transient is not None
        raise outcome.transient  # retried with backoff


async def _current(tx: Tx, message_id: uuid.UUID) -> Any:
    """The message, locked, if it is still being sent."""
    row = await repository.get_message(tx.conn, tx.actor.organization_id, message_id, lock=True)
    return row if row is not None and row.status == MessageStatus.SENDING else None
