"""The `calls.classify` job: what a call is, then the one decision about it.

The transcript is read in one transaction, classified outside any (an LLM may take
seconds), and the answer recorded in another, with the row locked. A transcript that
changed meanwhile (a call-modified webhook) is classified again before anything is
recorded, since the job is deduplicated per call and a second job would have been dropped.

The classifier is the server's LLM when one is configured (`EAL_LLM_BASE_URL`) and the
organization allows it (`settings.ai.llm_enabled`), else the embedded models; the embedded
models also answer when the LLM fails, times out or answers nonsense, and `provider` says
which one answered.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import structlog

from eal import events, jobs
from eal.ai.call_labels import LOSS_INTENTS
from eal.ai.calls import (
    EMBEDDED,
    CallClassification,
    classify_transcript,
    classify_without_transcript,
)
from eal.calls import repository
from eal.calls.dispatch import decide, decision_record
from eal.calls.schemas import CALL_PREFIX, CallStatus, DispatchAction
from eal.calls.service import DISPATCH_TASK
from eal.calls.settings import CallsConfig
from eal.db.tx import Tx
from eal.events import Action
from eal.kit.ids import public_id
from eal.metrics import observe_classification
from eal.organizations import repository as organizations
from eal.runtime import Runtime

log = structlog.get_logger(__name__)

#: How many times a transcript that keeps changing under the job is classified again.
MAX_ROUNDS = 3


class ClassifyCall(jobs.NoPayload):
    """The payload of `calls.classify`."""

    call_id: uuid.UUID
    again: bool = False


async def classify_with(runtime: Runtime, row: Any, *, llm_allowed: bool) -> CallClassification:
    """Classify a call row: the LLM when allowed and configured, else (or on failure) embedded."""
    started = time.perf_counter()
    result = await _classify(runtime, row, llm_allowed=llm_allowed)
    observe_classification(result.provider, time.perf_counter() - started)
    return result


async def _classify(runtime: Runtime, row: Any, *, llm_allowed: bool) -> CallClassification:
    if row.transcript is None:
        return classify_without_transcript(
            duration_seconds=row.duration_seconds,
            voicemail=row.voicemail,
            transcription_error=row.transcription_error,
        )
    if llm_allowed and runtime.settings.llm_enabled:
        answer = await _ask_llm(runtime, row)
        if answer is not None:
            return answer
    # In a thread: the first call loads the models (about a second of CPU), and the worker's
    # event loop also sends webhooks and serves requests when it runs inside `eal serve`.
    return await asyncio.to_thread(classify_transcript, row.transcript)


async def _ask_llm(runtime: Runtime, row: Any) -> CallClassification | None:
    # Imported here: only a server with an LLM loads its client.
    from eal.ai.llm import LlmClassifier, LlmConfig, LlmError

    config = LlmConfig.from_settings(runtime.settings)
    if config is None:
        return None
    facts = {"duration_seconds": str(row.duration_seconds)}
    if row.voicemail:
        facts["voicemail"] = "yes"
    if row.caller_city or row.caller_state:
        facts["caller location (from the call tracker)"] = ", ".join(
            part for part in (row.caller_city, row.caller_state) if part
        )
    try:
        answer = await LlmClassifier(config, runtime.operator_http).classify_call(
            row.transcript, facts=facts
        )
    except LlmError as exc:
        log.warning(
            "llm classification failed; the embedded model answers",
            call_id=str(row.id),
            reason=exc.reason,
            error=exc.message,
        )
        return None
    return CallClassification(
        intent=answer.intent,
        confidence=answer.confidence,
        urgency="low" if answer.intent in ("sales_pitch", "wrong_number") else answer.urgency,
        qualified=answer.qualified and answer.intent in LOSS_INTENTS,
        reason=answer.reason,
        provider=f"llm:{config.model}",
    )


def _llm_allowed(settings: dict[str, Any]) -> bool:
    return CallsConfig.from_settings(settings).llm_enabled


async def classify(ctx: jobs.JobContext, payload: ClassifyCall) -> None:
    """Classify the call, record it, and decide what to do with it (once)."""
    async with ctx.transaction() as tx:
        row = await repository.get(tx.conn, ctx.organization_id, payload.call_id)
        if row is None:
            return
        settings = await organizations.settings_of(tx.conn, ctx.organization_id)
    # The settings read with the transcript serve the whole job: the LLM choice and the decision.
    llm_allowed = _llm_allowed(settings)
    for _ in range(MAX_ROUNDS):
        result = await classify_with(ctx.runtime, row, llm_allowed=llm_allowed)
        async with ctx.transaction() as tx:
            current = await repository.get(tx.conn, ctx.organization_id, payload.call_id, lock=True)
            if current is None:
                return
            if current.transcript != row.transcript:
                row = current  # a new transcript arrived while this one was read
                continue
            await record(tx, current, result, settings)
        return
    log.warning(
        "call transcript kept changing; classified on the next delivery",
        call_id=str(payload.call_id),
    )


async def record(tx: Tx, row: Any, result: CallClassification, settings: dict[str, Any]) -> Any:
    """Store the model's answer (in force unless a human corrected the call) and decide.

    A call gets one decision. It is made again only when the first one was made without a
    transcript and one has arrived since: that decision was "a person should listen".
    """
    now = tx.now()
    organization_id = tx.actor.organization_id
    had_transcript = row.transcript is not None
    previous = row.model_classification or {}
    first_real = had_transcript and not previous.get("transcript", False)
    model = {
        **result.model_dump(),
        "classified_at": now.isoformat(),
        "transcript": had_transcript,
    }
    values: dict[str, Any] = {
        "model_classification": model,
        "classified_at": now,
        "updated_at": now,
    }
    if row.first_classified_at is None or first_real:
        values["first_classified_at"] = now
    if not row.corrected:
        values.update(
            intent=result.intent,
            urgency=result.urgency,
            qualified=result.qualified,
            confidence=result.confidence,
        )
    if row.status == CallStatus.RECEIVED:
        values["status"] = CallStatus.CLASSIFIED.value
    was_qualified = row.qualified is True
    row = await repository.update(tx.conn, organization_id, row.id, **values)
    call_id = public_id(CALL_PREFIX, row.id)
    data = repository.event_data(row)
    await events.record(
        tx,
        Action.CALL_CLASSIFIED,
        {"call_id": call_id, "provider": result.provider, "intent": result.intent},
        data=data,
    )
    if row.qualified and not was_qualified:
        await events.record(tx, Action.CALL_QUALIFIED, {"call_id": call_id}, data=data)
    redecide = row.decision is not None and not row.decision.get("transcript", True) and first_real
    if row.decision is None or redecide:
        row = await _decide(tx, row, settings)
    return row


async def _decide(tx: Tx, row: Any, settings: dict[str, Any]) -> Any:
    decision = decide(row, settings, now=tx.now())
    stored = decision_record(decision, row, now=tx.now(), simulated=row.environment == "test")
    values: dict[str, Any] = {
        "decision": stored,
        "dispatch_action": decision.action.value,
        "updated_at": tx.now(),
    }
    row = await repository.update(tx.conn, tx.actor.organization_id, row.id, **values)
    await events.record(
        tx,
        Action.CALL_DISPATCH_DECIDED,
        {
            "call_id": public_id(CALL_PREFIX, row.id),
            "action": decision.action.value,
            "reason": decision.reason,
        },
    )
    if decision.action is DispatchAction.AUTO_DISPATCH:
        await jobs.defer(tx, DISPATCH_TASK, {"call_id": str(row.id)}, dedupe_key=str(row.id))
    return row


__all__ = ["EMBEDDED", "ClassifyCall", "classify", "classify_with", "record"]
