"""Qualifying a prospect: the embedded fit score, engagement, and the LLM's phrasing when set.

`assess` reads what the verdict needs (the organization's service area and
recent weather, the prospect's outreach so far) and scores it with the
embedded scorer (:mod:`eal.prospects.fit`). `phrase` asks the configured LLM
to rephrase the reasons (and move the score a little); on any failure the
embedded result stands, and `provider` says which one produced the verdict.
`store` records it. A batch job reads, asks the LLM outside any transaction,
and stores in another, as call classification does.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import structlog

from eal import events
from eal.db.tx import Tx
from eal.events import Action
from eal.geo import ServiceArea
from eal.organizations import repository as organizations
from eal.prospects import fit_weights, repository
from eal.prospects.fit import FitContext, ProspectFacts, engagement_score, score_fit, verdict
from eal.prospects.schemas import QualificationOut, QualificationStatus
from eal.runtime import Runtime

log = structlog.get_logger(__name__)

EMBEDDED = "embedded"


@dataclass(frozen=True)
class Assessment:
    """A verdict before it is stored: scores, status, reasons, and who produced them."""

    prospect_id: uuid.UUID
    facts: ProspectFacts
    fit_score: int
    status: str
    rationale: list[str]
    engagement_score: int | None
    provider: str
    llm_allowed: bool


def facts_of(row: Any) -> ProspectFacts:
    """The scorer's view of a prospects row."""
    return ProspectFacts(
        company_name=row.company_name,
        contact_name=row.contact_name,
        contact_email=row.contact_email,
        contact_phone=row.contact_phone,
        vertical=row.vertical,
        postal_code=row.postal_code,
        buildings_managed=row.buildings_managed,
        units=row.units,
        incumbent_vendor=row.incumbent_vendor,
    )


def _service_area(organization_id: uuid.UUID, settings: dict[str, Any]) -> ServiceArea | None:
    try:
        return ServiceArea.from_settings(settings.get("service_area"))
    except ValueError:
        # Validated when written; an old or hand-edited value is scored as "none configured".
        log.warning("prospect_service_area_unusable", organization_id=str(organization_id))
        return None


async def assess(tx: Tx, row: Any) -> Assessment:
    """The embedded verdict of a prospect, from its data and the organization's."""
    organization_id = tx.actor.organization_id
    now = tx.now()
    settings = await organizations.settings_of(tx.conn, organization_id)
    area_events = await repository.area_events(
        tx.conn, organization_id, now - timedelta(days=fit_weights.WEATHER_DAYS), now
    )
    context = FitContext(
        now=now, service_area=_service_area(organization_id, settings), events=area_events
    )
    facts = facts_of(row)
    result = score_fit(facts, context)
    activity = await repository.outreach_activity(tx.conn, organization_id, row.id)
    return Assessment(
        prospect_id=row.id,
        facts=facts,
        fit_score=result.score,
        status=result.status,
        rationale=result.rationale,
        engagement_score=engagement_score(activity, now),
        provider=EMBEDDED,
        llm_allowed=bool((settings.get("ai") or {}).get("llm_enabled", True)),
    )


def _llm_facts(facts: ProspectFacts) -> dict[str, str]:
    shown = {
        "company": facts.company_name,
        "vertical": facts.vertical,
        "buildings managed": facts.buildings_managed,
        "units": facts.units,
        "postal code": facts.postal_code,
        "incumbent vendor": facts.incumbent_vendor,
        "contact name given": "yes" if facts.contact_name else "no",
        "contact email given": "yes" if facts.contact_email else "no",
        "contact phone given": "yes" if facts.contact_phone else "no",
    }
    return {name: str(value) for name, value in shown.items() if value is not None}


async def phrase(runtime: Runtime, assessment: Assessment) -> Assessment:
    """The assessment as the configured LLM phrases it; unchanged without one or on failure."""
    if not (assessment.llm_allowed and runtime.settings.llm_enabled):
        return assessment
    # Imported here: only a server with an LLM loads its client module.
    from eal.ai.llm import LlmConfig, LlmError
    from eal.prospects.llm import phrase_rationale

    config = LlmConfig.from_settings(runtime.settings)
    if config is None:
        return assessment
    try:
        answer = await phrase_rationale(
            config,
            runtime.operator_http,
            facts=_llm_facts(assessment.facts),
            score=assessment.fit_score,
            reasons=assessment.rationale,
        )
    except LlmError as exc:
        log.warning(
            "llm prospect rationale failed; the embedded result stands",
            prospect_id=str(assessment.prospect_id),
            reason=exc.reason,
            error=exc.message,
        )
        return assessment
    score = max(0, min(100, assessment.fit_score + answer.fit_adjustment))
    return replace(
        assessment,
        fit_score=score,
        status=verdict(score, assessment.facts),
        rationale=answer.rationale,
        provider=f"llm:{config.model}",
    )


async def store(tx: Tx, assessment: Assessment) -> QualificationOut:
    """Record the verdict on the prospect (and its audit entry); the verdict as shown."""
    now = tx.now()
    row = await repository.update(
        tx.conn,
        tx.actor.organization_id,
        assessment.prospect_id,
        fit_score=assessment.fit_score,
        engagement_score=assessment.engagement_score,
        qualification_status=assessment.status,
        rationale=assessment.rationale,
        qualification_provider=assessment.provider,
        qualified_at=now,
        updated_at=now,
    )
    out = verdict_of(row)
    await events.record(
        tx,
        Action.PROSPECT_QUALIFIED,
        {
            "prospect_id": str(row.id),
            "qualification_status": row.qualification_status,
            "fit_score": row.fit_score,
            "engagement_score": row.engagement_score,
            "provider": row.qualification_provider,
        },
        data=repository.prospect_of(row).model_dump(mode="json"),
    )
    return out


def verdict_of(row: Any) -> QualificationOut:
    """A qualified prospects row as POST /prospects/qualify answers."""
    return QualificationOut(
        prospect_id=row.id,
        qualified=row.qualification_status == QualificationStatus.QUALIFIED,
        fit_score=row.fit_score,
        rationale=list(row.rationale or []),
        qualified_at=row.qualified_at,
        qualification_status=QualificationStatus(row.qualification_status),
        engagement_score=row.engagement_score,
        provider=row.qualification_provider,
    )
