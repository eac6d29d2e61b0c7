"""When sequence steps go out: step delays and the organization's sending window.

A step's delay is elapsed time from the previous step (or from enrollment for
the first one): `"2d"`, `"4h"`, `"30m"`, or units combined largest first
(`"1d12h"`, `"2h30m"`). Combining is allowed because it is unambiguous (each
unit once, in a fixed order) and spares authors sums like `"2190m"`; a delay is
elapsed time, so `"1d"` is 24 hours even across a DST change.

A sending window (`SendingWindow`) is a set of weekdays and a daily span of
wall-clock time in the organization's time zone, start included, end excluded,
at minute resolution. A window cannot run past midnight: an overnight span
would make "is Friday 23:30-02:00 a Friday or a Saturday?" a question, and
outreach in business hours never needs one (SMS quiet hours keep marketing
out of the night anyway). `"24:00"` as the end reaches the end of the day, so
00:00-24:00 on every day means any time.

`next_in_window` finds the first minute at or after a moment that falls inside
the window, from the zone's real offsets: a wall time that does not exist (the
spring-forward gap) is never returned, a repeated one (fall back) is handled
in order, and a listed day always comes, so the search ends.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from eal.kit.schemas import StrictBody
from eal.outreach.settings import clock_time

MIN_DELAY = timedelta(minutes=1)
"""The shortest delay of any step but the first (which may be `"0m"`)."""
MAX_DELAY = timedelta(days=365)
"""The longest delay of a step."""

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Day names in `date.weekday()` order (Monday is 0)."""
_DAY_INDEX = {name: index for index, name in enumerate(WEEKDAYS)}
END_OF_DAY = "24:00"
_WORKWEEK: tuple[Weekday, ...] = WEEKDAYS[:5]

_DELAY = re.compile(r"(?:(?P<d>[0-9]+)d)?(?:(?P<h>[0-9]+)h)?(?:(?P<m>[0-9]+)m)?")
_DELAY_FORMAT = (
    "a delay is a number and a unit, d (days), h (hours) or m (minutes), such as 2d, 4h "
    "or 30m, or units combined largest first, such as 1d12h"
)
_MINUTE = timedelta(minutes=1)
_DAY = timedelta(days=1)
# Enough days to pass any listed weekday twice (once may fall in a gap, or on a date a
# zone skipped) plus the day before, which a fall-back at midnight can return to.
_SEARCH_DAYS = 16
# Offsets a zone's wall clock may jump by stay well inside this; it widens a day's
# span so a transition just past midnight is seen from that day.
_DAY_MARGIN = timedelta(hours=3)


class TimingProblem(ValueError):
    """A step delay that cannot be used; `step_index` is 0-based, `message` says why."""

    def __init__(self, step_index: int, message: str) -> None:
        super().__init__(message)
        self.step_index = step_index
        self.message = message


def parse_delay(text: str) -> timedelta:
    """The delay `text` spells (`"2d"`, `"4h"`, `"30m"`, `"1d12h"`...), at most 365 days.

    Raises ValueError with a message meant for the author of the sequence;
    the first-step and minimum rules are `check_delays`'.
    """
    spelled = text.strip()
    match = _DELAY.fullmatch(spelled) if len(spelled) <= 32 else None
    if not spelled or match is None:
        raise ValueError(f"{text!r} is not a delay: {_DELAY_FORMAT}")
    days, hours, minutes = (int(match[unit] or 0) for unit in "dhm")
    total = (days * 24 + hours) * 60 + minutes
    if total > MAX_DELAY // _MINUTE:
        raise ValueError(f"{text!r} is longer than the longest delay, 365d")
    return timedelta(minutes=total)


def check_delays(delays: list[str]) -> list[timedelta]:
    """The delays of a sequence's steps, in order, or `TimingProblem` for the first bad one.

    The first step may wait nothing (`"0m"`: sent as soon as the window
    allows); every later step waits at least 1 minute. No delay exceeds 365 days.
    """
    parsed: list[timedelta] = []
    for index, text in enumerate(delays):
        try:
            delay = parse_delay(text)
        except ValueError as error:
            raise TimingProblem(index, str(error)) from None
        if index > 0 and delay < MIN_DELAY:
            raise TimingProblem(
                index,
                f"{text!r}: only the first step may have no delay; later steps wait at least 1m",
            )
        parsed.append(delay)
    return parsed


