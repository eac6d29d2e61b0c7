"""When an absent person is back: the return date in an out-of-office reply, English or Spanish.

`parse_return_date(text, today)` finds the dates the text names and picks the one that says
when the writer is back, in this order of trust:

1. a date after "back", "return(ing)", "reopen", "regreso", "vuelvo", "de vuelta",
   "a partir del"...: that day;
2. a date after "until", "till", "hasta": that day ("out until Monday" = back Monday);
3. a date after "through", "thru", or the end of a range ("March 3-7", "del 10 al 14"):
   the day after;
4. otherwise the only date the text names ("will respond on Monday").

Dates may be written 3/17, 17/03 (day first in Spanish text, or when the first number is
over 12), 2025-03-18, 17.03.2025, March 17(th)(, 2025), 17 March, 17 de marzo, Monday,
el lunes 17, the 15th, tomorrow, mañana, next week, la próxima semana, in two weeks,
the end of the month, the New Year, or a month alone ("return in June"). A date without
a year is placed in the year that puts it nearest `today`, preferring the future; weekdays
and "the 15th" are the next such day after `today`.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise

from eal.ai.text import fold

_MONTHS = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4,
    "apr": 4, "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8,
    "september": 9, "sept": 9, "sep": 9, "october": 10, "oct": 10, "november": 11, "nov": 11,
    "december": 12, "dec": 12, "enero": 1, "ene": 1, "febrero": 2, "marzo": 3, "abril": 4,
    "abr": 4, "mayo": 5, "junio": 6, "julio": 7, "agosto": 8, "ago": 8, "septiembre": 9,
    "setiembre": 9, "octubre": 10, "noviembre": 11, "diciembre": 12, "dic": 12,
}  # fmt: skip
#: Month names that may stand alone ("back in June"): not "may" (a verb), nor abbreviations.
_LONE_MONTHS = {name: n for name, n in _MONTHS.items() if len(name) > 4 and name != "mayo"}
_LONE_MONTHS["june"] = 6
_LONE_MONTHS["july"] = 7
_WEEKDAYS = {
    "monday": 0, "mon": 0, "lunes": 0, "tuesday": 1, "tue": 1, "tues": 1, "martes": 1,
    "wednesday": 2, "wed": 2, "miercoles": 2, "thursday": 3, "thu": 3, "thur": 3, "thurs": 3,
    "jueves": 3, "friday": 4, "fri": 4, "viernes": 4, "saturday": 5, "sat": 5, "sabado": 5,
    "sunday": 6, "sun": 6, "domingo": 6,
}  # fmt: skip
_NUMBER_WORDS = {"a": 1, "one": 1, "two": 2, "three": 3, "four": 4, "un": 1, "una": 1,
                 "dos": 2, "tres": 3, "cuatro": 4}  # fmt: skip

_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
_LONE = "|".join(sorted(_LONE_MONTHS, key=len, reverse=True))
_WEEKDAY = "|".join(sorted(_WEEKDAYS, key=len, reverse=True))
_ORD = r"(?:st|nd|rd|th|o|º)?"

_EXPLICIT = [
    # Ranges give the day after their end: "March 3-7", "del 10 al 14 de marzo".
    (
        "month_range",
        re.compile(
            rf"\b({_MONTH})\.?\s+\d{{1,2}}{_ORD}\s*(?:-|\u2013|to|through|thru)\s*(\d{{1,2}}){_ORD}\b"
            rf"(?:,?\s+(\d{{4}}))?"
        ),
    ),
    (
        "range_month",
        re.compile(
            rf"\b(?:del?\s+)?\d{{1,2}}{_ORD}\s*(?:-|\u2013|to|al|a)\s*(\d{{1,2}}){_ORD}\s+(?:of\s+|de\s+)?"
            rf"({_MONTH})\b(?:,?\s+(?:de\s+|del\s+)?(\d{{4}}))?"
        ),
    ),
    ("iso", re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")),
    ("dotted", re.compile(r"\b(\d{1,2})\.(\d{1,2})\.(\d{2,4})\b")),
    ("slash", re.compile(r"(?<![\d/])(\d{1,2})/(\d{1,2})(?:/(\d{2,4}))?(?![\d/])")),
    ("month_day", re.compile(rf"\b({_MONTH})\.?\s+(\d{{1,2}}){_ORD}\b(?:,?\s+(\d{{4}}))?")),
    (
        "day_month",
        re.compile(
            rf"\b(\d{{1,2}}){_ORD}\s+(?:of\s+|de\s+)?({_MONTH})\b\.?(?:,?\s+(?:de\s+|del\s+)?(\d{{4}}))?"
        ),
    ),
    (
        "weekday_day",
        re.compile(rf"\b({_WEEKDAY})\.?,?\s+(?:the\s+)?(\d{{1,2}}){_ORD}\b(?![/\d]|\.\d)"),
    ),
    (
        "nth",
        re.compile(
            r"\bthe\s+(\d{1,2})(?:st|nd|rd|th)\b|\bel\s+(?:dia\s+)?(\d{1,2})\b(?![/\d]|\.\d)"
        ),
    ),
]
_RELATIVE = [
    ("tomorrow", re.compile(r"\btomorrow\b|(?<!la )(?<!por la )\bmanana\b")),
    ("today", re.compile(r"\btoday\b|\bthis afternoon\b|\blater today\b|\bhoy\b|\besta tarde\b")),
    (
        "next_week",
        re.compile(
            r"\bnext week\b|\b(?:la )?(?:proxima|siguiente) semana\b|\bla semana que viene\b"
        ),
    ),
    (
        "in_n",
        re.compile(
            r"\b(?:in|en)\s+(\d+|a|one|two|three|four|un|una|dos|tres|cuatro)\s+"
            r"(days?|weeks?|dias?|semanas?)\b"
        ),
    ),
    ("month_end", re.compile(r"\bend of (?:the )?month\b|\bfin(?:al)? de(?:l)? mes\b")),
    ("new_year", re.compile(r"\bnew year\b|\bano nuevo\b")),
    ("weekday", re.compile(rf"\b({_WEEKDAY})\b\.?")),
    ("month", re.compile(rf"\b({_LONE})\b(?!\.?\s*\d)")),
]
_RETURN = re.compile(
    r"\b(?:back|return|returning|returns|reopen|reopens|reopening|reopen on|available again"
    r"|regreso|regresare|regresamos|regresa|vuelvo|volvere|de vuelta|a partir del?|reanudo"
    r"|retomo|reincorporo)\b"
)
_RESPOND = re.compile(
    r"\b(?:respond|reply|answer|answered|get back|responder[ea]?|contestar[ea]?)\b"
)
#: Opening hours, not dates: "Monday through Friday", "de lunes a viernes".
_WEEKDAY_SPAN = re.compile(
    rf"\b(?:{_WEEKDAY})\s*(?:-|\u2013|to|through|thru|a|al)\s*(?:{_WEEKDAY})\b"
)
_UNTIL = re.compile(r"\b(?:until|untill|till|til|hasta)\b")
_THROUGH = re.compile(r"\b(?:through|thru)\b")
#: What joins the two ends of a range of dates: "3/10 to 3/12", "lunes 10 al viernes 14".
_RANGE_JOIN = re.compile(r"^\s*(?:-|\u2013|to|through|thru|until|till|al|a|hasta(?: el)?)\s*$")
_SPANISH = frozenset(
    {"el", "la", "de", "del", "hasta", "estoy", "estare", "fuera", "oficina", "regreso"}
    | {"gracias", "su", "mi"}
)
_ENGLISH = frozenset(
    {"the", "until", "i", "am", "out", "of", "office", "back", "return", "thank", "you"}
    | {"will", "on", "my"}
)
#: How far after a trigger word its date may start.
_REACH = 45


@dataclass(frozen=True, slots=True)
class _Found:
    start: int
    end: int
    day: date


def parse_return_date(text: str, today: date) -> date | None:
    """The day the writer of an out-of-office text is back, or None when it names none."""
    folded = fold(text)
    if re.search(r"\buntil further notice\b|\bhasta nuevo aviso\b", folded):
        return None
    folded = _WEEKDAY_SPAN.sub(lambda m: " " * len(m.group()), folded)
    words = re.findall(r"[a-z]+", folded)
    spanish = sum(w in _SPANISH for w in words) > sum(w in _ENGLISH for w in words)
    found = _dates(folded, today, day_first=spanish)
    if not found:
        return None
    for trigger, shift in ((_RETURN, 0), (_UNTIL, 0), (_THROUGH, 1)):
        for match in trigger.finditer(folded):
            after = [f for f in found if match.end() <= f.start <= match.end() + _REACH]
            if after:
                return after[0].day + timedelta(days=shift)
    for first, second in pairwise(found):
        if _RANGE_JOIN.match(folded[first.end : second.start]):
            return second.day + timedelta(days=1)
    for match in _RESPOND.finditer(folded):
        after = [f for f in found if match.end() <= f.start <= match.end() + _REACH]
        if after:
            return after[0].day
    return found[0].day if len(found) == 1 else None


def _dates(text: str, today: date, *, day_first: bool) -> list[_Found]:
    """Every date the text names, in text order, more specific forms winning overlaps."""
    taken: list[_Found] = []

    def free(start: int, end: int) -> bool:
        return all(end <= f.start or start >= f.end for f in taken)

    for kind, pattern in _EXPLICIT:
        for match in pattern.finditer(text):
            day = _explicit(kind, match.groups(), today, day_first=day_first)
            if day is not None and free(match.start(), match.end()):
                taken.append(_Found(match.start(), match.end(), day))
    for kind, pattern in _RELATIVE:
        for match in pattern.finditer(text):
            if not free(match.start(), match.end()):
                continue
            if kind == "weekday" and _explicit_follows(text, match.end(), taken):
                continue  # "Monday, March 10": the date says it
            day = _relative(kind, match.groups(), today)
            if day is not None:
                taken.append(_Found(match.start(), match.end(), day))
    return sorted(taken, key=lambda f: f.start)


def _explicit(
    kind: str, groups: tuple[str | None, ...], today: date, *, day_first: bool
) -> date | None:
    if kind in ("month_range", "range_month"):
        month_name, day_text = (groups[0], groups[1]) if kind == "month_range" else groups[1::-1]
        month, day = _MONTHS[month_name or ""], int(day_text or 0)
        end = _safe(int(groups[2]), month, day) if groups[2] else _nearest(month, day, today)
        return None if end is None else end + timedelta(days=1)
    if kind == "iso":
        year, month, day = (int(g or 0) for g in groups)
        return _safe(year, month, day)
    if kind == "dotted":
        day, month, year = (int(g or 0) for g in groups)
        return _safe(_full_year(year), month, day)
    if kind == "slash":
        first, second = int(groups[0] or 0), int(groups[1] or 0)
        month, day = (
            (second, first) if (day_first and second <= 12) or first > 12 else (first, second)
        )
        if groups[2]:
            return _safe(_full_year(int(groups[2])), month, day)
        return _nearest(month, day, today)
    if kind == "month_day":
        month, day = _MONTHS[groups[0] or ""], int(groups[1] or 0)
        return _safe(int(groups[2]), month, day) if groups[2] else _nearest(month, day, today)
    if kind == "day_month":
        day, month = int(groups[0] or 0), _MONTHS[groups[1] or ""]
        return _safe(int(groups[2]), month, day) if groups[2] else _nearest(month, day, today)
    # weekday_day and nth name a day of the month: the next one from today.
    number = int(next(g for g in groups if g and g.isdigit()))
    return _next_day_of_month(number, today)


def _relative(kind: str, groups: tuple[str | None, ...], today: date) -> date | None:
    if kind == "tomorrow":
        return today + timedelta(days=1)
    if kind == "today":
        return today
    if kind == "next_week":
        return today + timedelta(days=7 - today.weekday())
    if kind == "in_n":
        count_text, unit = groups[0] or "", groups[1] or ""
        count = int(count_text) if count_text.isdigit() else _NUMBER_WORDS[count_text]
        return today + timedelta(days=count * (7 if unit.startswith(("week", "semana")) else 1))
    if kind == "month_end":
        return date(today.year, today.month, calendar.monthrange(today.year, today.month)[1])
    if kind == "new_year":
        return date(today.year + (0 if today < date(today.year, 1, 2) else 1), 1, 2)
    if kind == "weekday":
        ahead = (_WEEKDAYS[groups[0] or ""] - today.weekday()) % 7 or 7
        return today + timedelta(days=ahead)
    month = _LONE_MONTHS[groups[0] or ""]
    return _nearest(month, 1, today)


def _explicit_follows(text: str, end: int, taken: list[_Found]) -> bool:
    return any(0 <= f.start - end <= 3 and not text[end : f.start].strip(" ,") for f in taken)


def _safe(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _full_year(year: int) -> int:
    return year + 2000 if year < 100 else year


def _nearest(month: int, day: int, today: date) -> date | None:
    """The month/day in the year that puts it nearest today; a day in the past counts ten.

    A return date is in the future unless the reply is stale, and then only just past.
    """
    candidates = [
        d for y in (today.year - 1, today.year, today.year + 1) if (d := _safe(y, month, day))
    ]
    if not candidates:
        return None
    return min(candidates, key=lambda d: (d - today).days if d >= today else 10 * (today - d).days)


def _next_day_of_month(day: int, today: date) -> date | None:
    """The next date after today whose day of the month is `day`."""
    if not 1 <= day <= 31:
        return None
    year, month = today.year, today.month
    for _ in range(13):
        candidate = _safe(year, month, day)
        if candidate is not None and candidate > today:
            return candidate
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return None
