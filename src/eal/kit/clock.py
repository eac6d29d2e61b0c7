"""The clock, in one place, so tests can move time instead of sleeping.

The runtime holds one `Clock`; transactions (`Tx.now`) and workers read time
from it. `SystemClock` is the real one; `ManualClock` stands still until a
test moves it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


def utcnow() -> datetime:
    """The current wall-clock time, timezone-aware UTC."""
    return datetime.now(UTC)


def isoformat(value: datetime | None) -> str | None:
    """Render a timestamp the way the API does: ISO 8601, UTC, millisecond precision, `Z`."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def to_millisecond(value: datetime) -> datetime:
    """`value` cut to the API's precision (milliseconds).

    Stored timestamps then equal the ones responses show, so a client can pass
    a created_at back as a start_at/end_at bound and match that row.
    """
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


class Clock(Protocol):
    """A source of the current time (timezone-aware UTC)."""

    def now(self) -> datetime:
        """The current time."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """The current wall-clock time, UTC."""
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to (tests of expiry and retry rules)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start if start is not None else datetime.now(UTC)
        if self._now.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start time")

    def now(self) -> datetime:
        """The time the clock was last set to."""
        return self._now

    def advance(self, by: timedelta) -> datetime:
        """Move the clock forward by `by`; returns the new time."""
        if by < timedelta(0):
            raise ValueError("a clock does not run backwards")
        self._now += by
        return self._now

    def set(self, moment: datetime) -> None:
        """Put the clock at `moment` (timezone-aware)."""
        if moment.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware time")
        self._now = moment
