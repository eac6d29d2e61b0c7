"""The `calls.dispatch` job: auto_dispatch's side effects, each done once per call.

In order: the caller's lead (found by phone, else created: `lead.created`), an SMS back to
the caller through the one sending path (a transactional message: suppressions respected,
sent at once, never held for quiet hours), after hours a text to the on-call phone, and a
JobNimbus contact and job. Each step stores its result on the call before the next one
runs, so a retried job skips what is done: the lead id, the message ids, the CRM job id.
Vendor failures are retried with backoff and shown on the call meanwhile
(`dispatch_decision.error`); once the retries are spent the call is `dispatch_failed`.
Test-environment calls simulate every external effect: nothing reaches a vendor.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import structlog

from eal import events, jobs
from eal.calls import repository
from eal.calls.schemas import CALL_PREFIX, CallStatus, DispatchAction
from eal.calls.settings import CallsConfig
from eal.db.tx import Tx
from eal.errors import BadGateway, Conflict, RateLimited, Suppressed
from eal.events import Action
from eal.integrations.crm import CrmError, CrmJob, CrmUnavailable, UnknownCrmVendor, get_crm_client
from eal.integrations.twilio import TwilioError
from eal.kit.ids import public_id
from eal.kit.outbound import UnsafeUrl
from eal.leads import crm_sync
from eal.leads import service as leads
from eal.organizations import repository as organizations
from eal.outreach import repository as outreach_repository
from eal.outreach import service as outreach
from eal.outreach.schemas import Channel, MessageStatus, Purpose
from eal.outreach.sending import DeliverMessage, deliver, org_name

log = structlog.get_logger(__name__)

DISPATCH_RETRY = jobs.RetryPolicy(
    max_attempts=8, base=timedelta(seconds=10), cap=timedelta(minutes=30)
)
SENT_STATUSES = frozenset(
    {MessageStatus.SENT.value, MessageStatus.DELIVERED.value, MessageStatus.SIMULATED.value}
)
_PLACEHOLDER = re.compile(r"\{\{\s*(caller_name|org_name)\s*\}\}")
_INTENT_TITLES = {
    "water": "water damage",
    "fire": "fire damage",
    "mold": "mold",
    "biohazard": "biohazard clean-up",
}


class DispatchCall(jobs.NoPayload):
    """The payload of `calls.dispatch`."""

    call_id: uuid.UUID


class _Retry(Exception):
    """A vendor failed in a way that may pass: the job is retried."""


def render_callback(template: str, *, caller_name: str | None, org: str) -> str:
    """The callback text with {{caller_name}} and {{org_name}} filled in."""
    first = (caller_name or "").split()[0] if caller_name and caller_name.strip() else "there"
    values = {"caller_name": first, "org_name": org}
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def _on_call_text(row: Any) -> str:
    who = row.caller_name or row.caller_number
    what = _INTENT_TITLES.get(row.intent, row.intent)
    return f"Urgent {what} call from {who} ({row.caller_number}). Call them back now."[:480]


async def _update_decision(tx: Tx, row: Any, **changes: Any) -> Any:
    decision = {**(row.decision or {}), **changes}
    return await repository.update(
        tx.conn, tx.actor.organization_id, row.id, decision=decision, updated_at=tx.now()
    )


async def _queue_sms(
    tx: Tx, to: str, body: str, lead_id: uuid.UUID | None
) -> tuple[Any, str | None]:
    """(message row or None, why not): a transactional SMS queued for this job to send."""
    try:
        message = await outreach.queue_message(
            tx,
            outreach.Outgoing(
                channel=Channel.SMS,
                to=to,
                body=body,
                purpose=Purpose.TRANSACTIONAL,
                lead_id=lead_id,
            ),
            defer_delivery=False,
        )
    except Suppressed:
        return None, "the caller opted out of SMS: no callback text"
    except RateLimited as exc:
        return None, f"the daily SMS limit is reached: {exc.message}"
    except Conflict as exc:
        return None, exc.message
    return message, None


async def _prepare(ctx: jobs.JobContext, call_id: uuid.UUID) -> Any:
    """The lead and the messages, stored on the call in one transaction; the call row."""
    async with ctx.transaction() as tx:
        row = await repository.get(tx.conn, ctx.organization_id, call_id, lock=True)
        if row is None or row.dispatch_action != DispatchAction.AUTO_DISPATCH:
            return None
        if row.status in (CallStatus.DISPATCHED, CallStatus.DISPATCH_FAILED):
            return None
        decision = row.decision or {}
        notes: list[str] = list(decision.get("notes") or [])
        if row.lead_id is None:
            if row.caller_number_valid:
                lead_id, _ = await leads.lead_for_caller(
                    tx,
                    phone=row.caller_number,
                    name=row.caller_name,
                    postal_code=row.caller_postal_code,
                    message=row.transcript,
                )
                row = await repository.update(tx.conn, ctx.organization_id, row.id, lead_id=lead_id)
                row = await _update_decision(tx, row, lead_id=str(lead_id))
            else:
                notes.append("the caller's number is not valid: no lead, no callback text")
        callback = row.callback_message_id is None and bool(row.caller_number_valid)
        on_call = bool(decision.get("notify_on_call")) and not decision.get("on_call_message_id")
        if callback or on_call:
            config = CallsConfig.from_settings(
                await organizations.settings_of(tx.conn, ctx.organization_id)
            )
            row = await _queue_texts(tx, row, config, notes, callback=callback, on_call=on_call)
        if notes != list(decision.get("notes") or []):
            row = await _update_decision(tx, row, notes=notes)
        return row


async def _queue_texts(
    tx: Tx, row: Any, config: CallsConfig, notes: list[str], *, callback: bool, on_call: bool
) -> Any:
    """Queue the callback to the caller and the on-call text, as asked; the call row.

    Each message is stored on the call as it is queued; why one was not is added to
    ``notes``.
    """
    if callback:
        body = render_callback(
            config.callback_sms, caller_name=row.caller_name, org=await org_name(tx)
        )
        message, why = await _queue_sms(tx, row.caller_number, body, row.lead_id)
        if message is not None:
            row = await repository.update(
                tx.conn, tx.actor.organization_id, row.id, callback_message_id=message.id
            )
        elif why is not None:
            notes.append(why)
            row = await _update_decision(tx, row, callback_skipped=True)
    if on_call and config.on_call_phone is not None:
        message, why = await _queue_sms(tx, config.on_call_phone, _on_call_text(row), row.lead_id)
        if message is not None:
            row = await _update_decision(tx, row, on_call_message_id=str(message.id))
        elif why is not None:
            notes.append(f"on-call text: {why}")
    return row


async def _send(ctx: jobs.JobContext, message_id: uuid.UUID | None) -> str | None:
    """Send one of the call's messages (a no-op once it has left); the error if it failed."""
    if message_id is None:
        return None
    try:
        await deliver(ctx, DeliverMessage(message_id=message_id))
    except TwilioError as exc:
        raise _Retry(f"SMS: {exc.message}") from exc
    async with ctx.transaction() as tx:
        message = await outreach_repository.get_message(tx.conn, ctx.organization_id, message_id)
    if message is None or message.status in SENT_STATUSES:
        return None
    if message.status == MessageStatus.QUEUED:
        raise _Retry("SMS: not sent yet")
    return f"SMS: {message.error or message.status}"


