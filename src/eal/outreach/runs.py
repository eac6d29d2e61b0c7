"""Sequence runs: the due steps of a sequence's enrollments, sent a batch at a time.

An `outreach.run` job claims up to `BATCH` due enrollments of one sequence
(FOR UPDATE SKIP LOCKED, so runs of the same sequence share the work),
writes each one's step message and moves the enrollment on in one
transaction, sends the messages concurrently outside any transaction, and
records the outcomes as they come in. A step's message row is unique per
(enrollment, step): a step is sent at most once whatever runs and retries
do. A run that is retried after its worker died first ends the messages it
had in the provider's hands as `interrupted` (never resent).

Each run claims one batch and, when the batch was full, queues the next run
before sending, so several workers (and job slots) share a big step.
Enrolling starts a run; the minute sweep (`outreach.sweep`) starts runs for
steps that fell due later (delays, sending windows, pauses, a sequence
switched back on) and settles messages whose sender vanished.

Why batches: a job and three transactions per message capped one worker at
about 20 messages/s; a batch of 100 shares one job, two transactions and a
handful of statements (bench/outreach_bench.py).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog

from eal import events, jobs
from eal.db.tx import Tx
from eal.errors import RateLimited
from eal.events import Action
from eal.kit.identity import Actor, Source
from eal.kit.ids import public_id
from eal.leads import repository as leads
from eal.metrics import count_send
from eal.outreach import repository, sequence_repository
from eal.outreach.providers import ProviderMissing
from eal.outreach.schemas import (
    ENROLLMENT_PREFIX,
    MESSAGE_PREFIX,
    SEQUENCE_PREFIX,
    Channel,
    Direction,
    MessageStatus,
    Purpose,
    StopReason,
)
from eal.outreach.sending import (
    PROVIDER_RETRY,
    DeliverMessage,
    Outcome,
    Sender,
    interrupt,
    org_name,
    provider_missing,
    record_failure,
    record_sent,
    record_transient,
)
from eal.outreach.service import (
    DELIVER_TASK,
    OrgOutreach,
    check_volume,
    org_outreach,
    quiet_hours_release,
)
from eal.outreach.templates import TemplateProblem, render_text
from eal.outreach.timing import SendingWindow, check_delays, next_in_window, step_due_at
from eal.prospects import repository as prospects

log = structlog.get_logger(__name__)

RUN_TASK = "outreach.run"
SWEEP_TASK = "outreach.sweep"
#: Enrollments one transaction claims.
BATCH = 100
#: Provider calls in flight at once per run, and outcomes recorded per transaction.
SEND_CONCURRENCY = 10
RECORD_EVERY = 10
#: Runs one worker takes on at once (each with SEND_CONCURRENCY calls in flight).
RUN_CONCURRENCY = 4
#: A step held back by the daily limit tries again after this long.
VOLUME_RETRY = timedelta(hours=1)
#: A message `sending` this long has lost its sender: longer than a provider call
#: (30 s) and than the longest wait between two delivery attempts (an hour).
STALE_SENDING = timedelta(hours=2)


class RunSequence(jobs.NoPayload):
    """The payload of `outreach.run`."""

    sequence_id: uuid.UUID


async def start_run(tx: Tx, sequence_id: uuid.UUID, at: datetime | None = None) -> None:
    """Queue a run of the sequence, now or at `at`, in the caller's transaction."""
    await jobs.defer(tx, RUN_TASK, RunSequence(sequence_id=sequence_id), execute_after=at)


@dataclass
class _Batch:
    """What one claim transaction handed over for sending."""

    sends: list[Any] = field(default_factory=list)
    org: OrgOutreach | None = None
    org_name: str = ""
    channel: Channel = Channel.EMAIL
    more: bool = False


async def run_sequence(ctx: jobs.JobContext, payload: RunSequence) -> None:
    """Send one batch of the sequence's due steps; a full batch first queues the next run.

    Chaining runs instead of looping lets other workers (and this one's other
    job slots) claim the next batch while this one is with the provider.
    """
    if ctx.attempt > 1:
        await _settle_own(ctx)
    async with ctx.transaction() as tx:
        batch = await _claim(tx, payload.sequence_id, ctx.job_id)
        if batch.more:
            await start_run(tx, payload.sequence_id)
    if batch.sends:
        await _send(ctx, batch)


