"""Every test here starts with no delivery or job of an earlier test still open."""

from __future__ import annotations

import pytest

from eal.db.engine import Database
from tests.jobs.support import drop_earlier_jobs
from tests.webhooks.support import settle_earlier_deliveries


@pytest.fixture(autouse=True)
async def _nothing_left_open(db: Database) -> None:
    await settle_earlier_deliveries(db)
    await drop_earlier_jobs(db)
