"""Who is calling, for which tenant, and how: the resolved API key of a request."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from eal.kit.identity import Actor, Environment, Source


@dataclass(frozen=True)
class AuthContext:
    """A resolved API key and the tenant this request acts on."""

    key_id: uuid.UUID
    organization_id: uuid.UUID
    """The tenant of this request (a child's id when a parent reads through a grant)."""
    key_organization_id: uuid.UUID
    """The organization the key belongs to."""
    scopes: tuple[str, ...]
    environment: Environment
    source: Source = Source.API
    correlation_id: str | None = None
    config_revision: int | None = None
    """The tenant's config revision when the key was resolved (None when acting
    for another organization)."""

    @property
    def actor(self) -> Actor:
        """The audit identity of this request."""
        return Actor(
            organization_id=self.organization_id,
            source=self.source,
            correlation_id=self.correlation_id,
            key_id=self.key_id,
            environment=self.environment,
        )

    @property
    def is_test(self) -> bool:
        """Test keys never cause external side effects."""
        return self.environment is Environment.TEST
