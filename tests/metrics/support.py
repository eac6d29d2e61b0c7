"""Reading metrics in tests: sample values from the registry and from a scrape's text."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from eal.app import create_app
from eal.config import Settings
from eal.metrics.collectors import REGISTRY


def value(name: str, **labels: str) -> float:
    """The registry's current value of one sample (0 when it does not exist yet)."""
    found = REGISTRY.get_sample_value(name, labels)
    return 0.0 if found is None else found


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a scrape: (name, labels) -> value."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def sample(text: str, name: str, **labels: str) -> float | None:
    """One sample of a scrape; None when it is absent."""
    return samples(text).get((name, frozenset(labels.items())))


@asynccontextmanager
async def metrics_client(settings: Settings, **update: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app started with metrics on (EAL_METRICS=1) and `update` applied."""
    app = create_app(settings.model_copy(update={"metrics": True, **update}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c
