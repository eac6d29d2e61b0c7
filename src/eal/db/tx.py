"""The transaction context: one database transaction and the facts that belong to it.

A request (`TransactionalRoute`), a job and a CLI command each open one
transaction and describe it with a `Tx`: the connection, who acts, the
organization's config revision as read with the API key, the instant of the
transaction's audit entries, and whether the transaction changed the config
itself. Services take a `Tx` and never commit: whoever created it does.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from eal.db.engine import driver_connection, set_tenant
from eal.kit.clock import Clock, SystemClock, to_millisecond
from eal.kit.identity import Actor

_SYSTEM_CLOCK = SystemClock()


class Tx:
    """One open transaction: connection, actor, config revision, entry time, config-dirty flag."""

    __slots__ = (
        "_actor",
        "_config_dirty",
        "_entry_time",
        "clock",
        "config_revision",
        "conn",
        "tenant",
    )

    def __init__(
        self,
        conn: AsyncConnection,
        *,
        actor: Actor | None = None,
        config_revision: int | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.conn = conn
        self.clock: Clock = clock or _SYSTEM_CLOCK
        self._actor = actor
        self.config_revision = config_revision
        """The acting organization's config revision as read with the API key (None: unknown)."""
        self.tenant: uuid.UUID | None = actor.organization_id if actor is not None else None
        """The organization RLS currently scopes this transaction to, when set through `Tx`."""
        self._entry_time: datetime | None = None
        self._config_dirty = False

    @property
    def actor(self) -> Actor:
        """Who acts in this transaction (set when the request's key was resolved)."""
        if self._actor is None:
            raise RuntimeError("this transaction has no actor yet (no API key was resolved)")
        return self._actor

    @property
    def has_actor(self) -> bool:
        """Whether an actor is bound (a request that needs no key may have none)."""
        return self._actor is not None

    def bind(self, actor: Actor, *, config_revision: int | None) -> None:
        """Name the actor once it is known (a request: after its API key is resolved)."""
        self._actor = actor
        self.config_revision = config_revision
        self.tenant = actor.organization_id

    async def set_tenant(self, organization_id: uuid.UUID | None) -> None:
        """Make `organization_id` the RLS tenant of the rest of this transaction."""
        await set_tenant(self.conn, organization_id)
        self.tenant = organization_id

    def now(self) -> datetime:
        """The current time at the API's precision (milliseconds), from the runtime's clock."""
        return to_millisecond(self.clock.now())

    def entry_time(self) -> datetime:
        """The instant of this transaction's audit entries.

        Like now() in SQL, every entry a transaction appends carries the same
        created_at: the time of its first entry.
        """
        if self._entry_time is None:
            self._entry_time = self.clock.now()
        return self._entry_time

    def config_changed(self) -> None:
        """Note that this transaction changed an organization's settings, weather or webhooks.

        The revision its key read is then out of date for the rest of the
        transaction, so nothing cached under it serves this transaction any more.
        """
        self._config_dirty = True

    def cached_revision(self, organization_id: uuid.UUID) -> int | None:
        """The config revision under which cached data may serve this transaction, if any.

        That is the one read with the key, for work on the actor's own
        organization, as long as this transaction has not changed its config.
        """
        if (
            self._config_dirty
            or self.config_revision is None
            or self._actor is None
            or organization_id != self._actor.organization_id
        ):
            return None
        return self.config_revision

    async def driver(self) -> Any:
        """The asyncpg connection under this transaction (see `driver_connection`)."""
        return await driver_connection(self.conn)
