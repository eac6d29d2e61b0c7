"""Who is calling, for which tenant, and how: passed to every service call."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from eal.auth.scopes import Environment


@dataclass(frozen=True)
class Actor:
    """The acting identity of a change, as recorded in the audit log."""

    organization_id: uuid.UUID
    source: str = "api"
    correlation_id: str | None = None
    key_id: uuid.UUID | None = None
    environment: Environment = Environment.LIVE
    config_revision: int | None = None
    """The organization's config revision as read with the API key, when known:
    what was cached under it (scoring inputs, webhook subscriptions) is current."""


@dataclass(frozen=True)
class AuthContext:
    """A resolved API key and the tenant this request acts on."""

    key_id: uuid.UUID
    organization_id: uuid.UUID
    """The tenant of this request (a child's id when a parent reads through a grant)."""
    key_organization_id: uuid.UUID
    """The organization the key belongs to."""
    parent_organization_id: uuid.UUID | None
    scopes: tuple[str, ...]
    environment: Environment
    source: str = "api"
    correlation_id: str | None = None
    config_revision: int | None = None
    """The tenant's config revision when the key was resolved (None when acting
    for another organization)."""
    extra: dict[str, object] = field(default_factory=dict, compare=False)

    @property
    def actor(self) -> Actor:
        """The audit identity of this request."""
        return Actor(
            organization_id=self.organization_id,
            source=self.source,
            correlation_id=self.correlation_id,
            key_id=self.key_id,
            environment=self.environment,
            config_revision=self.config_revision,
        )

    @property
    def is_test(self) -> bool:
        """Test keys never cause external side effects."""
        return self.environment is Environment.TEST
