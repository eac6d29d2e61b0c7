"""Scopes: the one place that says what a key may do (environments are in kit.identity)."""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    """A key's permission level; each level includes the ones below it."""

    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


SCOPE_RANK = {Scope.READ: 1, Scope.WRITE: 2, Scope.ADMIN: 3}


def grants(held: list[str] | tuple[str, ...], required: Scope) -> bool:
    """True when any held scope includes `required` (admin ⊇ write ⊇ read)."""
    need = SCOPE_RANK[required]
    return any(SCOPE_RANK.get(Scope(s), 0) >= need for s in held if s in Scope._value2member_map_)


class GrantScope(StrEnum):
    """Read access a child organization may grant its parent, per resource."""

    LEADS_READ = "leads.read"
    CALLS_READ = "calls.read"
    AUDIT_LOG_READ = "audit_log.read"
