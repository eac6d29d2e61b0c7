"""Read an online review: its sentiment from the text and the star rating, offline.

The phrase bank (``data/review_phrases.json``) and VADER's lexicon are loaded once per
process on first use (some 30 ms).

Sentiment (`analyze`) combines VADER on the text with the star rating:

- The text is cut into clauses at sentence ends and before "but", "however", "although",
  "though", "except" (and Spanish "pero", "aunque", "sin embargo"), and VADER scores each
  clause and the whole text. Words that describe the disaster rather than the service
  ("fire", "damage", "stressful", "devastated"...) count for nothing, so "they saved us
  after a devastating fire" is not a complaint; a few Spanish words are added ("excelente",
  "rápido", "pésimo"...), as VADER only knows English.
- A clause is a complaint when it names a concern from the phrase bank (delays, no call
  back, still wet, a mess left behind, rudeness, damage by the crew, overcharging, "would
  not recommend"...) that is not negated ("never late" is praise), or when VADER scores it
  at -0.33 or below. It is praise when it names no concern and VADER scores it at 0.3 or
  above or it names a quality of the work ("on time", "spotless", "professional": words
  without sentiment for VADER). Praise and a concern in one clause ("Great job leaving my
  basement wet for a week") is sarcasm and counts as a complaint only.
- The rating decides where it is given (or, missing, where the text says "2 stars", "4/5",
  "zero stars"): 1-2 stars is negative whatever the words (polite or sarcastic praise does
  not outweigh the stars); 3 stars is mixed with a complaint and neutral without; 4-5
  stars is mixed with a complaint and positive without.
- Without a rating the text decides: praise and a complaint is mixed (negative when there
  is sarcasm: its other praise is not to be trusted either), a complaint alone negative,
  praise alone positive, otherwise VADER's compound (>= 0.05 positive, <= -0.05 negative,
  else neutral).
"""

from __future__ import annotations

import json
import re
import textwrap
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field
from vaderSentiment.vaderSentiment import (  # type: ignore[import-untyped]
    SentimentIntensityAnalyzer,
)

from eal.ai.text import fold

Sentiment = Literal["positive", "neutral", "negative", "mixed"]
Tone = Literal["warm-professional", "formal", "friendly", "concise"]
TONES: tuple[Tone, ...] = get_args(Tone)
DATA_PACKAGE = "eal.ai"
DATA_RESOURCE = "data/review_phrases.json"
DATA_FORMAT = "eal.review_phrases/1"


MAX_CHARS = 5000
#: The compound of the whole text reads this much of it: VADER's negation check makes its
#: cost grow with the square of the text (5,000 characters take some 25 ms, 1,500 about 2),
#: and the clauses, each scored on its own, still read all of it.
COMPOUND_CHARS = 1500
#: A longer clause (a run-on sentence) is read in pieces of at most this many characters,
#: for the same reason.
CLAUSE_CHARS = 300
#: VADER scores of a clause that make it praise or a complaint. Lukewarm words stay between
#: them: "nothing special" scores -0.31, "not good" -0.34, "no complaints" +0.31.
PRAISE_AT = 0.3
COMPLAINT_AT = -0.33

# Personal data is removed before the review is read, so nothing of it can reach a reply
# (technicians' names are the only words copied from the text).
_PII = [
    re.compile(r"\b(?:https?://|www\.)\S+", re.IGNORECASE),
    re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
    re.compile(r"(?<![\w-])(?:\+?1[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}(?!\w)"),
    re.compile(
        r"\b\d{1,6}\s+(?:[NSEW]\.?\s+)?(?:[\w'-]+\s+){0,4}?(?:street|st|avenue|ave|road|rd"
        r"|drive|dr|lane|ln|boulevard|blvd|court|ct|way|place|pl|circle|cir|terrace|ter"
        r"|parkway|pkwy|highway|hwy|trail|trl|loop|calle|avenida)\b\.?(?:,?\s*(?:apt|unit|suite|ste|#)\s*[\w-]+)?",
        re.IGNORECASE,
    ),
    re.compile(
        r"\b(?:claim|policy|job|invoice|file|ticket|case|account|acct|reference|ref|work order"
        r"|order|po)\s*(?:#|no\.?|number|num)?\s*[:#]?\s*(?=[\w-]*\d)[a-z0-9][\w-]{3,}",
        re.IGNORECASE,
    ),
    re.compile(r"#\s*\d{3,}"),
    re.compile(r"\b\d{5,}(?:-\d+)*\b"),
]
_CLAUSE = re.compile(
    r"[.!?;\n]+\s*|,?\s+(?=(?:but|however|although|though|except|pero|aunque|sin embargo)\b)",
    re.IGNORECASE,
)
_NEGATORS = frozenset(
    ["never", "not", "no", "didn't", "didnt", "without", "wasn't", "wasnt", "weren't", "werent",
     "isn't", "isnt", "nunca", "sin"]
)  # fmt: skip
_PHRASE_BREAK = re.compile(r"\b(?:and|or|but|y|o|pero)\b|[,;:]")
_STARS = re.compile(
    r"(?<!\w)(?:(?P<digit>[1-5])(?:\.0)?|(?P<word>one|two|three|four|five|un|una|dos|tres|cuatro"
    r"|cinco))[\s-]*(?:/\s*5\s*|out of (?:5|five)\s*)?(?:stars?|estrellas?)(?!\w)"
    r"|(?<![\w/])(?P<slash>[1-5])\s*/\s*5(?!\w)"
    r"|(?<!\w)(?P<zero>zero|0|no|cero)\s+(?:stars?|estrellas?)(?!\w)"
)
_STAR_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "un": 1, "una": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5,
}  # fmt: skip
QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "`": "'"})