async def _crm_job(ctx: jobs.JobContext, row: Any) -> tuple[str | None, str | None]:
    """(CRM job id, error): the call's JobNimbus contact and job, created once."""
    if row.crm_job_id is not None:
        return row.crm_job_id, None
    runtime = ctx.runtime
    env = crm_sync.PushEnvironment(db=runtime.db, secret_box=runtime.secret_box, http=runtime.http)
    call_id = public_id(CALL_PREFIX, row.id)
    async with ctx.transaction() as tx:
        try:
            config = await crm_sync.crm_config(tx, ctx.organization_id, runtime.secret_box)
        except Conflict as exc:
            if exc.details.get("reason") == "crm_not_configured":
                return None, None  # no CRM: nothing to create, nothing failed
            return None, f"CRM: {exc.message}"
        if row.lead_id is None:
            return None, "CRM: no lead to attach the job to"
        try:
            contact = await crm_sync.push_lead(tx, env, row.lead_id)
        except BadGateway as exc:
            if exc.details.get("transient"):
                raise _Retry(f"CRM: {exc.message}") from exc
            return None, f"CRM: {exc.message}"
        except Conflict as exc:
            return None, f"CRM: {exc.message}"
    if ctx.actor is not None and ctx.actor.is_test:
        job_id = crm_sync.SIMULATED_PREFIX + row.id.hex
    else:
        job_id = await _push_job(env, config, row, call_id, contact.external_id)
    async with ctx.transaction() as tx:
        await repository.update(tx.conn, ctx.organization_id, row.id, crm_job_id=job_id)
    return job_id, None


