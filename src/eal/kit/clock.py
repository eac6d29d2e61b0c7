"""The clock, in one place, so tests can move time (secret overlap, expiry)."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def isoformat(value: datetime | None) -> str | None:
    """Render a timestamp the way the API does: ISO 8601, UTC, millisecond precision, `Z`."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