def _minutes(clock: str) -> int:
    return int(clock[:2]) * 60 + int(clock[3:])


class SendingWindow(StrictBody):
    """Weekdays and a daily span (`start` included, `end` excluded) in the organization's zone.

    Defaults to Monday to Friday, 09:00 to 17:00. Day names are case-insensitive
    and kept lower-case, in week order, each once. `end` may be `"24:00"`.
    """

    days: list[Weekday] = Field(
        default_factory=lambda: list(_WORKWEEK), json_schema_extra={"minItems": 1}
    )
    # The patterns are the document's; the validators below check them (with clearer words).
    start: str = Field(
        default="09:00", json_schema_extra={"pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9]$"}
    )
    end: str = Field(
        default="17:00",
        json_schema_extra={"pattern": r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$"},
        description="Later than start on the same day; 24:00 reaches the end of the day.",
    )

    @field_validator("days", mode="before")
    @classmethod
    def _days(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value  # pydantic names the type it expected
        if not value:
            raise ValueError("give at least one day (mon, tue, wed, thu, fri, sat, sun)")
        names = []
        for item in value:
            name = item.strip().lower() if isinstance(item, str) else item
            if isinstance(name, str) and name not in _DAY_INDEX:
                raise ValueError(f"unknown day {item!r}; the days are {', '.join(WEEKDAYS)}")
            names.append(name)
        if all(isinstance(name, str) for name in names):
            return sorted(set(names), key=_DAY_INDEX.__getitem__)
        return names

    @field_validator("start")
    @classmethod
    def _start(cls, value: str) -> str:
        return clock_time(value)

    @field_validator("end")
    @classmethod
    def _end(cls, value: str) -> str:
        return value if value == END_OF_DAY else clock_time(value)

    @model_validator(mode="after")
    def _span(self) -> SendingWindow:
        if _minutes(self.end) <= _minutes(self.start):
            raise ValueError(
                f"end ({self.end}) must be later than start ({self.start}) on the same day: "
                f"a window cannot run past midnight (an end of {END_OF_DAY} reaches the end "
                "of the day)"
            )
        return self

    @property
    def weekdays(self) -> frozenset[int]:
        """The window's days as `date.weekday()` numbers (Monday is 0)."""
        return frozenset(_DAY_INDEX[name] for name in self.days)

    @property
    def start_minute(self) -> int:
        """Minutes from midnight to `start`."""
        return _minutes(self.start)

    @property
    def end_minute(self) -> int:
        """Minutes from midnight to `end` (1440 for 24:00)."""
        return _minutes(self.end)


class _Span:
    """One window, read once per search: the days and minutes, and the zone."""

    __slots__ = ("days", "end", "start", "zone")

    def __init__(self, window: SendingWindow, zone: tzinfo) -> None:
        self.days = window.weekdays
        self.start = window.start_minute
        self.end = window.end_minute
        self.zone = zone

    def contains(self, moment: datetime) -> bool:
        """Whether the wall clock at `moment` (UTC) reads a window day and minute."""
        local = moment.astimezone(self.zone)
        minute = local.hour * 60 + local.minute
        return local.weekday() in self.days and self.start <= minute < self.end

    def openings(self, day: date) -> list[datetime]:
        """Instants (UTC) where the window may open on `day`'s wall clock.

        Each stretch of the window begins either when the wall clock reads
        `start` (twice, if a fall-back repeats it) or at an offset change that
        moves the clock into the span (a gap swallowing `start`, a fall-back
        taking the clock back into it).
        """
        wall = datetime.combine(day, time(self.start // 60, self.start % 60))
        found = [wall.replace(tzinfo=self.zone, fold=fold).astimezone(UTC) for fold in (0, 1)]
        midnight = datetime.combine(day, time()).replace(tzinfo=self.zone).astimezone(UTC)
        change = self._offset_change(midnight - _DAY_MARGIN, midnight + _DAY + _DAY_MARGIN)
        return found if change is None else [*found, change]

    def _offset_change(self, low: datetime, high: datetime) -> datetime | None:
        """The first whole minute of a new UTC offset between `low` and `high`, if any.

        One change at most: a zone's offset changes a few times a year, never
        twice in the 30 hours searched.
        """
        before = low.astimezone(self.zone).utcoffset()
        if high.astimezone(self.zone).utcoffset() == before:
            return None
        # Binary search on whole minutes: the offset at `low` is `before`, at `high` not.
        low_minute, high_minute = 0, (high - low) // _MINUTE
        while high_minute - low_minute > 1:
            middle = (low_minute + high_minute) // 2
            if (low + middle * _MINUTE).astimezone(self.zone).utcoffset() == before:
                low_minute = middle
            else:
                high_minute = middle
        return low + high_minute * _MINUTE


def _require_aware(at: datetime) -> None:
    # A naive datetime would be read in the host's zone by astimezone().
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("the moment must be timezone-aware")


def _utc_minute(at: datetime) -> datetime:
    """`at` in UTC, rounded up to a whole minute."""
    _require_aware(at)
    if not 2 <= at.year <= 9997:
        raise ValueError("the moment must fall between the years 2 and 9997")
    moment = at.astimezone(UTC)
    floor = moment.replace(second=0, microsecond=0)
    return floor if floor == moment else floor + _MINUTE


def next_in_window(at: datetime, window: SendingWindow, zone: tzinfo) -> datetime:
    """The first moment at or after `at` inside `window` in `zone`, in UTC.

    `at` itself when its minute lies inside the window (a due step goes now,
    not at the next whole minute); else the window's next opening, a whole
    minute. `at` must be timezone-aware. The wall clock of `zone` decides (its
    real offsets, DST included): the result is never a wall time that does not
    exist, and a repeated hour counts each time it passes.
    """
    moment = _utc_minute(at)
    span = _Span(window, zone)
    exact = at.astimezone(UTC)
    if span.contains(exact.replace(second=0, microsecond=0)):
        return exact
    if span.contains(moment):
        return moment
    first_day = moment.astimezone(zone).date() - _DAY
    found: datetime | None = None
    found_at = 0
    for offset in range(_SEARCH_DAYS):
        if found is not None and offset > found_at + 1:
            return found
        day = first_day + offset * _DAY
        if day.weekday() not in span.days:
            continue
        for opening in span.openings(day):
            if opening < moment or (found is not None and opening >= found):
                continue
            if span.contains(opening):
                # A fall-back across midnight can take the wall clock back to the
                # previous date after the next one began: the day after the first
                # find is searched too, and the earliest opening wins.
                found_at = offset if found is None else found_at
                found = opening
    if found is not None:
        return found
    # Unreachable for a validated window: a listed day comes every week.
    raise ValueError(f"no time inside the window within {_SEARCH_DAYS} days of {at.isoformat()}")


def is_in_window(at: datetime, window: SendingWindow, zone: tzinfo) -> bool:
    """Whether the minute `at` falls in (seconds ignored) lies inside `window` in `zone`."""
    _require_aware(at)
    return _Span(window, zone).contains(at.astimezone(UTC))


def step_due_at(
    previous: datetime, delay: timedelta, window: SendingWindow, zone: tzinfo
) -> datetime:
    """When a step falls due: the first minute in `window` at or after `previous + delay` (UTC).

    `previous` is when the previous step was sent (or the enrollment, for the
    first step); the delay is elapsed time, not calendar days.
    """
    if delay < timedelta(0):
        raise ValueError("a delay cannot be negative")
    _require_aware(previous)
    # In UTC: adding to a zoned datetime would add wall-clock time, not elapsed time.
    return next_in_window(previous.astimezone(UTC) + delay, window, zone)
