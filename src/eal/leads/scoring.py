"""Explainable, deterministic lead scoring: signals in, a 0-100 score and its reasons out.

Each signal (loss type and urgency in the customer's words, service area,
phone, email, company for commercial leads, source, form completion speed,
recent severe weather, contact name) yields at most one signed
:class:`Contribution`, a fraction of the 0-1 scale. The score is
``clamp(round(100 * (BASE_SCORE + sum)), 0, 100)`` and the reasoning lists
every non-zero contribution, largest first::

    Recent storm event in service radius (+0.18); phone validated (+0.10); ...

All numbers and vocabularies live in :mod:`eal.leads.scoring_weights`. The
module is pure: no database, no HTTP, no clock (``now`` comes from the
context), no randomness, and no iteration over sets or unordered dicts, so the
same input always gives the same output.

Performance: the keyword regexes are compiled at import and US postal codes
are indexed once per process by :mod:`eal.geo` (call
``geo.load_postal_index()`` at start-up to do it before the first request).
After that, scoring a typical lead takes roughly 0.1 ms, most of it in phone
number parsing; free text is read up to ``MAX_TEXT_CHARS`` per field so a
huge message cannot slow it down.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from eal import geo
from eal.geo import ServiceArea
from eal.leads import scoring_weights as w
from eal.leads.message_reading import MessageReading, read_message
from eal.leads.phone import normalize_email, validate_phone
from eal.weather.schemas import WeatherEventType

__all__ = [
    "SIGNAL_CODES",
    "Contribution",
    "LeadSignals",
    "ScoreResult",
    "ScoringContext",
    "ServiceArea",
    "WeatherEvent",
    "WeatherEventType",
    "normalize_source",
    "score_lead",
]


#: Contribution codes; also the tie-break order between equal contributions.
SIGNAL_CODES: tuple[str, ...] = (
    "message_intent",
    "weather",
    "loss_type",
    "urgency",
    "form_speed",
    "service_area",
    "phone",
    "email",
    "company",
    "source",
    "contact_name",
)
_SIGNAL_RANK = {code: rank for rank, code in enumerate(SIGNAL_CODES)}
_WEATHER_RANK = {kind: rank for rank, kind in enumerate(WeatherEventType)}


@dataclass(frozen=True, slots=True)
class Contribution:
    """One signal's signed effect on the 0-1 score, with a readable label."""

    code: str
    label: str
    value: float

    @property
    def text(self) -> str:
        """The label followed by the signed value, e.g. ``phone validated (+0.10)``."""
        return f"{self.label} ({self.value:+.2f})"


@dataclass(frozen=True, slots=True)
class ScoreResult:
    """A lead's score, the contributions behind it and extracted qualification fields."""

    score: int
    contributions: tuple[Contribution, ...]
    reasoning: str
    timeline: str | None
    pain_points: str | None


def _is_aware(moment: datetime) -> bool:
    return moment.utcoffset() is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class LeadSignals:
    """What is known about a lead when it is scored. Every field is optional."""

    message: str | None = None
    pain_points: str | None = None
    name: str | None = None
    company: str | None = None
    email: str | None = None
    phone: str | None = None
    source: str | None = None
    industry: str | None = None
    company_size: str | int | None = None
    postal_code: str | None = None
    form_started_at: datetime | None = None
    form_submitted_at: datetime | None = None

    def __post_init__(self) -> None:
        started, submitted = self.form_started_at, self.form_submitted_at
        if (
            started is not None
            and submitted is not None
            and _is_aware(started) != _is_aware(submitted)
        ):
            raise ValueError(
                "form_started_at and form_submitted_at must both be timezone-aware or both naive"
            )


def _require_number(value: object, what: str) -> float:
    # bool is an int subclass; True as a radius or weight is a settings mistake.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{what} must be finite, got {value!r}")
    return number


