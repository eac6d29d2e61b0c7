"""Every weight, threshold and vocabulary of the lead-scoring engine.

A lead's score is ``clamp(round(100 * (BASE_SCORE + sum of contributions)), 0, 100)``.
Each contribution is a signed fraction of the 0-1 scale, so ``+0.10`` here
is worth ten points. Tune the model by editing this file only; the engine
(:mod:`eal.leads.scoring`) holds no numbers of its own. The tests check
orderings (an in-area lead never scores below an out-of-area one...), not
these exact values, so a retune keeps them green as long as the signs and
orderings documented next to each group still hold.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import NamedTuple

#: Starting point before any signal: a lead about which nothing is known.
BASE_SCORE = 0.30


# --- Loss type and urgency, from the customer's own words -----------------


class LossCategory(NamedTuple):
    """A kind of loss and the words that reveal it."""

    code: str
    description: str  # used in reasoning and in the extracted pain points
    weight: float  # must be > 0
    keywords: tuple[str, ...]  # lower case; spaces match any whitespace


# When two categories could match at the same place in the text, the earlier
# one wins: "black water" is sewage, so sewage is listed before water.
LOSS_CATEGORIES: tuple[LossCategory, ...] = (
    LossCategory(
        "sewage",
        "sewage/biohazard",
        0.20,
        (
            "sewage", "raw sewage", "sewer", "sewer backup", "septic", "biohazard",
            "black water", "blackwater", "crime scene", "trauma scene", "toilet overflow",
            "overflowing toilet",
        ),
    ),
    LossCategory(
        "fire",
        "fire/smoke damage",
        0.18,
        (
            "fire", "house fire", "kitchen fire", "smoke", "smoke damage", "soot",
            "burned", "burnt", "flames", "charred", "scorched",
        ),
    ),
    LossCategory(
        "water",
        "water damage",
        0.16,
        (
            "water", "standing water", "water damage", "water heater", "flood",
            "flooded", "flooding", "leak", "leaking", "leaked", "leaky", "burst",
            "burst pipe", "pipe burst", "frozen pipe", "ceiling", "drip", "dripping",
            "soaked", "wet", "overflow", "overflowed", "overflowing", "sump pump",
            "moisture", "damp", "puddle",
        ),
    ),
    LossCategory(
        "mold",
        "mold",
        0.12,
        ("mold", "mould", "moldy", "mouldy", "black mold", "mildew", "musty", "fungus"),
    ),
    LossCategory(
        "storm",
        "storm damage",
        0.12,
        (
            "storm", "hail", "hailstorm", "hurricane", "tornado", "wind damage",
            "fallen tree", "tree fell", "roof damage", "lightning",
        ),
    ),
    LossCategory(
        "hazmat",
        "hazardous materials",
        0.08,
        ("asbestos", "lead paint", "meth lab", "hoarding", "hoarder"),
    ),
)  # fmt: skip

#: Each further loss category after the strongest adds this much...
EXTRA_LOSS_CATEGORY_BONUS = 0.03
#: ...and the whole loss contribution never exceeds this.
LOSS_CONTRIBUTION_CAP = 0.25
#: No loss word at all: most likely not a restoration job (must be < 0).
NO_LOSS_SIGNAL = -0.15


# --- What the message is, read by the embedded text classifier (eal.ai.calls) -----

#: How sure the classifier must be for its verdict to count, by verdict. A pitch or
#: another request that is read as a loss's opposite would lose a real lead, so the bar is
#: high; a loss the keywords missed only adds what the keywords would have.
MESSAGE_MIN_CONFIDENCE = MappingProxyType(
    {
        "sales_pitch": 0.9,
        "other": 0.9,
        "water": 0.6,
        "fire": 0.6,
        "mold": 0.6,
        "biohazard": 0.6,
    }
)
#: Only the start of a message is read by the classifier: forms are short, and a pitch
#: says what it is early.
MESSAGE_MAX_CHARS = 600
#: Messages shorter than this many words are left to the keywords ("Please call me back"
#: says nothing a model could read).
MESSAGE_MIN_WORDS = 6
#: A message that is not a new loss scores low whatever its keywords say (each must be
#: < NO_LOSS_SIGNAL). A pitch's loss keywords do not count; "other" counts only when the
#: message names no loss at all (a loss in few words can read like a question). A form
#: message is never a wrong number: that verdict is left out.
MESSAGE_NOT_A_LOSS = MappingProxyType(
    {
        "sales_pitch": ("message reads as a sales pitch", -0.45),
        "other": ("message asks for something other than a new loss", -0.25),
    }
)
#: A loss the keywords missed (another language, typos) counts as this category.
MESSAGE_LOSS_CATEGORY = MappingProxyType(
    {"water": "water", "fire": "fire", "mold": "mold", "biohazard": "sewage"}
)


class UrgencyLevel(NamedTuple):
    """A timeline bucket and the words that reveal it."""

    timeline: str  # value stored in the lead's ``timeline`` field
    description: str
    weight: float  # must be > 0; the strongest level found counts
    keywords: tuple[str, ...]


# Strongest first: when several levels match, the first listed one sets the
# timeline and the contribution.
URGENCY_LEVELS: tuple[UrgencyLevel, ...] = (
    UrgencyLevel(
        "immediate",
        "urgent wording",
        0.12,
        (
            "emergency", "urgent", "urgently", "asap", "a.s.a.p", "right now", "right away",
            "immediately", "as soon as possible", "tonight", "today", "this morning",
            "this afternoon", "this evening", "still leaking", "still flooding",
        ),
    ),
    UrgencyLevel(
        "this_week",
        "near-term timing",
        0.05,
        ("tomorrow", "this week", "this weekend", "next few days", "soon", "quickly"),
    ),
)  # fmt: skip

#: A keyword preceded by one of these words within NEGATION_WINDOW_WORDS words
#: (same sentence, no punctuation in between) does not count: "no water
#: damage", "not an emergency", "without any mold".
NEGATION_WORDS: tuple[str, ...] = (
    "no", "not", "never", "without", "isn't", "isnt", "wasn't", "wasnt", "aren't",
    "weren't", "don't", "dont", "doesn't", "doesnt", "didn't", "didnt", "haven't",
    "hasn't", "hadn't",
)  # fmt: skip
NEGATION_WINDOW_WORDS = 2

#: Only this many characters of each free-text field are read, and only this
#: many keyword hits per field are examined, which bounds the scoring time of
#: a hostile message (real ones stay far below both).
MAX_TEXT_CHARS = 2000
MAX_KEYWORD_HITS = 100


# --- Service area ---------------------------------------------------------

#: Ordering that must hold: SERVICE_AREA_OUT < SERVICE_AREA_UNKNOWN <= SERVICE_AREA_IN.
SERVICE_AREA_IN = 0.10
SERVICE_AREA_OUT = -0.20
#: No postal code on the lead, no service area configured, or a code that
#: cannot be placed: no contribution (and so nothing in the reasoning).
SERVICE_AREA_UNKNOWN = 0.0


# --- Contact details ------------------------------------------------------

#: Valid number of type MOBILE or FIXED_LINE_OR_MOBILE (can receive SMS).
PHONE_MOBILE_CAPABLE = 0.10
#: Valid number that cannot be mobile (toll-free, fixed line...).
PHONE_VALID_NOT_MOBILE = 0.04
#: A phone number was given but is not a valid one. No phone: no contribution.
PHONE_INVALID = -0.10
#: Region assumed for numbers written without a ``+`` country prefix.
PHONE_DEFAULT_REGION = "US"

EMAIL_VALID = 0.05
#: An email address was given but is malformed. No email: no contribution.
EMAIL_INVALID = -0.05

#: No contact name at all.
NAME_MISSING = -0.03

#: Industries (lower case) that make a lead commercial; a ``company_size``
#: also does.
COMMERCIAL_INDUSTRIES: tuple[str, ...] = ("commercial",)
COMMERCIAL_COMPANY_PRESENT = 0.06
COMMERCIAL_COMPANY_MISSING = -0.08


# --- Source quality -------------------------------------------------------

#: Defaults; ``settings.lead_scoring.source_weights`` of an organization
#: overrides them source by source. Sources are matched after lower-casing
#: and turning spaces and hyphens into underscores.
DEFAULT_SOURCE_WEIGHTS = MappingProxyType(
    {
        "referral": 0.12,
        "insurance_agent": 0.12,
        "google_lsa": 0.10,
        "website": 0.05,
        "google_ads": 0.05,
        "facebook_ads": 0.03,
        "purchased_list": -0.08,
        "unknown": -0.05,
    }
)
#: Weight key used for a missing source and for any source with no weight.
UNLISTED_SOURCE = "unknown"
#: Largest absolute weight an organization may give a source.
MAX_SOURCE_WEIGHT = 0.5


# --- Form completion speed ------------------------------------------------

#: Under this many seconds between form start and submit: a bot.
FORM_BOT_MAX_SECONDS = 3.0
FORM_BOT = -0.30
#: From FORM_BOT_MAX_SECONDS up to this: a human in a hurry.
FORM_FAST_MAX_SECONDS = 300.0
FORM_FAST = 0.08
#: Up to this: a human; longer (an abandoned tab) is neutral.
FORM_HUMAN_MAX_SECONDS = 1800.0
FORM_HUMAN = 0.04


# --- Recent severe weather ------------------------------------------------

#: An event counts if it occurred at most this many days before scoring...
WEATHER_RECENT_DAYS = 7
#: ...and lists the lead's postal code or one within this many miles of it.
WEATHER_NEARBY_MILES = 10.0
#: Per event type (all > 0); the strongest matching event counts once.
WEATHER_EVENT_WEIGHTS = MappingProxyType(
    {
        "storm": 0.18,
        "freeze": 0.15,
        "flood": 0.20,
        "hail": 0.12,
        "hurricane": 0.20,
        "tornado": 0.18,
        "wildfire": 0.15,
    }
)
