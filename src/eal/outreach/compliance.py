"""SMS compliance rules: when a marketing text may go.

Pure functions: no database, no clock (the time is always passed in).

A marketing SMS may reach a number only inside every window that applies, at the
recipient's local time: the organization's allowed hours (outside
`settings.outreach.sms_quiet_hours`), the federal TCPA window for US numbers, and the
recipient state's window, weekday exceptions and holidays; and only while the number has
had fewer messages in the last 24 hours than the lowest cap that applies. The federal and
state rules, with their sources, live in `data/sms_rules.json`. The zone comes from the
number (phonenumbers' time-zone data); a number with several zones or none takes the
organization's. The state comes from the area code (`data/us_area_codes.json`, US numbers
only). A send outside the rules is deferred to `next_allowed`, never dropped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from eal.outreach.settings import OutreachConfig

#: A span of the local day in minutes, start inclusive, end exclusive (0-1440).
Interval = tuple[int, int]

_DAY_MINUTES = 24 * 60
_WHOLE_DAY: tuple[Interval, ...] = ((0, _DAY_MINUTES),)
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MINUTE = timedelta(minutes=1)
_CAP_PERIOD = timedelta(hours=24)
#: Bound on the search for the next allowed minute (each step moves forward).
_MAX_STEPS = 10_000


@dataclass(frozen=True, slots=True)
class Holiday:
    """A day on which no marketing SMS goes: a fixed date, the nth weekday of a month, or Easter-based."""

    name: str
    month: int = 0
    day: int = 0
    weekday: int = 0
    nth: int = 0  # 1-5, or -1 for the last
    easter_offset: int | None = None

    def dates(self, year: int) -> tuple[date, ...]:
        """The days of `year` this holiday blocks (a weekend fixed date blocks its observed weekday too)."""
        if self.easter_offset is not None:
            return (_easter(year) + timedelta(days=self.easter_offset),)
        if self.nth:
            return (_nth_weekday(year, self.month, self.weekday, self.nth),)
        actual = date(year, self.month, self.day)
        if actual.weekday() == 5:
            return (actual, actual - timedelta(days=1))
        if actual.weekday() == 6:
            return (actual, actual + timedelta(days=1))
        return (actual,)


@dataclass(frozen=True, slots=True)
class SmsRules:
    """The rules for marketing SMS to one number.

    `window_start`/`window_end` describe the ordinary (Monday) window, wrapping past midnight
    when the end is not after the start; `weekly` holds the exact allowed spans of each
    weekday (Monday first; empty = no marketing SMS that day) and `holidays` the days with
    none. `sources` names what applied: "quiet_hours", "federal", a state code.
    """

    window_start: time
    window_end: time
    zone: ZoneInfo
    max_per_24h: int | None
    state: str | None
    weekly: tuple[tuple[Interval, ...], ...] = (_WHOLE_DAY,) * 7
    holidays: tuple[Holiday, ...] = ()
    sources: tuple[str, ...] = ()

    def windows_on(self, day: date) -> tuple[Interval, ...]:
        """The allowed spans of a local calendar day."""
        if self.holidays and day in _holiday_dates(self.holidays, day.year):
            return ()
        return self.weekly[day.weekday()]

    def in_window(self, instant: datetime) -> bool:
        """Whether `instant` (aware) falls inside the allowed hours; the cap is not counted."""
        local = _aware(instant, "instant").astimezone(self.zone)
        minute = local.hour * 60 + local.minute
        return any(start <= minute < end for start, end in self.windows_on(local.date()))

    def next_allowed(self, at: datetime, sent_last_24h: Iterable[datetime] = ()) -> datetime:
        """The first moment >= `at` inside the window and under the cap (`at` itself when allowed).

        Sends in `sent_last_24h` count while less than 24 hours old (later ones count too).
        A deferred time is on a whole minute; the result is in `at`'s time zone.
        """
        _aware(at, "at")
        sends = sorted(_aware(sent, "sent_last_24h").astimezone(UTC) for sent in sent_last_24h)
        moment = at.astimezone(UTC)
        exact = True
        for _ in range(_MAX_STEPS):
            if self.in_window(moment):
                release = self._cap_release(moment, sends)
                if release is None:
                    return at if exact else moment.astimezone(at.tzinfo)
                moment = _ceil_minute(release)
            else:
                later = self._next_window_start(moment)
                # A repeated hour can make the fast jump land outside the window: step on.
                moment = later if later > moment else _ceil_minute(moment + _MINUTE)
            exact = False
        raise RuntimeError(f"no allowed minute found after {at.isoformat()}")

    def _cap_release(self, moment: datetime, sends: list[datetime]) -> datetime | None:
        """None when a send at `moment` stays under the cap, else when it next would."""
        if self.max_per_24h is None:
            return None
        recent = [sent for sent in sends if sent > moment - _CAP_PERIOD]
        if len(recent) < self.max_per_24h:
            return None
        # Once this send is 24 hours old, only max_per_24h - 1 remain in the period.
        return recent[len(recent) - self.max_per_24h] + _CAP_PERIOD

    def _next_window_start(self, moment: datetime) -> datetime:
        """The first whole minute >= `moment` that the weekly spans place inside a window."""
        today = moment.astimezone(self.zone).date()
        for offset in range(-1, 15):
            day = today + timedelta(days=offset)
            for start, end in self.windows_on(day):
                opens = max(_wall_instant(day, start, self.zone), moment)
                candidate = _ceil_minute(opens)
                if candidate < _wall_instant(day, end, self.zone):
                    return candidate
        return moment + timedelta(days=1)


def recipient_zone(e164: str, default_zone: ZoneInfo | str) -> ZoneInfo:
    """The number's time zone when phonenumbers knows exactly one, else `default_zone`."""
    return _zone_of(_parse(e164), _as_zone(default_zone))


