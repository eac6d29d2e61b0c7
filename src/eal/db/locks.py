"""Every PostgreSQL advisory lock id the service takes, in one place (so none collide)."""

from __future__ import annotations

from enum import IntEnum


class LockId(IntEnum):
    """Advisory lock ids (64-bit keys of pg_advisory_lock and friends)."""

    MIGRATIONS = 7_402_113_001
    """Two processes starting at once (serve + worker) must not migrate concurrently."""
    BOOTSTRAP = 7_402_113_002
    """Only one first start creates the first organization."""