async def _settle_own(ctx: jobs.JobContext) -> None:
    """This job ran before and stopped mid-send: end what it had in the providers' hands."""
    async with ctx.transaction() as tx:
        for row in await repository.sending_of_job(tx.conn, ctx.organization_id, ctx.job_id):
            await interrupt(tx, row)


def _stopped(row: Any, status: str, reason: StopReason | None, now: datetime) -> dict[str, Any]:
    return {
        "id": row.id,
        "status": status,
        "stop_reason": reason.value if reason else None,
        "next_step": row.next_step,
        "next_due_at": None,
        "paused_until": None,
        "finished_at": now,
        "updated_at": now,
    }


def _moved(row: Any, next_step: int, due: datetime, now: datetime) -> dict[str, Any]:
    return {
        "id": row.id,
        "status": "active",
        "stop_reason": None,
        "next_step": next_step,
        "next_due_at": due,
        "paused_until": None,
        "finished_at": None,
        "updated_at": now,
    }


def _variables(lead: Any, name: str, org: OrgOutreach) -> dict[str, str | None]:
    first = last = None
    if lead is not None and lead.name:
        first, _, rest = str(lead.name).strip().partition(" ")
        last = rest.strip() or None
    email = (org.settings.get("integrations") or {}).get("email") or {}
    return {
        "first_name": first,
        "last_name": last,
        "company": lead.company if lead is not None else None,
        "org_name": name,
        "sender_name": email.get("from_name") or name,
    }


