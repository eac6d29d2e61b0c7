"""Every test here counts (metrics on) and starts with no delivery or job still open."""

from __future__ import annotations

import pytest

from eal import metrics
from eal.db.engine import Database
from tests.jobs.support import drop_earlier_jobs
from tests.webhooks.support import settle_earlier_deliveries


@pytest.fixture(autouse=True)
def _counting() -> None:
    # What the app and the worker do at start-up when metrics are on.
    metrics.enable()


@pytest.fixture(autouse=True)
async def _nothing_left_open(db: Database) -> None:
    await settle_earlier_deliveries(db)
    await drop_earlier_jobs(db)
