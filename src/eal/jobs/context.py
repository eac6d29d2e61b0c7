"""What a running task gets: the runtime, its attempt, and transactions scoped to its tenant."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from eal.db.tx import Tx
from eal.kit.identity import Actor
from eal.runtime import Runtime


@dataclass(frozen=True)
class JobContext:
    """One run of one job."""

    runtime: Runtime
    job_id: int
    task: str
    attempt: int
    """1 for the first run, 2 for the first retry, ..."""
    actor: Actor | None
    """Tenant tasks: the tenant that asked, acting through the worker. System tasks: None."""
    correlation_id: str | None = None

    @property
    def organization_id(self) -> uuid.UUID:
        """The tenant of a tenant task."""
        if self.actor is None:
            raise RuntimeError(f"{self.task} is a system task: it has no tenant")
        return self.actor.organization_id

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        """A runtime-role transaction with the job's tenant set, as a request has; commits on exit.

        Tasks that call a vendor read in one transaction, call outside any,
        and record the outcome in another, so no connection waits on a vendor.
        """
        async with self.runtime.db.tenant_transaction(self.organization_id) as conn:
            yield Tx(conn, actor=self.actor, clock=self.runtime.clock)

    @asynccontextmanager
    async def system_transaction(self) -> AsyncIterator[Tx]:
        """A schema-owner transaction (cross-tenant maintenance); commits on exit."""
        async with self.runtime.db.system_transaction() as conn:
            yield Tx(conn, clock=self.runtime.clock)