def rules_for(
    e164: str, config: OutreachConfig, default_zone: ZoneInfo | str | None = None
) -> SmsRules:
    """The marketing-SMS rules for `e164`: quiet hours, federal and state rules, strictest first.

    `default_zone` (the organization's timezone; UTC when omitted) stands in when the number
    has several zones or none. Should the organization's quiet hours leave no minute inside
    the legal window, the legal window alone applies.
    """
    number = _parse(e164)
    zone = _zone_of(number, _as_zone(default_zone or "UTC"))
    rules = _rules()
    legal: list[tuple[Interval, ...]] = [_WHOLE_DAY] * 7
    sources: list[str] = []
    region = phonenumbers.region_code_for_number(number)
    if region in rules.federal_regions or (region is None and number.country_code == 1):
        legal = [_intersect(day, rules.federal) for day in legal]
        sources.append("federal")
    state = _state_of(number) if region == "US" else None
    cap: int | None = None
    holidays: tuple[Holiday, ...] = ()
    if state is not None and state in rules.states:
        rule = rules.states[state]
        legal = [_intersect(day, own) for day, own in zip(legal, rule.weekly, strict=True)]
        cap, holidays = rule.max_per_24h, rule.holidays
        sources.append(state)
    allowed = _outside(_clock(config.quiet_start), _clock(config.quiet_end))
    weekly = tuple(_intersect(day, allowed) for day in legal)
    if any(weekly):
        sources.insert(0, "quiet_hours")
    else:
        weekly = tuple(legal)
    start, end = _summary(weekly)
    return SmsRules(
        window_start=start,
        window_end=end,
        zone=zone,
        max_per_24h=cap,
        state=state,
        weekly=weekly,
        holidays=holidays,
        sources=tuple(sources),
    )


def next_allowed(
    e164: str,
    at: datetime,
    config: OutreachConfig,
    default_zone: ZoneInfo | str,
    sent_last_24h: Iterable[datetime] = (),
) -> datetime:
    """The first minute >= `at` at which a marketing SMS may go to `e164` (`at` itself when allowed).

    `sent_last_24h` are the times of the marketing messages this number received recently;
    they count against a state's cap. `at` and every send time must be timezone-aware.
    """
    return rules_for(e164, config, default_zone).next_allowed(at, sent_last_24h)


# --- the rules file -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _StateRule:
    weekly: tuple[tuple[Interval, ...], ...]
    max_per_24h: int | None
    holidays: tuple[Holiday, ...]


@dataclass(frozen=True, slots=True)
class _Rules:
    federal: tuple[Interval, ...]
    federal_regions: frozenset[str]
    states: dict[str, _StateRule]


@cache
def _rules() -> _Rules:
    raw = json.loads(
        resources.files("eal.outreach").joinpath("data/sms_rules.json").read_text("utf-8")
    )
    sets = {
        name: tuple(_holiday(entry) for entry in entries)
        for name, entries in raw["holiday_sets"].items()
    }
    states = {}
    for code, entry in raw["states"].items():
        default = _span(entry["window"])
        days = entry.get("days", {})
        weekly = tuple(
            (default if day not in days else () if days[day] is None else _span(days[day]))
            for day in _WEEKDAYS
        )
        holidays = tuple(h for name in entry.get("holidays", ()) for h in sets[name])
        states[code] = _StateRule(weekly, entry.get("max_per_24h"), holidays)
    return _Rules(
        federal=_span(raw["federal"]["window"]),
        federal_regions=frozenset(raw["federal"]["applies_to_regions"]),
        states=states,
    )


def _holiday(entry: dict[str, Any]) -> Holiday:
    if "easter" in entry:
        return Holiday(entry["name"], easter_offset=int(entry["easter"]))
    if "nth" in entry:
        month, weekday, nth = entry["nth"]
        return Holiday(entry["name"], month=month, weekday=_WEEKDAYS.index(weekday), nth=nth)
    month, day = (int(part) for part in entry["date"].split("-"))
    return Holiday(entry["name"], month=month, day=day)


