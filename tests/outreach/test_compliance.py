"""SMS compliance: quiet hours and state rules at the recipient, caps, DST, and opt-out keywords."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from eal.outreach.compliance import (
    SmsRules,
    next_allowed,
    recipient_zone,
    rules_for,
)
from eal.outreach.keywords import sms_intent
from eal.outreach.settings import OutreachConfig

NEW_YORK = ZoneInfo("America/New_York")
CHICAGO = ZoneInfo("America/Chicago")
DEFAULT = OutreachConfig.from_settings({})
MIAMI = "+13055551234"  # Florida, one zone
BROOKSVILLE = "+13527971234"  # geocoded "Brooksville, FL"
HOUSTON = "+12815550123"  # Texas
PROVIDENCE = "+14015550123"  # Rhode Island
OKLAHOMA = "+14055550123"
BOISE = "+12085550123"  # Idaho: Mountain and Pacific
TOLL_FREE = "+18005550199"  # every NANP zone
ATLANTA = "+14045550123"  # Georgia: no state rule
LONDON = "+447911123456"  # several zones, not US

CORPUS = Path(__file__).parent / "data" / "sms_intents.jsonl"


def quiet(start: str, end: str) -> OutreachConfig:
    return OutreachConfig(daily_limits={}, quiet_start=start, quiet_end=end, help_reply=None)


def ny(*args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=NEW_YORK, fold=fold)  # type: ignore[misc]


# --- zones and states -----------------------------------------------------------------


def test_recipient_zone_comes_from_the_number_when_it_has_one() -> None:
    assert recipient_zone(MIAMI, "America/Denver") == NEW_YORK
    assert recipient_zone(HOUSTON, "America/Denver") == CHICAGO
    assert recipient_zone("+19155550123", "UTC") == ZoneInfo("America/Denver")  # El Paso


def test_several_zones_or_none_take_the_default() -> None:
    assert recipient_zone(BOISE, "America/Boise") == ZoneInfo("America/Boise")
    assert recipient_zone(BOISE, CHICAGO) == CHICAGO
    assert recipient_zone(TOLL_FREE, "America/Phoenix") == ZoneInfo("America/Phoenix")
    assert recipient_zone(LONDON, NEW_YORK) == NEW_YORK
    assert recipient_zone("+15555550123", NEW_YORK) == NEW_YORK  # not a real number: no zone


def test_unparseable_number_is_refused() -> None:
    with pytest.raises(ValueError, match=r"E\.164"):
        recipient_zone("not a number", NEW_YORK)


def test_florida_window_and_cap() -> None:
    rules = rules_for(MIAMI, DEFAULT, CHICAGO)
    assert (rules.window_start, rules.window_end) == (time(8), time(20))
    assert rules.max_per_24h == 3
    assert rules.state == "FL"
    assert rules.zone == NEW_YORK
    assert rules.sources == ("quiet_hours", "federal", "FL")


def test_state_from_a_city_description() -> None:
    rules = rules_for(BROOKSVILLE, DEFAULT, CHICAGO)
    assert rules.state == "FL" and rules.max_per_24h == 3


def test_state_without_a_rule_keeps_the_federal_window() -> None:
    rules = rules_for(ATLANTA, DEFAULT, CHICAGO)
    assert rules.state == "GA" and rules.max_per_24h is None
    assert (rules.window_start, rules.window_end) == (time(8), time(21))


def test_weekday_exceptions() -> None:
    texas = rules_for(HOUSTON, DEFAULT)
    assert texas.weekly[0] == ((9 * 60, 21 * 60),) and texas.weekly[6] == ((12 * 60, 21 * 60),)
    rhode_island = rules_for(PROVIDENCE, DEFAULT)
    assert rhode_island.weekly[5] == ((10 * 60, 17 * 60),) and rhode_island.weekly[6] == ()


def test_the_strictest_rule_wins() -> None:
    # The organization's quiet hours narrow Florida's window at one end...
    rules = rules_for(MIAMI, quiet("19:00", "09:30"))
    assert (rules.window_start, rules.window_end) == (time(9, 30), time(19))
    # ...and cannot widen it, nor the federal window.
    assert (rules_for(MIAMI, quiet("23:00", "06:00")).window_end) == time(20)
    wide = rules_for(ATLANTA, quiet("23:30", "06:00"))
    assert (wide.window_start, wide.window_end) == (time(8), time(21))
    # A non-US number has only the organization's quiet hours.
    abroad = rules_for(LONDON, quiet("22:00", "07:00"), NEW_YORK)
    assert (abroad.window_start, abroad.window_end, abroad.state) == (time(7), time(22), None)
    assert abroad.sources == ("quiet_hours",)


def test_quiet_hours_that_leave_nothing_fall_back_to_the_law() -> None:
    rules = rules_for(MIAMI, quiet("06:00", "23:00"))
    assert (rules.window_start, rules.window_end) == (time(8), time(20))
    assert "quiet_hours" not in rules.sources


# --- next allowed minute --------------------------------------------------------------


def test_an_allowed_moment_is_returned_as_given() -> None:
    at = ny(2025, 3, 5, 14, 7, 31)
    assert next_allowed(MIAMI, at, DEFAULT, CHICAGO) is at


def test_before_and_after_the_window() -> None:
    assert next_allowed(MIAMI, ny(2025, 3, 5, 7, 59, 30), DEFAULT, CHICAGO) == ny(2025, 3, 5, 8)
    # Florida ends at 20:00, an hour before the federal window.
    assert next_allowed(MIAMI, ny(2025, 3, 5, 20, 0), DEFAULT, CHICAGO) == ny(2025, 3, 6, 8)
    assert next_allowed(ATLANTA, ny(2025, 3, 5, 20, 0), DEFAULT, CHICAGO) == ny(2025, 3, 5, 20)


def test_quiet_hours_wrap_past_midnight() -> None:
    assert next_allowed(ATLANTA, ny(2025, 3, 5, 23, 30), DEFAULT, CHICAGO) == ny(2025, 3, 6, 8)
    assert next_allowed(ATLANTA, ny(2025, 3, 6, 0, 15), DEFAULT, CHICAGO) == ny(2025, 3, 6, 8)
    # Abroad, quiet 22:00-06:00 at the organization's zone.
    at = ny(2025, 3, 5, 23, 0)
    assert next_allowed(LONDON, at, quiet("22:00", "06:00"), NEW_YORK) == ny(2025, 3, 6, 6)
    assert next_allowed(LONDON, ny(2025, 3, 6, 5, 59), quiet("22:00", "06:00"), NEW_YORK) == ny(
        2025, 3, 6, 6
    )


def test_the_recipient_zone_decides_not_the_caller() -> None:
    # 08:30 in New York is 07:30 in Houston: too early there.
    at = ny(2025, 3, 5, 8, 30)
    assert next_allowed(HOUSTON, at, DEFAULT, NEW_YORK) == datetime(2025, 3, 5, 9, tzinfo=CHICAGO)
    # The answer comes in the caller's zone.
    utc = next_allowed(MIAMI, datetime(2025, 7, 1, 2, 0, tzinfo=UTC), DEFAULT, CHICAGO)
    assert utc == datetime(2025, 7, 1, 12, 0, tzinfo=UTC) and utc.tzinfo is UTC


def test_florida_cap_defers_until_the_oldest_send_is_a_day_old() -> None:
    sent = [ny(2025, 3, 5, 9), ny(2025, 3, 5, 10, 30), ny(2025, 3, 5, 11, 45)]
    at = ny(2025, 3, 5, 12)
    assert next_allowed(MIAMI, at, DEFAULT, CHICAGO, sent[:2]) is at
    assert next_allowed(MIAMI, at, DEFAULT, CHICAGO, sent) == ny(2025, 3, 6, 9)
    # Sends older than 24 hours do not count; the cap is Florida's, not Georgia's.
    assert next_allowed(MIAMI, ny(2025, 3, 6, 9, 0, 1), DEFAULT, CHICAGO, sent) == ny(
        2025, 3, 6, 9, 0, 1
    )
    assert next_allowed(ATLANTA, at, DEFAULT, CHICAGO, sent) is at


def test_cap_release_outside_the_window_waits_for_the_window() -> None:
    sent = [ny(2025, 3, 5, 19, 10), ny(2025, 3, 5, 19, 20), ny(2025, 3, 5, 19, 30)]
    # Released at 19:10 the next day, inside the window.
    assert next_allowed(MIAMI, ny(2025, 3, 5, 19, 40), DEFAULT, CHICAGO, sent) == ny(
        2025, 3, 6, 19, 10
    )
    late = [ny(2025, 3, 5, 20, 30), *sent]  # one in the quiet hours (a transactional text)
    # Four sends: the second-oldest must age out, at 19:20 on the 6th.
    assert next_allowed(MIAMI, ny(2025, 3, 6, 8), DEFAULT, CHICAGO, late) == ny(2025, 3, 6, 19, 20)


def test_oklahoma_cap_too() -> None:
    sent = [ny(2025, 3, 5, 10), ny(2025, 3, 5, 10, 5), ny(2025, 3, 5, 10, 10)]
    assert next_allowed(OKLAHOMA, ny(2025, 3, 5, 11), DEFAULT, CHICAGO, sent) == ny(2025, 3, 6, 10)


def test_sundays_saturdays_and_holidays() -> None:
    # Rhode Island: Saturday ends at 17:00, no Sunday; Monday 09:00 (EDT from 9 March).
    assert next_allowed(PROVIDENCE, ny(2025, 3, 8, 17, 30), DEFAULT, CHICAGO) == ny(2025, 3, 10, 9)
    # Christmas Day (a Thursday in 2025) is skipped.
    assert next_allowed(PROVIDENCE, ny(2025, 12, 24, 19), DEFAULT, CHICAGO) == ny(2025, 12, 26, 9)
    # Independence Day 2026 is a Saturday: Friday the 3rd is its observed day.
    assert next_allowed(PROVIDENCE, ny(2026, 7, 2, 18, 30), DEFAULT, CHICAGO) == ny(2026, 7, 6, 9)
    # Texas Sunday starts at noon.
    sunday = datetime(2025, 3, 9, 10, tzinfo=CHICAGO)
    assert next_allowed(HOUSTON, sunday, DEFAULT, NEW_YORK) == sunday.replace(hour=12)


def test_dst_spring_gap_gives_the_first_real_minute() -> None:
    # Quiet 01:00-02:30 in New York; on 9 March 2025 02:30 never happens.
    rules = quiet("01:00", "02:30")
    result = next_allowed(LONDON, ny(2025, 3, 9, 1, 30), rules, NEW_YORK)
    assert result == ny(2025, 3, 9, 3, 0)
    assert result.astimezone(UTC) == datetime(2025, 3, 9, 7, 0, tzinfo=UTC)


def test_dst_fall_back_repeated_hour() -> None:
    rules = quiet("01:00", "01:30")
    # 01:10 the first time (EDT) waits until 01:30 EDT...
    first = next_allowed(LONDON, ny(2025, 11, 2, 1, 10), rules, NEW_YORK)
    assert first.astimezone(UTC) == datetime(2025, 11, 2, 5, 30, tzinfo=UTC)
    # ...and 01:10 the second time (EST) until 01:30 EST, an hour later.
    second = next_allowed(LONDON, ny(2025, 11, 2, 1, 10, fold=1), rules, NEW_YORK)
    assert second.astimezone(UTC) == datetime(2025, 11, 2, 6, 30, tzinfo=UTC)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_allowed(MIAMI, datetime(2025, 3, 5, 12), DEFAULT, CHICAGO)
    with pytest.raises(ValueError, match="timezone-aware"):
        next_allowed(MIAMI, ny(2025, 3, 5, 12), DEFAULT, CHICAGO, [datetime(2025, 3, 5, 9)])


def _allowed(rules: SmsRules, moment: datetime, sent: list[datetime]) -> bool:
    cap = rules.max_per_24h
    recent = [s for s in sent if s > moment - timedelta(hours=24)]
    return rules.in_window(moment) and (cap is None or len(recent) < cap)


@pytest.mark.parametrize("seed", range(4))
def test_the_answer_is_the_first_allowed_minute(seed: int) -> None:
    """Brute force: every whole minute between `at` and the answer is forbidden."""
    chooser = random.Random(seed)
    numbers = [MIAMI, HOUSTON, PROVIDENCE, OKLAHOMA, ATLANTA, LONDON, TOLL_FREE]
    configs = [DEFAULT, quiet("20:00", "09:00"), quiet("12:00", "13:00"), quiet("00:30", "02:30")]
    start = datetime(2025, 3, 7, tzinfo=UTC)  # spans the spring DST change
    for _ in range(12):
        number, config = chooser.choice(numbers), chooser.choice(configs)
        at = start + timedelta(minutes=chooser.randrange(4 * 24 * 60), seconds=chooser.random())
        sent = [
            at - timedelta(minutes=chooser.randrange(24 * 60)) for _ in range(chooser.randrange(5))
        ]
        rules = rules_for(number, config, NEW_YORK)
        result = next_allowed(number, at, config, NEW_YORK, sent)
        assert result >= at and _allowed(rules, result, sent)
        if result != at:
            assert result.second == 0 and result.microsecond == 0
            minute = at.replace(second=0, microsecond=0) + timedelta(minutes=1)
            while minute < result:
                assert not _allowed(rules, minute, sent), (number, at, minute)
                minute += timedelta(minutes=1)


# --- inbound keywords -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "intent"),
    [
        ("STOP", "opt_out"),
        ("  stop. ", "opt_out"),
        ("Unsubscribe!", "opt_out"),
        ("optout", "opt_out"),
        ("REVOKE", "opt_out"),
        ("stop texting me", "opt_out"),
        ("please remove me from your list", "opt_out"),
        ("don't text me anymore", "opt_out"),
        ("No me envíen más mensajes", "opt_out"),
        ("alto", "opt_out"),
        ("BAJA", "opt_out"),
        ("START", "opt_in"),
        ("yes", "opt_in"),
        ("Unstop", "opt_in"),
        ("HELP", "help"),
        ("info?", "help"),
        ("the water won't stop", "other"),
        ("can you stop by tomorrow?", "other"),
        ("please don't stop the drying", "other"),
        ("yes please come Thursday", "other"),
        ("help! basement flooding", "other"),
        ("", "other"),
        ("👍", "other"),
    ],
)
def test_sms_intent(body: str, intent: str) -> None:
    assert sms_intent(body) == intent


def test_keyword_corpus_precision_and_recall() -> None:
    rows = [json.loads(line) for line in CORPUS.read_text("utf-8").splitlines() if line]
    assert len(rows) >= 300
    outcomes: Counter[tuple[str, str]] = Counter()
    misses = []
    for row in rows:
        got = sms_intent(row["text"])
        outcomes[row["intent"], got] += 1
        if got != row["intent"]:
            misses.append(f"{row['intent']} -> {got}: {row['text']!r}")
    caught = outcomes["opt_out", "opt_out"]
    flagged = sum(n for (_, got), n in outcomes.items() if got == "opt_out")
    wanted = sum(n for (label, _), n in outcomes.items() if label == "opt_out")
    precision, recall = caught / flagged, caught / wanted
    accuracy = sum(n for (label, got), n in outcomes.items() if label == got) / len(rows)
    print(f"opt_out precision {precision:.3f} recall {recall:.3f}; accuracy {accuracy:.3f}")
    # A missed opt-out is unlawful, a false one loses a customer: both bars are high.
    assert recall >= 0.98, misses
    assert precision >= 0.98, misses
    assert accuracy >= 0.97, misses