async def _claim(tx: Tx, sequence_id: uuid.UUID, job_id: int) -> _Batch:
    """Claim a batch of due enrollments: write their step messages and move them on."""
    organization_id = tx.actor.organization_id
    sequence = await sequence_repository.get_sequence(tx.conn, organization_id, sequence_id)
    if sequence is None or not sequence.active:
        return _Batch()  # archived, or switched off: switching it on starts a run
    now = tx.clock.now()
    rows = await sequence_repository.claim_due(tx.conn, organization_id, sequence.id, now, BATCH)
    if not rows:
        return _Batch()
    org = await org_outreach(tx, organization_id)
    window = SendingWindow(**sequence.sending_window)
    opens = next_in_window(now, window, org.zone)
    if opens > now:
        await sequence_repository.update_enrollments(
            tx.conn, [_moved(r, r.next_step, opens, now) for r in rows]
        )
        await start_run(tx, sequence.id, opens)
        return _Batch()
    channel = Channel(sequence.channel)
    name = await org_name(tx)
    people = {
        r.id: r
        for r in await leads.get_many(
            tx.conn, organization_id, [r.lead_id for r in rows if r.lead_id is not None]
        )
    }
    prospects_of = await prospects.contacts_of(
        tx.conn, organization_id, [r.prospect_id for r in rows if r.prospect_id is not None]
    )
    suppressed = await repository.suppressed_among(
        tx.conn, organization_id, channel.value, [r.address for r in rows]
    )
    allowance = await _allowance(tx, org, channel, now)
    steps = sequence.steps
    delays = check_delays([s["delay"] for s in steps])
    changes: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    held: dict[uuid.UUID, datetime] = {}
    for row in rows:
        lead = people.get(row.lead_id) if row.lead_id is not None else None
        if lead is not None and lead.pipeline_stage in ("won", "lost"):
            changes.append(_stopped(row, "stopped", StopReason(lead.pipeline_stage), now))
            continue
        if row.address in suppressed:
            changes.append(_stopped(row, "stopped", StopReason.OPTED_OUT, now))
            continue
        if allowance <= 0:
            changes.append(_moved(row, row.next_step, now + VOLUME_RETRY, now))
            continue
        step = steps[row.next_step]
        contact = lead if row.lead_id is not None else prospects_of.get(row.prospect_id)
        variables = _variables(contact, name, org)
        try:
            body = render_text(step["body"], variables)
            subject = render_text(step["subject"], variables) if step.get("subject") else None
        except TemplateProblem as exc:  # stored before a rule tightened: never sent half-made
            log.error("outreach_step_unrenderable", sequence=str(sequence.id), error=exc.message)
            changes.append(_stopped(row, "stopped", StopReason.UNENROLLED, now))
            continue
        allowance -= 1
        scheduled_for = None
        if channel is Channel.SMS:
            scheduled_for = await quiet_hours_release(tx, org, row.address, now)
        if scheduled_for is not None:
            held[row.id] = scheduled_for
        test = row.environment == "test"
        status = (
            MessageStatus.SIMULATED
            if test
            else MessageStatus.QUEUED
            if scheduled_for is not None
            else MessageStatus.SENDING
        )
        messages.append(
            {
                "id": uuid.uuid4(),
                "organization_id": organization_id,
                "channel": channel.value,
                "direction": Direction.OUTBOUND.value,
                "purpose": Purpose.MARKETING.value,
                "to_address": row.address,
                "from_address": org.sender(channel),
                "subject": subject,
                "body": body,
                "status": status.value,
                "scheduled_for": scheduled_for,
                "lead_id": row.lead_id,
                "prospect_id": row.prospect_id,
                "enrollment_id": row.id,
                "step_index": row.next_step,
                "job_id": job_id if status is MessageStatus.SENDING else None,
                "created_at": now,
                "updated_at": now,
            }
        )
        following = row.next_step + 1
        if following >= len(steps):
            changes.append(_stopped(row, "completed", None, now))
        else:
            changes.append(
                _moved(row, following, step_due_at(now, delays[following], window, org.zone), now)
            )
    stored = await repository.insert_messages(tx.conn, messages)
    count_send(channel.value, "simulated", sum(r.status == MessageStatus.SIMULATED for r in stored))
    await sequence_repository.update_enrollments(tx.conn, changes)
    await _history(tx, stored, now)
    await jobs.defer_many(
        tx,
        DELIVER_TASK,
        [
            (DeliverMessage(message_id=r.id), str(r.id), r.scheduled_for)
            for r in stored
            if r.status == MessageStatus.QUEUED
        ],
    )
    await _audit(tx, sequence.id, stored, changes)
    return _Batch(
        sends=[r for r in stored if r.status == MessageStatus.SENDING],
        org=org,
        org_name=name,
        channel=channel,
        more=len(rows) == BATCH,
    )


async def _allowance(tx: Tx, org: OrgOutreach, channel: Channel, now: datetime) -> int:
    """How many more messages of `channel` the daily limit lets through now."""
    try:
        remaining = await check_volume(tx, org, channel, now)
    except RateLimited:
        return 0
    return remaining


async def _history(tx: Tx, stored: list[Any], now: datetime) -> None:
    entries = []
    for row in stored:
        steps = ["queued"]
        detail = None
        if row.status == MessageStatus.SENDING:
            steps.append("sending")
        elif row.status == MessageStatus.SIMULATED:
            steps.append("simulated")
            detail = "test key: not sent"
        elif row.scheduled_for is not None:
            detail = f"held for quiet hours until {row.scheduled_for.isoformat()}"
        for status in steps:
            entries.append(
                {
                    "organization_id": row.organization_id,
                    "message_id": row.id,
                    "status": status,
                    "detail": detail if status == steps[-1] else None,
                    "created_at": now,
                }
            )
    await repository.add_events(tx.conn, entries)


async def _audit(
    tx: Tx, sequence_id: uuid.UUID, stored: list[Any], changes: list[dict[str, Any]]
) -> None:
    """One entry for the batch: the step messages queued and the enrollments moved on."""
    if not stored and not changes:
        return
    finished: dict[str, list[str]] = {}
    for change in changes:
        if change["status"] in ("completed", "stopped"):
            key = change["stop_reason"] or change["status"]
            finished.setdefault(key, []).append(public_id(ENROLLMENT_PREFIX, change["id"]))
    await events.record(
        tx,
        Action.OUTREACH_STEPS_QUEUED,
        {
            "sequence_id": public_id(SEQUENCE_PREFIX, sequence_id),
            "messages": [
                {
                    "message_id": public_id(MESSAGE_PREFIX, r.id),
                    "enrollment_id": public_id(ENROLLMENT_PREFIX, r.enrollment_id),
                    "step": r.step_index,
                    "status": r.status,
                    "scheduled_for": r.scheduled_for.isoformat() if r.scheduled_for else None,
                }
                for r in stored
            ],
            "finished": finished,
        },
    )