# Technicians are named by a role word before the name ("our tech Mike"), by thanks
# ("shout-out to Sara") or by what they did ("Mike and his crew", "Ana was amazing").
_NAME = r"[A-Z][a-z\u00e0-\u00ff]+(?:[A-Z][a-z\u00e0-\u00ff]+)?(?:-[A-Z][a-z\u00e0-\u00ff]+)?"
_STAFF = [
    re.compile(
        r"(?i:\b(?:tech|technician|crew (?:lead|leader|chief)|project manager|pm|supervisor"
        r"|estimator|foreman|specialist|manager|owner|rep|representative|coordinator|named"
        r"|ask for|thanks to|thank you to|thank you|thanks|shout[- ]?out to|kudos to|props to"
        r"|t[e\u00e9]cnico|gracias a)[,:]?\s+)"
        rf"({_NAME})(?:\s+[A-Z][\w.]*)?(?:\s+(?i:and|&|y)\s+({_NAME}))?\b"
    ),
    re.compile(
        rf"\b({_NAME})(?:\s+[A-Z][\w.]*)?\s+(?i:and|&)\s+({_NAME})(?:\s+[A-Z][\w.]*)?\s+"
        r"(?i:were|did|came|showed|arrived|worked|explained|kept|made|went|are|got|handled"
        r"|took)\b"
    ),
    re.compile(
        rf"\b({_NAME})(?:\s+[A-Z][\w]*\.?)?\s+(?i:and (?:his|her|their) (?:crew|team|guys"
        r"|helpers?|partner)|(?:was|is) (?:so |very |super |extremely |incredibly |really )?"
        r"(?:great|amazing|awesome|fantastic|professional|wonderful|excellent|knowledgeable"
        r"|helpful|kind|patient|thorough|friendly|courteous|polite|the best|a pleasure"
        r"|a lifesaver|outstanding|phenomenal|incredible|top notch|excelente|muy amable)"
        r"|did an? (?:great|amazing|fantastic|excellent|wonderful|awesome|outstanding"
        r"|incredible) job|went above|explained|kept (?:us|me)|took (?:great )?care"
        r"|walked (?:us|me)|made (?:the|this|it|us|me|everything))\b"
    ),
]


class SentimentResult(BaseModel):
    """How a review reads: the verdict, VADER's compound score for the text, and why."""

    model_config = ConfigDict(frozen=True)

    sentiment: Sentiment
    compound: float = Field(ge=-1.0, le=1.0, description="VADER compound score of the text.")
    reasons: tuple[str, ...] = Field(description="Short evidence lines; never quote the review.")


# --- the phrase bank ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Entry:
    """One catalogue entry: a specific of the work or a concern, and how to match it."""

    key: str
    kind: Literal["service", "quality", "concern"]
    label: str | None
    phrase: str | None
    pattern: re.Pattern[str]


@dataclass(frozen=True, slots=True)
class PhraseBank:
    """The compiled phrase bank: catalogue entries, reply phrases per tone, lexicon changes."""

    specifics: tuple[Entry, ...]
    concerns: tuple[Entry, ...]
    not_names: frozenset[str]
    fragments: Mapping[str, str]
    tones: Mapping[str, Mapping[str, tuple[str, ...]]]
    lexicon: Mapping[str, float]


