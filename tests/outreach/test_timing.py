"""Step delays and sending windows, with fixed moments, across DST and odd time zones."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from eal.outreach.timing import (
    MAX_DELAY,
    WEEKDAYS,
    SendingWindow,
    TimingProblem,
    check_delays,
    is_in_window,
    next_in_window,
    parse_delay,
    step_due_at,
)

NEW_YORK = ZoneInfo("America/New_York")
BUSINESS = SendingWindow()  # Mon-Fri 09:00-17:00
EVERY_DAY = WEEKDAYS


def _utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def _ny(*parts: int, fold: int = 0) -> datetime:
    return datetime(*parts, tzinfo=NEW_YORK).replace(fold=fold)  # type: ignore[misc]


def _window(start: str, end: str, days: tuple[str, ...] = EVERY_DAY) -> SendingWindow:
    return SendingWindow.model_validate({"days": list(days), "start": start, "end": end})


# --- delays ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2d", timedelta(days=2)),
        ("4h", timedelta(hours=4)),
        ("30m", timedelta(minutes=30)),
        ("0m", timedelta(0)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("2h30m", timedelta(hours=2, minutes=30)),
        ("1d0h5m", timedelta(days=1, minutes=5)),
        ("90m", timedelta(minutes=90)),
        (" 3d ", timedelta(days=3)),
        ("365d", MAX_DELAY),
        ("8760h", MAX_DELAY),
        ("525600m", MAX_DELAY),
    ],
)
def test_delays_parse(text: str, expected: timedelta) -> None:
    assert parse_delay(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "2",
        "d",
        "2w",
        "30s",
        "1.5d",
        "-1d",
        "+1d",
        "2 d",
        "2D",
        "1h1d",
        "1d1d",
        "1m1h",
        "\u0662d",  # an Arabic-Indic two: digits are ASCII
        "x" * 100,
    ],
)
def test_malformed_delays_are_refused_with_the_format(text: str) -> None:
    with pytest.raises(ValueError, match="is not a delay: a delay is a number and a unit"):
        parse_delay(text)


@pytest.mark.parametrize("text", ["366d", "365d1m", "8761h", "99999999999999999999d"])
def test_delays_past_a_year_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="longer than the longest delay, 365d"):
        parse_delay(text)


def test_a_sequence_s_delays_are_checked_step_by_step() -> None:
    assert check_delays(["0m", "2d", "4h", "1m"]) == [
        timedelta(0),
        timedelta(days=2),
        timedelta(hours=4),
        timedelta(minutes=1),
    ]
    assert check_delays(["30m"]) == [timedelta(minutes=30)]
    assert check_delays([]) == []


@pytest.mark.parametrize(
    ("delays", "index", "message"),
    [
        (["2d", "0m"], 1, "only the first step may have no delay; later steps wait at least 1m"),
        (["0m", "1d", "0h"], 2, "only the first step may have no delay"),
        (["30s"], 0, "is not a delay"),
        (["1m", "1d", "366d"], 2, "longer than the longest delay"),
        (["0m", "soon"], 1, "'soon' is not a delay"),
    ],
)
def test_the_first_bad_step_is_named(delays: list[str], index: int, message: str) -> None:
    with pytest.raises(TimingProblem) as caught:
        check_delays(delays)
    assert caught.value.step_index == index
    assert message in caught.value.message
    assert str(caught.value) == caught.value.message
    assert isinstance(caught.value, ValueError)


# --- windows --------------------------------------------------------------------------------


def test_the_default_window_is_business_hours_on_weekdays() -> None:
    assert BUSINESS.model_dump() == {
        "days": ["mon", "tue", "wed", "thu", "fri"],
        "start": "09:00",
        "end": "17:00",
    }
    assert BUSINESS.weekdays == frozenset(range(5))
    assert (BUSINESS.start_minute, BUSINESS.end_minute) == (540, 1020)


def test_days_are_normalised_to_lower_case_week_order_each_once() -> None:
    window = SendingWindow.model_validate({"days": ["Fri", " MON", "fri", "wed"]})
    assert window.days == ["mon", "wed", "fri"]
    assert window.weekdays == frozenset({0, 2, 4})
    assert _window("00:00", "24:00").end_minute == 1440


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"days": []}, "give at least one day"),
        (
            {"days": ["monday"]},
            "unknown day 'monday'; the days are mon, tue, wed, thu, fri, sat, sun",
        ),
        ({"days": ["mon", "funday"]}, "unknown day 'funday'"),
        ({"days": [1]}, "Input should be 'mon'"),
        ({"days": "mon"}, "Input should be a valid list"),
        ({"start": "9:00"}, "'9:00' is not a time of day as HH:MM"),
        ({"start": "24:00", "end": "24:00"}, "'24:00' is not a time of day"),
        ({"end": "17:60"}, "'17:60' is not a time of day"),
        ({"start": "17:00", "end": "09:00"}, "must be later than start (17:00) on the same day"),
        ({"start": "22:00", "end": "06:00"}, "a window cannot run past midnight"),
        ({"start": "09:00", "end": "09:00"}, "end (09:00) must be later than start (09:00)"),
        ({"timezone": "UTC"}, "Extra inputs are not permitted"),
    ],
)
def test_bad_windows_are_refused_clearly(body: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        SendingWindow.model_validate(body)
    assert message in str(caught.value)


def test_inside_the_window_is_now() -> None:
    monday_10 = _ny(2026, 4, 27, 10, 0)
    assert next_in_window(monday_10, BUSINESS, NEW_YORK) == _utc(2026, 4, 27, 14, 0)
    assert next_in_window(monday_10.replace(second=1), BUSINESS, NEW_YORK) == _utc(
        2026, 4, 27, 14, 0, 1
    )
    assert next_in_window(_ny(2026, 4, 27, 9, 0), BUSINESS, NEW_YORK) == _utc(2026, 4, 27, 13, 0)
    assert next_in_window(_ny(2026, 4, 27, 16, 59), BUSINESS, NEW_YORK) == _utc(2026, 4, 27, 20, 59)
    assert next_in_window(monday_10, BUSINESS, NEW_YORK).tzinfo is UTC


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (_ny(2026, 4, 27, 6, 30), _ny(2026, 4, 27, 9, 0)),  # before the start: same day
        (_ny(2026, 4, 27, 17, 0), _ny(2026, 4, 28, 9, 0)),  # the end is excluded
        (_ny(2026, 4, 27, 16, 59, 30), _ny(2026, 4, 27, 16, 59, 30)),  # the last minute
        (_ny(2026, 5, 1, 18, 0), _ny(2026, 5, 4, 9, 0)),  # Friday evening -> Monday
        (_ny(2026, 5, 2, 12, 0), _ny(2026, 5, 4, 9, 0)),  # Saturday -> Monday
        (_ny(2026, 5, 3, 23, 59), _ny(2026, 5, 4, 9, 0)),  # Sunday night -> Monday
        (_ny(2026, 12, 31, 20, 0), _ny(2027, 1, 1, 9, 0)),  # New Year's Eve (a Thursday)
        (_utc(2026, 4, 28, 3, 30), _ny(2026, 4, 28, 9, 0)),  # 23:30 Monday in New York
    ],
)
def test_outside_the_window_is_the_next_opening(at: datetime, expected: datetime) -> None:
    assert next_in_window(at, BUSINESS, NEW_YORK) == expected


def test_the_window_is_read_in_the_organization_s_zone() -> None:
    at = _utc(2026, 4, 27, 12, 0)  # 08:00 in New York, 13:00 in London, 21:00 in Tokyo
    assert next_in_window(at, BUSINESS, NEW_YORK) == _utc(2026, 4, 27, 13, 0)
    assert next_in_window(at, BUSINESS, ZoneInfo("Europe/London")) == at
    assert next_in_window(at, BUSINESS, ZoneInfo("Asia/Tokyo")) == _utc(2026, 4, 28, 0, 0)
    assert next_in_window(at, BUSINESS, UTC) == _utc(2026, 4, 27, 12, 0)


def test_a_window_to_24_00_runs_to_the_last_minute_of_the_day() -> None:
    late = _window("20:00", "24:00", ("sat",))
    assert next_in_window(_ny(2026, 5, 2, 23, 59), late, NEW_YORK) == _ny(2026, 5, 2, 23, 59)
    assert next_in_window(_ny(2026, 5, 3, 0, 0), late, NEW_YORK) == _ny(2026, 5, 9, 20, 0)
    assert next_in_window(_ny(2026, 5, 3, 0, 0), _window("00:00", "24:00"), NEW_YORK) == _ny(
        2026, 5, 3, 0, 0
    )


def test_is_in_window_ignores_seconds() -> None:
    assert is_in_window(_ny(2026, 4, 27, 16, 59, 59), BUSINESS, NEW_YORK)
    assert not is_in_window(_ny(2026, 4, 27, 17, 0), BUSINESS, NEW_YORK)
    assert not is_in_window(_ny(2026, 4, 25, 12, 0), BUSINESS, NEW_YORK)  # Saturday


def test_naive_and_out_of_range_moments_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_in_window(datetime(2026, 4, 27, 10, 0), BUSINESS, NEW_YORK)
    with pytest.raises(ValueError, match="timezone-aware"):
        is_in_window(datetime(2026, 4, 27, 10, 0), BUSINESS, NEW_YORK)
    with pytest.raises(ValueError, match="between the years"):
        next_in_window(_utc(9999, 12, 31, 23, 0), BUSINESS, NEW_YORK)


# --- DST in New York: spring forward 2026-03-08 02:00 -> 03:00, fall back 2026-11-01 02:00 -> 01:00


def test_spring_forward_moves_the_utc_time_of_the_opening() -> None:
    friday_evening = _ny(2026, 3, 6, 18, 0)  # EST
    assert next_in_window(friday_evening, BUSINESS, NEW_YORK) == _utc(2026, 3, 9, 13, 0)  # EDT
    assert next_in_window(_ny(2026, 3, 5, 18, 0), BUSINESS, NEW_YORK) == _utc(2026, 3, 6, 14, 0)


def test_spring_forward_never_returns_a_time_in_the_gap() -> None:
    sunday_night = _window("02:00", "04:00", ("sun",))
    # 01:00 EST: 02:00-02:59 never happens, so the window opens at 03:00 EDT.
    got = next_in_window(_ny(2026, 3, 8, 1, 0), sunday_night, NEW_YORK)
    assert got == _utc(2026, 3, 8, 7, 0)
    assert got.astimezone(NEW_YORK).hour == 3
    # A start inside the gap: the first minute that exists.
    half_past = _window("02:30", "05:00", ("sun",))
    assert next_in_window(_ny(2026, 3, 8, 0, 0), half_past, NEW_YORK) == _utc(2026, 3, 8, 7, 0)
    # 01:59 EST rounds up onto 03:00 EDT, inside the window.
    assert next_in_window(_utc(2026, 3, 8, 6, 59, 30), sunday_night, NEW_YORK) == _utc(
        2026, 3, 8, 7, 0
    )


def test_a_window_the_gap_swallows_whole_waits_a_week() -> None:
    swallowed = _window("02:00", "02:30", ("sun",))
    assert next_in_window(_ny(2026, 3, 8, 0, 0), swallowed, NEW_YORK) == _ny(2026, 3, 15, 2, 0)


def test_fall_back_counts_the_repeated_hour_each_time_it_passes() -> None:
    repeated = _window("01:00", "01:30", ("sun",))
    first = _utc(2026, 11, 1, 5, 0)  # 01:00 EDT
    second = _utc(2026, 11, 1, 6, 0)  # 01:00 EST, an hour later
    assert next_in_window(_ny(2026, 11, 1, 0, 0), repeated, NEW_YORK) == first
    assert next_in_window(_ny(2026, 11, 1, 1, 15), repeated, NEW_YORK) == _utc(2026, 11, 1, 5, 15)
    assert next_in_window(_ny(2026, 11, 1, 1, 45), repeated, NEW_YORK) == second
    assert next_in_window(_ny(2026, 11, 1, 1, 45, fold=1), repeated, NEW_YORK) == _ny(
        2026, 11, 8, 1, 0
    )
    # A window that the clock falls back into (not at its start) opens at the change.
    across = _window("00:30", "01:30", ("sun",))
    assert next_in_window(_ny(2026, 11, 1, 1, 45), across, NEW_YORK) == second


def test_fall_back_keeps_business_hours_in_wall_clock_time() -> None:
    weekend = _window("09:00", "17:00", ("sat", "sun"))
    saturday_evening = _ny(2026, 10, 31, 18, 0)  # EDT
    assert next_in_window(saturday_evening, weekend, NEW_YORK) == _utc(2026, 11, 1, 14, 0)  # EST


def test_far_future_dates_keep_the_zone_s_rules() -> None:
    # 2300-03-11 is the second Sunday of March: the current US rule still applies.
    assert next_in_window(_ny(2300, 3, 9, 18, 0), BUSINESS, NEW_YORK) == _utc(2300, 3, 12, 13, 0)
    only_sunday = _window("09:00", "10:00", ("sun",))
    assert next_in_window(_utc(9997, 6, 1), only_sunday, NEW_YORK) > _utc(9997, 6, 1)


def test_a_skipped_date_waits_for_the_next_week() -> None:
    # Samoa moved across the date line: 2011-12-30 (a Friday) never happened in Apia.
    apia = ZoneInfo("Pacific/Apia")
    fridays = _window("09:00", "17:00", ("fri",))
    thursday_night = datetime(2011, 12, 29, 23, 0, tzinfo=apia)
    got = next_in_window(thursday_night, fridays, apia)
    assert got.astimezone(apia).replace(tzinfo=None) == datetime(2012, 1, 6, 9, 0)


def test_a_fall_back_across_midnight_is_searched_in_time_order() -> None:
    # St. John's fell back at 00:01 until 2011: on 2010-11-07 the wall clock read
    # Sunday 00:00 (NDT) for one minute, then Saturday 23:01 (NST) again.
    st_johns = ZoneInfo("America/St_Johns")
    weekend = _window("00:00", "23:30", ("sat", "sun"))
    saturday_late = _utc(2010, 11, 7, 2, 25)  # Saturday 23:55 NDT, after the window
    assert next_in_window(saturday_late, weekend, st_johns) == _utc(2010, 11, 7, 2, 30)
    assert next_in_window(_utc(2010, 11, 7, 2, 31), weekend, st_johns) == _utc(
        2010, 11, 7, 2, 31
    )  # Saturday 23:01 NST is inside the window again
    saturdays = _window("00:00", "23:30", ("sat",))
    sunday_midnight = _utc(2010, 11, 7, 2, 30)  # Sunday 00:00 NDT, a minute before Saturday
    assert next_in_window(sunday_midnight, saturdays, st_johns) == _utc(2010, 11, 7, 2, 31)


def _first_minute_inside(at: datetime, window: SendingWindow, zone: ZoneInfo) -> datetime:
    """The slow, obviously right answer: `at` if its minute is inside, else try every minute."""
    moment = at.astimezone(UTC).replace(second=0, microsecond=0)
    local = moment.astimezone(zone)
    minute = local.hour * 60 + local.minute
    if local.weekday() in window.weekdays and window.start_minute <= minute < window.end_minute:
        return at.astimezone(UTC)
    if moment < at:
        moment += timedelta(minutes=1)
    for _ in range(20 * 24 * 60):
        local = moment.astimezone(zone)
        minute = local.hour * 60 + local.minute
        if local.weekday() in window.weekdays and (
            window.start_minute <= minute < window.end_minute
        ):
            return moment
        moment += timedelta(minutes=1)
    raise AssertionError("no minute inside the window")


def _transitions(zone: ZoneInfo, first_year: int, last_year: int) -> list[datetime]:
    found = []
    moment = _utc(first_year, 1, 1)
    offset = moment.astimezone(zone).utcoffset()
    while moment.year <= last_year:
        moment += timedelta(hours=1)
        if moment.astimezone(zone).utcoffset() != offset:
            found.append(moment)
            offset = moment.astimezone(zone).utcoffset()
    return found


@pytest.mark.parametrize(
    "zone_name",
    [
        "America/New_York",
        "Europe/London",
        "Australia/Lord_Howe",  # half-hour DST
        "America/Santiago",  # changes at midnight
        "America/Havana",  # changes at midnight and 01:00
        "Asia/Beirut",  # changes at midnight
        "Africa/Casablanca",  # suspends DST every Ramadan
        "America/St_Johns",  # fell back across midnight until 2011
    ],
)
def test_next_in_window_agrees_with_trying_every_minute_around_transitions(
    zone_name: str,
) -> None:
    zone = ZoneInfo(zone_name)
    rng = random.Random(zone_name)
    transitions = _transitions(zone, 2010, 2010) + _transitions(zone, 2025, 2026)
    assert transitions
    for _ in range(30):
        at = rng.choice(transitions) + timedelta(
            minutes=rng.randint(-2000, 2000), seconds=rng.choice((0, 0, 29))
        )
        days = [day for day in WEEKDAYS if rng.random() < 0.5] or ["sun"]
        start = rng.choice((0, 30, 60, 90, 120, 150, 180, 1380, 1410, rng.randint(0, 1439)))
        end = min(1440, start + rng.choice((1, 30, 60, 90, 600, 1440)))
        window = _window(
            f"{start // 60:02d}:{start % 60:02d}",
            "24:00" if end == 1440 else f"{end // 60:02d}:{end % 60:02d}",
            tuple(days),
        )
        assert next_in_window(at, window, zone) == _first_minute_inside(at, window, zone), (
            at,
            window,
        )


# --- step_due_at ----------------------------------------------------------------------------


def test_a_step_is_due_after_its_delay_inside_the_window() -> None:
    monday_10 = _ny(2026, 4, 27, 10, 0)
    assert step_due_at(monday_10, timedelta(days=2), BUSINESS, NEW_YORK) == _ny(2026, 4, 29, 10, 0)
    assert step_due_at(monday_10, timedelta(0), BUSINESS, NEW_YORK) == _ny(2026, 4, 27, 10, 0)
    friday_15 = _ny(2026, 5, 1, 15, 0)
    assert step_due_at(friday_15, timedelta(hours=4), BUSINESS, NEW_YORK) == _ny(2026, 5, 4, 9, 0)
    assert step_due_at(friday_15, timedelta(minutes=30), BUSINESS, NEW_YORK) == _ny(
        2026, 5, 1, 15, 30
    )


def test_a_delay_is_elapsed_time_even_across_dst() -> None:
    saturday_10 = _ny(2026, 3, 7, 10, 0)  # EST; the clocks go forward that night
    every_day = _window("09:00", "17:00")
    due = _ny(2026, 3, 8, 11, 0)  # EDT: 24 hours later, not 10:00 on the next day's clock
    assert step_due_at(saturday_10, parse_delay("1d"), every_day, NEW_YORK) == due
    in_utc = saturday_10.astimezone(UTC)
    assert step_due_at(in_utc, parse_delay("1d"), every_day, NEW_YORK) == due


def test_a_negative_delay_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot be negative"):
        step_due_at(_ny(2026, 4, 27, 10, 0), timedelta(minutes=-1), BUSINESS, NEW_YORK)


def test_a_naive_previous_moment_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        step_due_at(datetime(2026, 4, 27, 10, 0), timedelta(hours=1), BUSINESS, NEW_YORK)
