"""What scoring needs besides the lead: the organization's settings and recent weather.

Both are read in one round trip on the driver, and kept per (organization,
config revision): the database raises the revision whenever settings or
weather events change, and every request reads it with its key, so a kept
entry is current for the request. Measured on the lead-create path, this
saves the query (one round trip and its parsing) for every lead after an
organization's first one in a revision.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import structlog

from eal.db.tx import Tx
from eal.kit.revcache import RevisionCache
from eal.leads import scoring_weights
from eal.leads.scoring import ScoringContext, WeatherEvent

log = structlog.get_logger(__name__)

#: Scoring reads at most this many of an organization's recent weather events.
MAX_WEATHER_EVENTS = 200
#: How far past the lead's arrival a cached weather window reaches, and so how
#: long one read serves new leads of an organization whose inputs did not change.
CONTEXT_CACHE_HORIZON = timedelta(minutes=5)
_WEATHER_CACHE_SIZE = 4096

# Settings and weather in one round trip, run on the driver. The weather window
# is indexed by (organization_id, occurred_at). The connection decodes json/jsonb.
_CONTEXT = (
    "SELECT o.settings, o.config_revision, coalesce(("
    "  SELECT json_agg(json_build_array(w.id, w.event_type, w.postal_codes, w.occurred_at))"
    "  FROM (SELECT id, event_type, postal_codes, occurred_at FROM weather_events"
    "        WHERE organization_id = $1 AND occurred_at >= $2 AND occurred_at <= $3"
    "        ORDER BY occurred_at DESC LIMIT $4) w"
    "), '[]'::json) AS weather "
    "FROM organizations o WHERE o.id = $1"
)


@dataclass(frozen=True)
class Inputs:
    """An organization's scoring inputs as read at one config revision.

    `template` holds the parsed settings; `weather` the events (newest first)
    that occurred in [start, end].
    """

    revision: int
    template: ScoringContext
    weather: tuple[WeatherEvent, ...]
    start: datetime
    end: datetime
    complete: bool
    """False when the read hit MAX_WEATHER_EVENTS: older events were left out."""


inputs_cache: RevisionCache[Inputs] = RevisionCache()
# Parsed events by id: an event stays the same whatever the revision.
_weather_cache: OrderedDict[str, WeatherEvent] = OrderedDict()


def _settings_template(
    organization_id: uuid.UUID, settings: dict[str, Any], at: datetime
) -> ScoringContext:
    try:
        return ScoringContext.from_settings(settings, now=at)
    except ValueError as exc:
        # Settings are validated when written; should an old or hand-edited
        # value not parse, the lead is still taken and scored without it.
        log.warning(
            "lead_scoring_settings_unusable",
            organization_id=str(organization_id),
            error=str(exc),
        )
        return ScoringContext(now=at)


def _weather_event(raw: list[Any]) -> WeatherEvent | None:
    event_id = str(raw[0])
    event = _weather_cache.get(event_id)
    if event is None:
        try:
            event = WeatherEvent(
                type=raw[1],
                postal_codes=tuple(raw[2]),
                occurred_at=datetime.fromisoformat(raw[3]),
            )
        except ValueError:
            log.warning("weather_event_unusable", weather_event_id=event_id)
            return None
        _weather_cache[event_id] = event
        if len(_weather_cache) > _WEATHER_CACHE_SIZE:
            _weather_cache.popitem(last=False)
    return event


async def _read(tx: Tx, organization_id: uuid.UUID, start: datetime, end: datetime) -> Inputs:
    driver = await tx.driver()
    row = await driver.fetchrow(_CONTEXT, organization_id, start, end, MAX_WEATHER_EVENTS)
    if row is None:
        raise RuntimeError(f"organization {organization_id} is not visible to its own tenant")
    revision = row["config_revision"]
    cached = inputs_cache.get(organization_id, revision)
    template = (
        cached.template
        if cached is not None
        else _settings_template(organization_id, row["settings"], start)
    )
    return Inputs(
        revision=revision,
        template=template,
        weather=tuple(e for e in map(_weather_event, row["weather"]) if e is not None),
        start=start,
        end=end,
        complete=len(row["weather"]) < MAX_WEATHER_EVENTS,
    )


async def scoring_context(tx: Tx, organization_id: uuid.UUID, at: datetime) -> ScoringContext:
    """The organization's scoring context for a lead that arrived at `at`.

    Weather counts when it occurred in the `WEATHER_RECENT_DAYS` before `at`,
    so re-scoring a lead later judges it by the weather of its arrival. When
    the transaction knows a config revision it may trust (`Tx.cached_revision`),
    the inputs come from the cache if they were read at that revision and
    cover the window; otherwise they are read (and kept for that revision).
    """
    revision = tx.cached_revision(organization_id)
    since = at - timedelta(days=scoring_weights.WEATHER_RECENT_DAYS)
    inputs = inputs_cache.get(organization_id, revision)
    if inputs is None or not (inputs.complete and inputs.start <= since and at <= inputs.end):
        # A cacheable read reaches ahead, so that the next leads' windows fit in it.
        end = at if revision is None else at + CONTEXT_CACHE_HORIZON
        inputs = await _read(tx, organization_id, since, end)
        if not inputs.complete and end != at:
            # Capped: events after `at` must not take the places of earlier ones.
            inputs = await _read(tx, organization_id, since, at)
        # Kept only when read at the revision the key saw: a different one is
        # a change made since (or in this transaction), not yet settled.
        if revision is not None and inputs.revision == revision:
            inputs_cache.put(organization_id, revision, inputs)
    weather = tuple(e for e in inputs.weather if since <= e.occurred_at <= at)
    return replace(inputs.template, now=at, weather_events=weather[:MAX_WEATHER_EVENTS])