@cache
def phrase_bank() -> PhraseBank:
    """The shipped phrase bank, read and compiled once."""
    raw = resources.files(DATA_PACKAGE).joinpath(DATA_RESOURCE).read_text("utf-8")
    data: dict[str, Any] = json.loads(raw)
    if data.get("format") != DATA_FORMAT:
        raise ValueError(f"{DATA_RESOURCE} is not {DATA_FORMAT}")
    specifics = tuple(_entry(item, item["kind"]) for item in data["specifics"])
    concerns = tuple(_entry(item, "concern") for item in data["concerns"])
    # Words of the catalogue are never technicians' names ("Drying was great").
    catalogue_words = {
        word
        for item in (*data["specifics"], *data["concerns"])
        for keyword in item["keywords"]
        for word in re.findall(r"[a-z]+", keyword)
    }
    tones = {
        tone: {slot: tuple(variants) for slot, variants in slots.items()}
        for tone, slots in data["tones"].items()
    }
    missing = set(TONES) - set(tones)
    if missing:
        raise ValueError(f"{DATA_RESOURCE} lacks tones {sorted(missing)}")
    lexicon = {**data["lexicon"]["overrides"], **data["lexicon"]["spanish"]}
    return PhraseBank(
        specifics=specifics,
        concerns=concerns,
        not_names=frozenset(data["not_names"]) | catalogue_words,
        fragments=dict(data["fragments"]),
        tones=tones,
        lexicon={str(word): float(value) for word, value in lexicon.items()},
    )


def _entry(item: Mapping[str, Any], kind: Literal["service", "quality", "concern"]) -> Entry:
    alternatives = [
        re.escape(keyword[:-1]) + r"\w*" if keyword.endswith("*") else re.escape(keyword)
        for keyword in sorted(item["keywords"], key=len, reverse=True)
    ]
    alternatives += list(item.get("patterns", ()))
    pattern = re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)")
    return Entry(item["key"], kind, item.get("label"), item.get("phrase"), pattern)


@cache
def _analyzer() -> Any:
    """VADER's analyzer with the bank's lexicon changes, built once (some 30 ms)."""
    analyzer = SentimentIntensityAnalyzer()
    analyzer.lexicon.update(phrase_bank().lexicon)
    return analyzer


def _compound(text: str) -> float:
    """VADER's compound score of `text` with accents removed (case kept: CAPS is emphasis)."""
    plain = "".join(
        ch
        for ch in unicodedata.normalize("NFKD", text.translate(QUOTES))
        if not unicodedata.combining(ch)
    )
    return float(_analyzer().polarity_scores(plain)["compound"])


# --- reading a review -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Clause:
    """One clause of a review: VADER's score and the specifics, concerns and staff it names."""

    compound: float
    specifics: tuple[Entry, ...]
    concerns: tuple[Entry, ...]
    names: tuple[str, ...]

    @property
    def complaint(self) -> bool:
        return bool(self.concerns) or self.compound <= COMPLAINT_AT

    @property
    def praise(self) -> bool:
        # "On time and tidy" is praise that VADER does not see: its words carry no sentiment.
        quality = any(entry.kind == "quality" for entry in self.specifics)
        return (self.compound >= PRAISE_AT or quality) and not self.concerns

    @property
    def sarcastic(self) -> bool:
        return self.compound >= PRAISE_AT and bool(self.concerns)


@dataclass(frozen=True, slots=True)
class Reading:
    """A review's sentiment and the clauses it was read from."""

    result: SentimentResult
    clauses: tuple[Clause, ...]


def scrub(text: str) -> str:
    """`text` without URLs, e-mail addresses, phone numbers, street addresses or claim numbers."""
    for pattern in _PII:
        text = pattern.sub(" ", text)
    return text


def analyze(text: str, rating: int | None) -> SentimentResult:
    """The sentiment of a review from its text and its star rating (1-5, or None)."""
    return read_review(text, rating).result