def _span(window: list[str]) -> tuple[Interval, ...]:
    start, end = (_minutes(_clock(value)) for value in window)
    return ((start, end),)


# --- numbers --------------------------------------------------------------------------


def _parse(e164: str) -> phonenumbers.PhoneNumber:
    try:
        return phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"{e164!r} is not an E.164 phone number") from exc


def _zone_of(number: phonenumbers.PhoneNumber, default: ZoneInfo) -> ZoneInfo:
    # phonenumbers' time-zone table (about 1 MB in memory) loads with the first
    # message timed, not with every process that imports the send path.
    from phonenumbers import timezone as phone_timezone

    zones = phone_timezone.time_zones_for_number(number)
    if len(zones) != 1 or zones[0] == phone_timezone.UNKNOWN_TIMEZONE:
        return default
    try:
        return ZoneInfo(zones[0])
    except ZoneInfoNotFoundError:
        return default


def _state_of(number: phonenumbers.PhoneNumber) -> str | None:
    """The US state of a number, from its area code (area codes never cross state lines)."""
    if number.country_code != 1 or phonenumbers.region_code_for_number(number) != "US":
        return None
    return _area_codes().get(str(number.national_number)[:3])


@cache
def _area_codes() -> dict[str, str]:
    # Built from phonenumbers' geocoding data by tools/build_area_codes.py: the
    # geocoder itself holds about 100 MB in memory to answer the same question.
    raw = json.loads(
        resources.files("eal.outreach").joinpath("data/us_area_codes.json").read_text("utf-8")
    )
    codes: dict[str, str] = raw["area_codes"]
    return codes


def _as_zone(zone: ZoneInfo | str) -> ZoneInfo:
    return zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)


# --- time -----------------------------------------------------------------------------


def _aware(value: datetime, what: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware")
    return value


def _clock(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def _minutes(value: time) -> int:
    return value.hour * 60 + value.minute


def _outside(quiet_start: time, quiet_end: time) -> tuple[Interval, ...]:
    """The allowed spans of a day whose quiet hours run from start to end (wrapping)."""
    start, end = _minutes(quiet_start), _minutes(quiet_end)
    if start == end:
        return _WHOLE_DAY
    if end < start:  # the usual case, e.g. quiet 21:00-08:00: allowed 08:00-21:00
        return ((end, start),)
    return tuple(span for span in ((0, start), (end, _DAY_MINUTES)) if span[0] < span[1])


def _intersect(a: tuple[Interval, ...], b: tuple[Interval, ...]) -> tuple[Interval, ...]:
    spans = []
    for a_start, a_end in a:
        for b_start, b_end in b:
            start, end = max(a_start, b_start), min(a_end, b_end)
            if start < end:
                spans.append((start, end))
    return tuple(sorted(spans))


def _summary(weekly: tuple[tuple[Interval, ...], ...]) -> tuple[time, time]:
    """The Monday window (or the first day that has one) as start and end times."""
    spans = next((day for day in weekly if day), _WHOLE_DAY)
    if len(spans) > 1 and spans[0][0] == 0 and spans[-1][1] == _DAY_MINUTES:
        start, end = spans[-1][0], spans[0][1]  # one window wrapping past midnight
    else:
        start, end = spans[0][0], spans[-1][1]
    return _time_of(start), _time_of(end)


def _time_of(minutes: int) -> time:
    return time((minutes // 60) % 24, minutes % 60)


def _ceil_minute(moment: datetime) -> datetime:
    floor = moment.replace(second=0, microsecond=0)
    return floor if floor == moment else floor + _MINUTE


def _wall_instant(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    """The first instant (UTC) whose wall-clock time in `zone` is at or after `day` + `minutes`."""
    wall = datetime.combine(day, time()) + timedelta(minutes=minutes)
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == wall:
        return first  # it exists (in a repeated hour, fold 0 is the earlier one)
    # The clocks jumped over `wall`: the answer is the jump, between the two readings.
    moment = min(first, wall.replace(tzinfo=zone, fold=1).astimezone(UTC))
    while moment.astimezone(zone).replace(tzinfo=None) < wall:
        moment += _MINUTE
    return moment


def _nth_weekday(year: int, month: int, weekday: int, nth: int) -> date:
    if nth > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (nth - 1))
    last = (date(year + month // 12, month % 12 + 1, 1)) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _easter(year: int) -> date:
    """Western Easter Sunday (the anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return date(year, month, day + 1)


@cache
def _holiday_dates(holidays: tuple[Holiday, ...], year: int) -> frozenset[date]:
    # The next year's list too: New Year's Day on a Saturday is observed on 31 December.
    return frozenset(day for h in holidays for y in (year, year + 1) for day in h.dates(y))
