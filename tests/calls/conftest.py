"""Every test here starts with no job of an earlier test still queued."""

from __future__ import annotations

import pytest

from eal.db.engine import Database
from tests.jobs.support import drop_earlier_jobs


@pytest.fixture(autouse=True)
async def _no_earlier_jobs(db: Database) -> None:
    await drop_earlier_jobs(db)