def read_review(text: str, rating: int | None, exclude_names: Iterable[str] = ()) -> Reading:
    """The sentiment of a review and its clauses; `exclude_names` are never staff names."""
    if rating is not None and not 1 <= rating <= 5:
        raise ValueError(f"a star rating is 1 to 5, not {rating}")
    clean = scrub(text[:MAX_CHARS])
    bank = phrase_bank()
    excluded = {word.casefold() for word in exclude_names}
    clauses = tuple(
        _clause(piece, bank, excluded)
        for part in _CLAUSE.split(clean)
        if part and part.strip()
        for piece in _pieces(part)
    )
    compound = round(_compound(clean[:COMPOUND_CHARS]), 4) if clean.strip() else 0.0
    reasons: list[str] = []
    if rating is None:
        rating = _stars_in(clean)
        if rating is not None:
            reasons.append(f"{rating}-star rating read from the text")
    else:
        reasons.append(f"{rating}-star rating")
    praise = any(clause.praise for clause in clauses)
    complaint = any(clause.complaint for clause in clauses)
    labels = unique(entry.label for clause in clauses for entry in clause.concerns)
    if complaint:
        reasons.append("complaint: " + ", ".join(labels) if labels else "negative wording")
    sarcasm = any(clause.sarcastic for clause in clauses)
    if sarcasm:
        reasons.append("praise and a complaint in one sentence (sarcasm)")
    if praise:
        reasons.append("praise in the text")
    if rating is not None and rating <= 2 and (praise or compound >= 0.05):
        stars = "1 star" if rating == 1 else f"{rating} stars"
        reasons.append(f"positive wording does not outweigh {stars}")
    sentiment = _verdict(
        rating, praise=praise, complaint=complaint, sarcasm=sarcasm, compound=compound
    )
    reasons.append(f"text compound {compound:+.2f}")
    result = SentimentResult(sentiment=sentiment, compound=compound, reasons=tuple(reasons))
    return Reading(result, clauses)


def _verdict(
    rating: int | None, *, praise: bool, complaint: bool, sarcasm: bool, compound: float
) -> Sentiment:
    """The rules of the module docstring: the stars decide where there are any."""
    if rating is not None:
        if rating <= 2:
            return "negative"
        if complaint:
            return "mixed"
        return "neutral" if rating == 3 else "positive"
    if praise and complaint and not sarcasm:
        return "mixed"
    if complaint:
        return "negative"
    if praise or compound >= 0.05:
        return "positive"
    return "negative" if compound <= -0.05 else "neutral"


def _pieces(part: str) -> list[str]:
    if len(part) <= CLAUSE_CHARS:
        return [part]
    return textwrap.wrap(part, CLAUSE_CHARS, break_long_words=False, break_on_hyphens=False)


def _clause(text: str, bank: PhraseBank, excluded: set[str]) -> Clause:
    folded = fold(text)
    return Clause(
        compound=_compound(text),
        specifics=_found(bank.specifics, folded),
        concerns=_found(bank.concerns, folded),
        names=_staff_names(text, bank, excluded),
    )


def _found(entries: Sequence[Entry], folded: str) -> tuple[Entry, ...]:
    """The entries named in folded text, in order of appearance, negated mentions left out."""
    hits: list[tuple[int, Entry]] = []
    for entry in entries:
        for match in entry.pattern.finditer(folded):
            if not _negated(folded[: match.start()]):
                hits.append((match.start(), entry))
                break
    return tuple(entry for _, entry in sorted(hits, key=lambda hit: hit[0]))


def _negated(before: str) -> bool:
    """Whether a mention is negated: a negator among the three words before it, within the
    same phrase ("not a single delay", but not "never late and left a mess")."""
    phrase = _PHRASE_BREAK.split(before)[-1]
    return not _NEGATORS.isdisjoint(phrase.split()[-3:])


def _staff_names(text: str, bank: PhraseBank, excluded: set[str]) -> tuple[str, ...]:
    lexicon = _analyzer().lexicon
    found: list[tuple[int, str]] = []
    for pattern in _STAFF:
        for match in pattern.finditer(text):
            for group in range(1, (pattern.groups or 0) + 1):
                name = match.group(group)
                if name is None:
                    continue
                key = name.casefold()
                if key not in bank.not_names and key not in lexicon and key not in excluded:
                    found.append((match.start(group), name))
    return tuple(unique(name for _, name in sorted(found)))


def _stars_in(text: str) -> int | None:
    """The star rating a review states in its text ("2 stars", "4/5", "zero stars"), last one."""
    rating = None
    for match in _STARS.finditer(fold(text)):
        if match["zero"]:
            rating = 1
        elif match["word"]:
            rating = _STAR_WORDS[match["word"]]
        else:
            rating = int(match["digit"] or match["slash"])
    return rating


def unique(items: Iterable[str | None]) -> list[str]:
    """The non-empty items, first occurrence each, in order."""
    seen: dict[str, None] = {}
    for item in items:
        if item:
            seen.setdefault(item, None)
    return list(seen)