async def _push_job(
    env: crm_sync.PushEnvironment,
    config: crm_sync.CrmConfig,
    row: Any,
    call_id: str,
    contact_id: str | None,
) -> str:
    if contact_id is None:
        raise _Retry("CRM: the contact has no id yet")
    try:
        client = get_crm_client(
            config.vendor,
            api_key=config.api_key,
            base_url=config.base_url,
            http=env.http,
            options=config.options,
        )
        # A job whose answer was lost exists already: find it instead of creating a twin.
        found = await client.find_job_by_call_id(call_id)
        if found is not None:
            return found
        who = row.caller_name or row.caller_number
        what = _INTENT_TITLES.get(row.intent, row.intent)
        reason = (row.model_classification or {}).get("reason", "")
        job = CrmJob(
            call_id=call_id,
            contact_external_id=contact_id,
            name=f"{who} - {what}"[:200],
            description=f"Phone call {row.received_at.isoformat()}: {reason}"[:2000],
            city=row.caller_city,
            state=row.caller_state if row.caller_state and len(row.caller_state) == 2 else None,
            postal_code=row.caller_postal_code,
            source=leads.PHONE_CALL_SOURCE,
        )
        return (await client.push_job(job)).external_id
    except CrmUnavailable as exc:
        raise _Retry(f"CRM: {exc.message}") from exc
    except (CrmError, UnknownCrmVendor, UnsafeUrl, ValueError) as exc:
        raise _Failed(f"CRM: {exc}") from exc


class _Failed(Exception):
    """A side effect failed for good."""


async def dispatch(ctx: jobs.JobContext, payload: DispatchCall) -> None:
    """Carry out an auto_dispatch decision; idempotent per call."""
    row = await _prepare(ctx, payload.call_id)
    if row is None:
        return
    errors: list[str] = []
    try:
        for message_id in (row.callback_message_id, _on_call_id(row)):
            error = await _send(ctx, message_id)
            if error is not None:
                errors.append(error)
        try:
            _, error = await _crm_job(ctx, row)
        except _Failed as exc:
            error = str(exc)
        if error is not None:
            errors.append(error)
    except _Retry as exc:
        if ctx.attempt < DISPATCH_RETRY.max_attempts:
            await _settle(ctx, payload.call_id, errors=[str(exc)], final=False)
            raise
        errors.append(str(exc))
    await _settle(ctx, payload.call_id, errors=errors, final=True)


def _on_call_id(row: Any) -> uuid.UUID | None:
    value = (row.decision or {}).get("on_call_message_id")
    return uuid.UUID(value) if value else None


async def _settle(
    ctx: jobs.JobContext, call_id: uuid.UUID, *, errors: list[str], final: bool
) -> None:
    """Record what dispatch did: sms_callback_sent, the CRM job, the error; the final status."""
    async with ctx.transaction() as tx:
        row = await repository.get(tx.conn, ctx.organization_id, call_id, lock=True)
        if row is None:
            return
        sent = False
        if row.callback_message_id is not None:
            message = await outreach_repository.get_message(
                tx.conn, ctx.organization_id, row.callback_message_id
            )
            sent = message is not None and message.status in SENT_STATUSES
        error = "; ".join(errors) or None
        row = await _update_decision(
            tx,
            row,
            sms_callback_sent=sent,
            job_created_in_jobnimbus=row.crm_job_id,
            simulated=tx.actor.is_test,
            error=error,
        )
        if not final:
            await repository.update(tx.conn, ctx.organization_id, row.id, dispatch_error=error)
            return
        status = repository.status_after_dispatch(failed=error is not None)
        await repository.update(
            tx.conn, ctx.organization_id, row.id, status=status, dispatch_error=error
        )
        await events.record(
            tx,
            Action.CALL_DISPATCH_FAILED if error else Action.CALL_DISPATCHED,
            {
                "call_id": public_id(CALL_PREFIX, row.id),
                "sms_callback_sent": sent,
                "crm_job_id": row.crm_job_id,
                "error": error,
            },
        )
    if error:
        log.warning("call dispatch failed", call_id=str(call_id), error=error)
