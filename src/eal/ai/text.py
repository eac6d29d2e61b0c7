"""Text normalisation and features for the embedded classifiers.

Every embedded model reads text through `features`, in training and at run time, so the two
can never disagree. The steps, all deterministic:

1. `normalize`: case folded, accents folded ("envíen" -> "envien": people type Spanish
   without them), curly quotes straightened, and URLs, e-mail addresses, phone numbers and
   other numbers replaced by the placeholder tokens `_url_`, `_email_`, `_phone_`, `_num_`
   (the number itself never says what a message means; that there is one may).
2. `tokens`: words (apostrophes kept inside them), the placeholders, and "?" and "!",
   which carry intent ("who is this?").
3. `features`: word unigrams and bigrams (`w:` prefix) plus a token for the reply's length
   in words (`w:_len1_` ... `w:_len6_`, six and more: "yes" alone and a long mail that
   contains "yes" are different things), and character 3-5-grams of each word padded with
   spaces (`c:` prefix; they catch typos, plurals and Spanglish spellings that a word
   vocabulary misses). Counts are weighted 1 + log(count); the word and the character
   groups are each scaled to unit length and then share the vector equally, so the many
   n-grams of a word cannot drown the word itself.

Features are named strings looked up in the model's vocabulary, not hashed: the model file
stays readable (a weight is attached to "w:remove me", not to bucket 48213), there are no
collisions, and a feature the model never saw simply counts for nothing. The vocabulary is
every feature of the training texts (some 19,000 for the reply model; rare words such as
"yup" or "órale" are exactly the ones worth keeping).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain
from operator import mul
from typing import Any

URL = "_url_"
EMAIL = "_email_"
PHONE = "_phone_"
NUMBER = "_num_"

_URL = re.compile(r"\b(?:https?://|www\.)\S+", re.IGNORECASE)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_PHONE = re.compile(r"(?<!\w)\+?1?[\s.-]?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}(?!\w)")
_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*(?:st|nd|rd|th|o|a)?\b")
_TOKEN = re.compile(r"_(?:url|email|phone|num)_|[a-z0-9]+(?:'[a-z]+)*|[?!]")
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "`": "'"})


@dataclass(frozen=True, slots=True)
class FeatureConfig:
    """Which features a model reads; stored in the model file with its weights."""

    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (3, 5)
    #: Text past this many characters is ignored: long mails say what they mean early on.
    max_chars: int = 3000

    def to_json(self) -> dict[str, Any]:
        """The config as the model file stores it."""
        return {
            "word_ngrams": list(self.word_ngrams),
            "char_ngrams": list(self.char_ngrams),
            "max_chars": self.max_chars,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FeatureConfig:
        """Read the config back from a model file."""
        low_w, high_w = data["word_ngrams"]
        low_c, high_c = data["char_ngrams"]
        return cls((int(low_w), int(high_w)), (int(low_c), int(high_c)), int(data["max_chars"]))


def fold(text: str) -> str:
    """Lower-case with accents removed and quotes straightened ("¿Quién?" -> "¿quien?")."""
    folded = text.translate(_QUOTES).casefold()
    if folded.isascii():
        return folded  # nothing to decompose (most messages): the same result, ~5x sooner
    decomposed = unicodedata.normalize("NFKD", folded)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def normalize(text: str) -> str:
    """Folded text with URLs, e-mails, phone numbers and numbers replaced by placeholders."""
    text = _URL.sub(f" {URL} ", text)
    text = _EMAIL.sub(f" {EMAIL} ", text)
    text = _PHONE.sub(f" {PHONE} ", text)
    text = fold(text)
    text = _NUMBER.sub(f" {NUMBER} ", text)
    return " ".join(text.split())


def tokens(normalized: str) -> list[str]:
    """The words, placeholders and ?/! of normalized text, in order."""
    return _TOKEN.findall(normalized)


def counts(text: str, config: FeatureConfig | None = None) -> tuple[Counter[str], Counter[str]]:
    """How often each feature of `text` occurs: the word group and the character group.

    `features` weighs these; a model can also score them as they are
    (`LinearModel.predict_counts`), without building the weighted vector.
    """
    config = config or FeatureConfig()
    words = tokens(normalize(text[: config.max_chars]))
    # Counted by Counter.update over generators (its loop is in C); the order of
    # first sight is that of the n-grams in the text, shortest n first.
    word_counts: Counter[str] = Counter()
    low, high = config.word_ngrams
    for n in range(low, high + 1):
        if n == 1:
            word_counts.update(map("w:".__add__, words))
        else:
            word_counts.update("w:" + " ".join(words[i : i + n]) for i in range(len(words) - n + 1))
    if words:
        word_counts[f"w:_len{min(len(words), 6)}_"] += 1
    low, high = config.char_ngrams
    char_counts: Counter[str] = Counter(
        chain.from_iterable(
            _char_ngrams(word, low, high)
            for word in words
            if not word.startswith("_") and len(word) != 1
        )
    )
    return word_counts, char_counts


def features(text: str, config: FeatureConfig | None = None) -> dict[str, float]:
    """The weighted features of `text`: sublinear counts, word and n-gram halves of unit length."""
    return weighted(counts(text, config))


def group_share(groups: tuple[Counter[str], Counter[str]]) -> float:
    """The length each non-empty group is scaled to: they share the unit vector equally."""
    present = sum(1 for group in groups if group)
    return 1.0 / math.sqrt(present) if present else 0.0


def weighted(groups: tuple[Counter[str], Counter[str]]) -> dict[str, float]:
    """The feature vector of the counts `counts` gives (see the module)."""
    share = group_share(groups)
    vector: dict[str, float] = {}
    for group in groups:
        if group:
            vector.update(_unit(group, share))
    return vector


def sublinear(count: int) -> float:
    """A feature's weight before scaling: 1 + log(count)."""
    return _SUBLINEAR[count] if count < len(_SUBLINEAR) else 1.0 + math.log(count)


# Words recur from one text to the next, and cutting a word into its n-grams was most of
# the cost of `features` (a lead's message: 0.35 of 0.5 ms); remembered per word, a
# message's features cost about a third. A few thousand words hold a few MB at most.
@lru_cache(maxsize=8192)
def _char_ngrams(word: str, low: int, high: int) -> tuple[str, ...]:
    """The `c:` features of one word, padded with spaces, in order (repeats kept)."""
    padded = f" {word} "
    return tuple(
        "c:" + padded[i : i + n] for n in range(low, high + 1) for i in range(len(padded) - n + 1)
    )


#: 1 + log(count) for the small counts nearly every feature has.
_SUBLINEAR = tuple(1.0 + math.log(count) if count else 0.0 for count in range(16))


def _unit(counts: Counter[str], share: float = 1.0) -> dict[str, float]:
    """Counts weighted 1 + log(count), scaled to length `share` (L2)."""
    weights = list(map(sublinear, counts.values()))
    norm = math.sqrt(sum(map(mul, weights, weights)))
    if not norm:
        return {}
    scale = share / norm
    return dict(zip(counts, [weight * scale for weight in weights], strict=True))
