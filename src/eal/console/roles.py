"""Console roles and what each may do: they map onto the API's scopes.

staff reads (and, in the pages that offer it, corrects a call's classification
and decides claim lines); manager writes; owner administers (settings, keys,
users, webhooks). A control a role may not use is not shown, and its request is
refused.
"""

from __future__ import annotations

from enum import StrEnum

from eal.auth.scopes import Scope, grants


class Role(StrEnum):
    """Who a console user is in their organization."""

    OWNER = "owner"
    MANAGER = "manager"
    STAFF = "staff"


#: The API scope each role acts with.
ROLE_SCOPE = {Role.OWNER: Scope.ADMIN, Role.MANAGER: Scope.WRITE, Role.STAFF: Scope.READ}


def role_allows(role: Role, scope: Scope) -> bool:
    """True when `role` may do what `scope` allows."""
    return grants((ROLE_SCOPE[role].value,), scope)