async def _send(ctx: jobs.JobContext, batch: _Batch) -> None:
    """Hand the batch to the provider, a few calls at a time; record what it answered."""
    assert batch.org is not None
    rows = {r.id: r for r in batch.sends}
    try:
        sender = Sender.open(
            ctx.runtime, ctx.organization_id, batch.channel, batch.org.settings, batch.org_name
        )
    except ProviderMissing as exc:
        async with ctx.transaction() as tx:
            for row in batch.sends:
                await provider_missing(tx, row, exc)
        return
    limit = asyncio.Semaphore(SEND_CONCURRENCY)

    async def one(row: Any) -> Outcome:
        async with limit:
            return await sender.send(row)

    # Outcomes are recorded a few at a time as they come in: a worker that dies
    # mid-batch leaves only the last few unrecorded (and those end `interrupted`).
    done: list[Outcome] = []
    for finished in asyncio.as_completed([one(r) for r in batch.sends]):
        done.append(await finished)
        if len(done) >= RECORD_EVERY:
            await _record(ctx, rows, done)
            done = []
    if done:
        await _record(ctx, rows, done)


async def _record(
    ctx: jobs.JobContext, rows: dict[uuid.UUID, Any], outcomes: list[Outcome]
) -> None:
    async with ctx.transaction() as tx:
        await record_sent(tx, rows, outcomes)
        for outcome in outcomes:
            if outcome.sent is not None:
                continue
            current = await repository.get_message(
                tx.conn, ctx.organization_id, outcome.message_id, lock=True
            )
            if current is None or current.status != MessageStatus.SENDING:
                continue
            if outcome.failure is not None:
                await record_failure(tx, current, outcome)
            elif await record_transient(tx, current, outcome, attempt=1):
                # The provider is down: the message's own job retries it with backoff.
                await jobs.defer(
                    tx,
                    DELIVER_TASK,
                    DeliverMessage(message_id=current.id),
                    dedupe_key=str(current.id),
                    execute_after=PROVIDER_RETRY.delay(1),
                )


# --- the minute sweep -------------------------------------------------------------------


async def sweep(ctx: jobs.JobContext, _payload: jobs.NoPayload) -> None:
    """Start runs of sequences with steps due; settle messages whose sender vanished."""
    async with ctx.system_transaction() as tx:
        now = tx.clock.now()
        due = await sequence_repository.due_sequences(tx.conn, now)
        minute = int(now.timestamp() // 60)
        for organization_id, sequence_id in due:
            tx.bind(
                Actor(organization_id=organization_id, source=Source.WORKER), config_revision=None
            )
            await jobs.defer(
                tx,
                RUN_TASK,
                RunSequence(sequence_id=sequence_id),
                dedupe_key=f"{sequence_id}:sweep:{minute}",
            )
        stale = await repository.stale_sending(tx.conn, now - STALE_SENDING, limit=500)
    for row in stale:
        async with ctx.runtime.db.tenant_transaction(row.organization_id) as conn:
            actor = Actor(organization_id=row.organization_id, source=Source.WORKER)
            tenant = Tx(conn, actor=actor, clock=ctx.runtime.clock)
            current = await repository.get_message(conn, row.organization_id, row.id, lock=True)
            if current is None or current.status != MessageStatus.SENDING:
                continue
            if current.purpose == Purpose.MARKETING:
                await interrupt(tenant, current)
            else:
                await jobs.defer(
                    tenant,
                    DELIVER_TASK,
                    DeliverMessage(message_id=current.id),
                    dedupe_key=str(current.id),
                )
    if due or stale:
        log.info("outreach_swept", runs=len(due), stale_messages=len(stale))