@dataclass(frozen=True, slots=True, kw_only=True)
class WeatherEvent:
    """A severe weather event and the postal codes it affected."""

    type: WeatherEventType
    postal_codes: tuple[str, ...]
    occurred_at: datetime
    _listed: frozenset[str] = field(init=False, repr=False, compare=False)
    _points: tuple[tuple[float, float], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "type", WeatherEventType(self.type))
        if not _is_aware(self.occurred_at):
            raise ValueError("weather event occurred_at must be timezone-aware")
        if isinstance(self.postal_codes, str):
            raise ValueError("weather event postal_codes must be a list of postal codes")
        codes = sorted(
            {geo.parse_postal_code(code, "weather event postal code") for code in self.postal_codes}
        )
        object.__setattr__(self, "postal_codes", tuple(codes))
        object.__setattr__(self, "_listed", frozenset(codes))
        # Resolved once here, not once per scored lead.
        points = (geo.resolve_postal_code(code) for code in codes)
        object.__setattr__(self, "_points", tuple(p for p in points if p is not None))

    def affects(self, postal_code: str, point: tuple[float, float] | None) -> bool:
        """Whether the event lists ``postal_code`` or a code within the nearby radius."""
        if postal_code in self._listed:
            return True
        return point is not None and geo.is_within_miles(
            point, self._points, w.WEATHER_NEARBY_MILES
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ScoringContext:
    """What scoring needs beyond the lead: organization settings, weather and the time."""

    now: datetime
    service_area: ServiceArea | None = None
    source_weights: Mapping[str, float] = field(default_factory=dict)
    weather_events: tuple[WeatherEvent, ...] = ()

    def __post_init__(self) -> None:
        if not _is_aware(self.now):
            raise ValueError("scoring context now must be timezone-aware")
        overrides: dict[str, float] = {}
        for raw_key, raw_value in self.source_weights.items():
            key = normalize_source(raw_key) if isinstance(raw_key, str) else None
            if key is None:
                raise ValueError(f"source weight key {raw_key!r} is not a source name")
            if key in overrides:
                raise ValueError(f"source weight {key!r} is given twice")
            value = _require_number(raw_value, f"source weight {key!r}")
            if abs(value) > w.MAX_SOURCE_WEIGHT:
                raise ValueError(f"source weight {key!r} must be within ±{w.MAX_SOURCE_WEIGHT:g}")
            overrides[key] = value
        object.__setattr__(self, "source_weights", MappingProxyType(overrides))
        object.__setattr__(self, "weather_events", tuple(self.weather_events))

    @classmethod
    def from_settings(
        cls,
        settings: Mapping[str, Any] | None,
        *,
        now: datetime,
        weather_events: Iterable[WeatherEvent] = (),
    ) -> ScoringContext:
        """Build from an organization's ``settings`` JSON.

        Reads ``service_area`` and ``lead_scoring.source_weights``; raises
        ValueError when either is malformed.
        """
        settings = settings or {}
        lead_scoring = settings.get("lead_scoring")
        if lead_scoring is None:
            lead_scoring = {}
        if not isinstance(lead_scoring, Mapping):
            raise ValueError("settings.lead_scoring must be an object")
        source_weights = lead_scoring.get("source_weights")
        if source_weights is None:
            source_weights = {}
        if not isinstance(source_weights, Mapping):
            raise ValueError("settings.lead_scoring.source_weights must be an object")
        return cls(
            now=now,
            service_area=ServiceArea.from_settings(settings.get("service_area")),
            source_weights=source_weights,
            weather_events=tuple(weather_events),
        )


# --- Free text ------------------------------------------------------------


def _keyword_pattern(keywords: Iterable[str]) -> str:
    """One regex alternation for ``keywords``, factored as a prefix tree.

    Python's regex engine tries alternatives one by one at every position;
    sharing prefixes ("leak", "leaked", "leaking"...) makes a miss cost one
    character test instead of one per keyword. A space in a keyword matches
    any whitespace, and every keyword tolerates a plural ending. Greedy
    optional groups make the longest keyword win at a position.
    """
    trie: dict[str, Any] = {}
    for keyword in keywords:
        node = trie
        for char in " ".join(keyword.split()):
            node = node.setdefault(char, {})
        node[""] = {}  # a keyword ends here

    def emit(node: dict[str, Any]) -> str:
        branches = [
            (r"\s+" if char == " " else re.escape(char)) + emit(child)
            for char, child in sorted(node.items())
            if char
        ]
        if "" in node:
            branches.append("(?:e?s)?")
        return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"

    return emit(trie)


def _keyword_regex(groups: Iterable[tuple[str, Iterable[str]]]) -> re.Pattern[str]:
    # Text is lower-cased before matching: IGNORECASE makes every test slower.
    body = "|".join(f"(?P<{name}>{_keyword_pattern(words)})" for name, words in groups)
    return re.compile(rf"(?<!\w)(?:{body})(?!\w)")


_LOSS_RE = _keyword_regex((cat.code, cat.keywords) for cat in w.LOSS_CATEGORIES)
_URGENCY_RE = _keyword_regex(
    (f"level{index}", level.keywords) for index, level in enumerate(w.URGENCY_LEVELS)
)
_NEGATIONS = frozenset(w.NEGATION_WORDS)
# Characters that may appear inside a word of the negation window; anything
# else (a comma, a full stop) ends the clause the negation applies to.
_WORD_CHARS_RE = re.compile(r"[\w'-]+")
# Generous room for NEGATION_WINDOW_WORDS words before a keyword.
_NEGATION_LOOKBACK_CHARS = 32 * w.NEGATION_WINDOW_WORDS


def _is_negated(text: str, start: int) -> bool:
    """Whether a negation word is among the few words just before ``start``.

    Only whitespace may separate them: "no water" and "not any water" are
    negated, "no. water" and "no, water" are not.
    """
    low = max(0, start - _NEGATION_LOOKBACK_CHARS)
    before = text[low:start]
    if not before[-1:].isspace():
        return False  # "(water" or the text start: nothing to negate with
    words = before.split()
    if low > 0 and not text[low - 1].isspace() and words:
        words = words[1:]  # the window cut a word in two
    for word in reversed(words[-w.NEGATION_WINDOW_WORDS :]):
        if word in _NEGATIONS:
            return True
        if not _WORD_CHARS_RE.fullmatch(word):
            return False
    return False


def _affirmed_keywords(pattern: re.Pattern[str], text: str) -> set[str]:
    """Names of the keyword groups found in ``text`` at least once without negation."""
    found: set[str] = set()
    for hits, match in enumerate(pattern.finditer(text), start=1):
        name = match.lastgroup
        # A group already found needs no negation check, and the hit cap
        # bounds the work on a message repeating a negated keyword.
        if name is not None and name not in found and not _is_negated(text, match.start()):
            found.add(name)
        if hits >= w.MAX_KEYWORD_HITS:
            break
    return found


@dataclass(frozen=True, slots=True)
class _TextFindings:
    loss_categories: tuple[w.LossCategory, ...]  # in LOSS_CATEGORIES order
    urgency: w.UrgencyLevel | None


def _read_text(texts: Iterable[str | None]) -> _TextFindings:
    loss_codes: set[str] = set()
    urgency_groups: set[str] = set()
    for raw in texts:
        if not raw:
            continue
        # Curly apostrophes from phone keyboards would hide "don't".
        text = raw[: w.MAX_TEXT_CHARS].lower().replace("\u2019", "'")
        loss_codes |= _affirmed_keywords(_LOSS_RE, text)
        urgency_groups |= _affirmed_keywords(_URGENCY_RE, text)
    levels = [
        level for index, level in enumerate(w.URGENCY_LEVELS) if f"level{index}" in urgency_groups
    ]
    return _TextFindings(
        loss_categories=tuple(cat for cat in w.LOSS_CATEGORIES if cat.code in loss_codes),
        urgency=levels[0] if levels else None,
    )


# --- Signals: each returns its contribution, or None when it has nothing to say.


def _loss_type(findings: _TextFindings) -> Contribution:
    categories = findings.loss_categories
    if not categories:
        return Contribution("loss_type", "no loss type described", w.NO_LOSS_SIGNAL)
    strongest = max(cat.weight for cat in categories)
    value = min(
        w.LOSS_CONTRIBUTION_CAP, strongest + w.EXTRA_LOSS_CATEGORY_BONUS * (len(categories) - 1)
    )
    described = ", ".join(cat.description for cat in categories)
    return Contribution("loss_type", f"customer describes {described}", value)


def _message_intent(
    findings: _TextFindings, reading: MessageReading | None
) -> tuple[_TextFindings, Contribution | None]:
    """The findings as the classifier's reading of the message amends them, and its say.

    A pitch, or a message meant for someone else: the loss keywords do not count, and the
    message scores low. Another request without a loss or urgency word: it scores low too.
    A loss the keywords missed: it counts as its category.
    """
    if reading is None:
        return findings, None
    verdict = w.MESSAGE_NOT_A_LOSS.get(reading.intent)
    # "Other" never overrules a loss or urgency word: a loss in few words reads much like a
    # question, and a word that adds to a lead's score must never lower it.
    if reading.intent == "other" and (findings.loss_categories or findings.urgency):
        verdict = None
    if verdict is not None:
        label, value = verdict
        evidence = ", ".join(f'"{e}"' for e in reading.evidence[:2])
        text = f"{label}: {evidence}" if evidence else label
        return _TextFindings((), None), Contribution("message_intent", text, value)
    code = w.MESSAGE_LOSS_CATEGORY.get(reading.intent)
    if code is not None and not findings.loss_categories:
        category = next(cat for cat in w.LOSS_CATEGORIES if cat.code == code)
        return _TextFindings((category,), findings.urgency), None
    return findings, None


def _urgency(findings: _TextFindings) -> Contribution | None:
    level = findings.urgency
    if level is None:
        return None
    return Contribution("urgency", f"{level.description} in message", level.weight)


def _form_speed(signals: LeadSignals) -> Contribution | None:
    started, submitted = signals.form_started_at, signals.form_submitted_at
    if started is None or submitted is None:
        return None
    seconds = (submitted - started).total_seconds()
    if seconds < 0:
        # Only a forged or broken client sends this; treat it like a bot.
        return Contribution("form_speed", "form submitted before it was started", w.FORM_BOT)
    if seconds < w.FORM_BOT_MAX_SECONDS:
        label = f"form completed in {seconds:.1f} s, bot-like"
        return Contribution("form_speed", label, w.FORM_BOT)
    if seconds <= w.FORM_FAST_MAX_SECONDS:
        return Contribution("form_speed", "fast form completion", w.FORM_FAST)
    if seconds <= w.FORM_HUMAN_MAX_SECONDS:
        return Contribution("form_speed", "form completed at human pace", w.FORM_HUMAN)
    return None


def _service_area(postal_code: str | None, area: ServiceArea | None) -> Contribution:
    placement = None
    if area is not None and postal_code is not None:
        placement = area.place(postal_code)
    if placement is None or placement.inside is None:
        return Contribution("service_area", "service area unknown", w.SERVICE_AREA_UNKNOWN)
    where = "in service area" if placement.inside else "outside service area"
    if placement.miles_from_center is not None:
        where += f", {placement.miles_from_center:.1f} mi from center"
    value = w.SERVICE_AREA_IN if placement.inside else w.SERVICE_AREA_OUT
    return Contribution("service_area", f"postal code {postal_code} {where}", value)


def _phone(raw: str | None) -> Contribution | None:
    if raw is None or not raw.strip():
        return None
    try:
        _, mobile_capable = validate_phone(raw, w.PHONE_DEFAULT_REGION)
    except ValueError:
        return Contribution("phone", "phone number invalid", w.PHONE_INVALID)
    if mobile_capable:
        return Contribution("phone", "phone validated", w.PHONE_MOBILE_CAPABLE)
    label = "phone validated, not mobile-capable"
    return Contribution("phone", label, w.PHONE_VALID_NOT_MOBILE)


def _email(raw: str | None) -> Contribution | None:
    if raw is None or not raw.strip():
        return None
    try:
        normalize_email(raw)
    except ValueError:
        return Contribution("email", "email address invalid", w.EMAIL_INVALID)
    return Contribution("email", "email validated", w.EMAIL_VALID)


def _company(signals: LeadSignals) -> Contribution | None:
    industry = (signals.industry or "").strip().lower()
    size = signals.company_size
    sized = size is not None and (not isinstance(size, str) or bool(size.strip()))
    if industry not in w.COMMERCIAL_INDUSTRIES and not sized:
        return None
    if signals.company and signals.company.strip():
        label = "company named for commercial lead"
        return Contribution("company", label, w.COMMERCIAL_COMPANY_PRESENT)
    label = "commercial lead without company name"
    return Contribution("company", label, w.COMMERCIAL_COMPANY_MISSING)


_SOURCE_JUNK_RE = re.compile(r"[^a-z0-9]+")
_MAX_SOURCE_CHARS = 40


def normalize_source(raw: str | None) -> str | None:
    """Canonical source key (``"Google Ads"`` -> ``"google_ads"``), None if blank.

    Only ``[a-z0-9_]`` survives, so a source can never inject separators into
    the reasoning text.
    """
    if raw is None:
        return None
    key = _SOURCE_JUNK_RE.sub("_", raw.strip().lower()).strip("_")
    return key[:_MAX_SOURCE_CHARS] or None


def _source(raw: str | None, overrides: Mapping[str, float]) -> Contribution:
    key = normalize_source(raw) or w.UNLISTED_SOURCE
    if key in overrides:
        label = f"lead source {key}, organization weight"
        return Contribution("source", label, overrides[key])
    if key in w.DEFAULT_SOURCE_WEIGHTS:
        return Contribution("source", f"lead source {key}", w.DEFAULT_SOURCE_WEIGHTS[key])
    unlisted = w.UNLISTED_SOURCE
    value = overrides.get(unlisted, w.DEFAULT_SOURCE_WEIGHTS[unlisted])
    return Contribution("source", f"lead source {key}, not rated", value)


def _weather(
    postal_code: str | None, events: Iterable[WeatherEvent], now: datetime
) -> Contribution | None:
    if postal_code is None:
        return None
    point = geo.resolve_postal_code(postal_code)
    oldest = now - timedelta(days=w.WEATHER_RECENT_DAYS)
    affecting = (
        event
        for event in events
        if oldest <= event.occurred_at <= now and event.affects(postal_code, point)
    )
    # Strongest weight first; between equal weights, the enum order decides.
    best = min(
        affecting,
        key=lambda e: (-w.WEATHER_EVENT_WEIGHTS[e.type.value], _WEATHER_RANK[e.type]),
        default=None,
    )
    if best is None:
        return None
    # The wording the product uses: the lead lies in the event's radius.
    label = f"recent {best.type.value} event in service radius"
    return Contribution("weather", label, w.WEATHER_EVENT_WEIGHTS[best.type.value])


def _contact_name(raw: str | None) -> Contribution | None:
    if raw is not None and raw.strip():
        return None
    return Contribution("contact_name", "no contact name", w.NAME_MISSING)


def _sort_key(contribution: Contribution) -> tuple[float, int]:
    return (-abs(contribution.value), _SIGNAL_RANK[contribution.code])


def _to_score(total: float) -> int:
    # Rounding to 6 places first drops float noise (0.285 * 100 is
    # 28.499999...), then halves round up.
    points = math.floor(round(total * 100, 6) + 0.5)
    return min(100, max(0, points))


def score_lead(signals: LeadSignals, context: ScoringContext) -> ScoreResult:
    """Score a lead from its signals; same input, same result.

    Every non-zero contribution appears in ``reasoning`` with its sign and two
    decimals, ordered by absolute value (ties by :data:`SIGNAL_CODES` order).
    ``timeline`` is the urgency bucket found in the text ("immediate",
    "this_week") and ``pain_points`` the detected loss types, both None when
    the text says nothing about them.
    """
    findings = _read_text((signals.message, signals.pain_points))
    findings, intent = _message_intent(findings, read_message(signals.message))
    postal_code = geo.normalize_postal_code(signals.postal_code)
    candidates = (
        intent,
        _weather(postal_code, context.weather_events, context.now),
        _loss_type(findings),
        _urgency(findings),
        _form_speed(signals),
        _service_area(postal_code, context.service_area),
        _phone(signals.phone),
        _email(signals.email),
        _company(signals),
        _source(signals.source, context.source_weights),
        _contact_name(signals.name),
    )
    contributions = tuple(
        sorted((c for c in candidates if c is not None and c.value != 0), key=_sort_key)
    )
    total = w.BASE_SCORE + math.fsum(c.value for c in contributions)
    reasoning = "; ".join(c.text for c in contributions) or "no scoring signal found"
    pain_points = ", ".join(cat.description for cat in findings.loss_categories)
    return ScoreResult(
        score=_to_score(total),
        contributions=contributions,
        reasoning=reasoning[:1].upper() + reasoning[1:],
        timeline=findings.urgency.timeline if findings.urgency else None,
        pain_points=(pain_points[:1].upper() + pain_points[1:]) or None,
    )
