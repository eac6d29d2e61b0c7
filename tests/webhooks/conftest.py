"""Every test here starts with no delivery of an earlier test still open."""

from __future__ import annotations

import pytest

from eal.db.engine import Database
from tests.webhooks.support import settle_earlier_deliveries


@pytest.fixture(autouse=True)
async def _no_earlier_deliveries(db: Database) -> None:
    await settle_earlier_deliveries(db)
