"""Who acts: the identity every change is recorded under.

It sits at the bottom of the layers because everything that changes state
(a request, a job, a CLI command) acts as someone, and the transaction
context (`eal.db.tx.Tx`) carries it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum


class Source(StrEnum):
    """Where a change came from (the audit log's `source`)."""

    API = "api"
    CRON = "cron"
    N8N = "n8n"
    WORKER = "worker"
    SYSTEM = "system"


class Environment(StrEnum):
    """live keys act for real; test keys never cause external side effects."""

    LIVE = "live"
    TEST = "test"


@dataclass(frozen=True)
class Actor:
    """The acting identity of a change, as recorded in the audit log."""

    organization_id: uuid.UUID
    source: Source = Source.API
    correlation_id: str | None = None
    key_id: uuid.UUID | None = None
    environment: Environment = Environment.LIVE
    person: str | None = None
    """The console user acting (their email), when a person signed in to the console."""

    @property
    def is_test(self) -> bool:
        """Test-environment identities never cause external side effects."""
        return self.environment is Environment.TEST
