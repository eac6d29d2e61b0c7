"""Inference for a linear multiclass text model stored as readable JSON.

The embedded classifiers are multinomial logistic regressions trained by
`tools/train_text_model.py` (scikit-learn, at training time only) and shipped as JSON:

    {"format": "eal.linear/1", "name": "replies", "classes": ["interested", ...],
     "features": {"word_ngrams": [1, 2], "char_ngrams": [3, 5], "max_chars": 3000},
     "bias": [0.12, ...], "temperature": 2.1,   # one bias per class
     "weights": {"w:remove me": [-0.8, 2.4, ...], ...},   # one row per feature
     "training": {...}, "evaluation": {...}}    # how it was made, how it scored

Scoring is plain Python: the features of the text (`eal.ai.text.features`) times their
rows (or, from the text's feature counts, its rows packed into integers and added at
once: `scores_of_counts`), plus the bias, divided by the model's temperature, then a
softmax; the probability of the best class is the confidence. With temperature 1 that is exactly scikit-learn's
`predict_proba` for the same weights; the trainer fits the temperature on out-of-fold
scores of the training split so that a confidence of 0.8 is right about 80% of the time
(a strongly fitted model is otherwise sure of everything). All this without importing
scikit-learn (tens of MB resident) into the service. A model is read once per process, on
first use, from package data; its weights live in one array per class.
"""

from __future__ import annotations

import json
import math
from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from operator import itemgetter, mul
from typing import Any

from eal.ai.text import FeatureConfig, features, group_share, sublinear, weighted

FORMAT = "eal.linear/1"
#: Stored weights have four decimals (`tools/train_text_model.py` rounds them so).
_PACK_SCALE = 10_000
#: How many feature names a model remembers the rows of (a few MB at most), see `scores`.
_REMEMBERED_ROWS = 50_000
#: How many feature names a model keeps packed rows for (some 3 MB at most), see `_PackedRows`.
_PACKED_ROWS = 20_000


@dataclass(frozen=True, slots=True)
class Prediction:
    """A model's answer: the best class, its probability, all probabilities, the evidence."""

    label: str
    confidence: float
    probabilities: Mapping[str, float]
    #: The features that pushed hardest towards `label`, words first ("remove me").
    evidence: tuple[str, ...]


class LinearModel:
    """A loaded model; `predict` is safe to call from any thread.

    Rows are found by the (per-process) hash of their feature name in one sorted array of
    hashes (with the row each stands for), and their weights lie in one flat array per
    class, in file order: no string object per feature is kept. For the call models (about
    94,000 features each) that holds some 6 MB where a dict of names held about 25 MB, and a file read line by line
    (`read_model`) never holds the parsed JSON of all rows at once (that peak left some
    50 MB resident behind it).
    """

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self._head(spec)
        self._add_rows(spec["weights"].items())
        self._seal()

    def _head(self, spec: Mapping[str, Any]) -> None:
        if spec.get("format") != FORMAT:
            raise ValueError(f"not an {FORMAT} model: format {spec.get('format')!r}")
        self.name: str = spec.get("name", "")
        self.classes: tuple[str, ...] = tuple(spec["classes"])
        self.feature_config = FeatureConfig.from_json(spec["features"])
        self.bias: tuple[float, ...] = tuple(float(b) for b in spec["bias"])
        #: Scores are divided by it before the softmax (fitted out of fold in training).
        self.temperature = float(spec.get("temperature", 1.0))
        if self.temperature <= 0:
            raise ValueError("temperature must be positive")
        if len(self.bias) != len(self.classes):
            raise ValueError("one bias per class expected")
        self.metadata: dict[str, Any] = {
            key: spec[key] for key in ("training", "evaluation") if key in spec
        }
        self._keys = array("q")
        self._hashes = array("q")
        self._rows = array("i")
        self._weights: array[Any] = array("i")
        #: Stored weights are multiples of this (1.0: they are the weights themselves).
        self._unit = 1.0 / _PACK_SCALE
        #: Feature name -> row (-1: not in the model), for names seen lately; see `scores`.
        self._remembered: dict[str, int] = {}
        #: Feature name -> its row packed in one integer, for names seen lately; see `_PackedRows`.
        self._packed_rows = _PackedRows(self)

    def _add_rows(self, rows: Iterable[tuple[str, Sequence[float]]]) -> None:
        width = len(self.classes)
        keys = self._keys
        for name, row in rows:
            if len(row) != width:
                raise ValueError(f"feature {name!r} has {len(row)} weights, not {width}")
            keys.append(hash(name))
            self._store(row)

    def _store(self, row: Sequence[float]) -> None:
        """Append a row: as 32-bit ten-thousandths while every weight is one, else doubles.

        The trainer rounds every weight to four decimals, so each is a whole number of
        ten-thousandths: kept as such, the call models' weights take half the memory of
        doubles (the intent model, which every API process loads to score leads, holds
        1.2 MB instead of 2.5) and every score is what the doubles give. Rows are packed
        as they are read, so no second copy of the weights is ever held. A weight that is
        not such a multiple (a model built in memory) turns the model back to doubles.
        """
        weights = self._weights
        if isinstance(weights, array) and weights.typecode == "i":
            packed = [w * _PACK_SCALE for w in row]
            wholes = [round(v) for v in packed]
            if all(
                abs(v - n) <= 1e-6 and -(2**31) < n < 2**31
                for v, n in zip(packed, wholes, strict=True)
            ):
                weights.extend(wholes)
                return
            self._weights = array("d", (n / _PACK_SCALE for n in weights))
            self._unit = 1.0
        doubles = self._weights
        assert doubles.typecode == "d"
        doubles.extend(float(w) for w in row)

    def _seal(self) -> None:
        # The weights stay in file order; only the (hash, row) index is sorted. They are
        # then cut into one column per class (see `scores`); the file-order array goes.
        width = len(self.classes)
        self._columns = tuple(self._weights[k::width] for k in range(width))
        self._weights = array(self._weights.typecode)
        keys = self._keys
        order = sorted(range(len(keys)), key=keys.__getitem__)
        self._hashes = array("q", (keys[row] for row in order))
        self._rows = array("i", order)
        del self._keys
        self._packing = _Packing.of(self._columns) if self._weights.typecode == "i" else None
        hashes = self._hashes
        if any(hashes[i] == hashes[i + 1] for i in range(len(hashes) - 1)):
            # Two names with one 64-bit hash: astronomically unlikely, but never silent.
            raise ValueError("two features of the model share a hash; cannot index it")

    @classmethod
    def from_json(cls, text: str) -> LinearModel:
        """Parse a model file's text."""
        return cls(json.loads(text))

    @classmethod
    def read(cls, lines: Iterable[str]) -> LinearModel:
        """Read a model file as `tools/train_text_model.py` writes it: one row per line.

        Everything before the `"weights"` object is parsed as one JSON object, then each
        row on its own, so the rows are never all parsed at once. A file in any other
        layout is parsed whole.
        """
        head: list[str] = []
        iterator = iter(lines)
        for line in iterator:
            if line.startswith('  "weights": {'):
                break
            head.append(line)
        else:
            return cls.from_json("".join(head))
        model = cls.__new__(cls)
        model._head(json.loads("".join(head).rstrip().rstrip(",") + "}"))
        model._add_rows(_rows(iterator))
        model._seal()
        return model

    def _row(self, name: str) -> int | None:
        hashes = self._hashes
        key = hash(name)
        i = bisect_left(hashes, key)
        return self._rows[i] if i < len(hashes) and hashes[i] == key else None

    def __len__(self) -> int:
        return len(self._hashes)

    def scores(self, weighted: Mapping[str, float]) -> list[float]:
        """The raw class scores (logits) of a feature vector."""
        found: list[int] = []
        values: list[float] = []
        # Feature names recur from one text to the next (n-grams of common words above
        # all): their rows are remembered, so most lookups are one dict probe instead of a
        # binary search of the index (a lead's message scores in about half the time).
        remembered = self._remembered
        for name, value in weighted.items():
            row = remembered.get(name)
            if row is None:
                row = self._row(name)
                row = -1 if row is None else row
                if len(remembered) >= _REMEMBERED_ROWS:
                    remembered.clear()
                remembered[name] = row
            if row >= 0:
                found.append(row)
                values.append(value)
        unit = self._unit
        if not found:
            return list(self.bias)
        if len(found) == 1:
            totals = [values[0] * column[found[0]] for column in self._columns]
        else:
            # One column per class, its rows picked and summed in C: a lead's message
            # (some 300 features, 9 classes) scores in about a quarter of the time that a
            # Python loop over its rows' weights took.
            pick = itemgetter(*found)
            totals = [sum(map(mul, values, pick(column))) for column in self._columns]
        return [bias + total * unit for bias, total in zip(self.bias, totals, strict=True)]

    def scores_of_counts(self, groups: tuple[Counter[str], Counter[str]]) -> list[float]:
        """The class scores of a text's feature counts (`eal.ai.text.counts`), as `scores` gives
        for their weighted vector (equal to within float rounding).

        The weighted vector is never built. Each group's rows are added as packed integers
        (`_Packing`): one C-level sum over the group's feature names for all of them at
        count one, then a correction for the few that occur more than once; the group's
        scale is applied once at the end. A lead's message scores in a third of
        the time `scores` takes for its vector (about 40 against 120 us, measured).
        """
        packing = self._packing
        if packing is None:
            return self.scores(weighted(groups))
        share = group_share(groups)
        totals = [0.0] * len(self.classes)
        lookup = self._packed_rows.__getitem__
        for group in groups:
            if not group:
                continue
            if len(group) > packing.capacity:
                return self.scores(weighted(groups))
            fields = packing.unpack(sum(map(lookup, group)), len(group))
            # Most features occur once (weight 1, squared 1): only the others need more,
            # and those sharing a count share a correction, so their rows add up packed.
            squares = float(len(group))
            if sum(group.values()) != len(group):
                repeated: dict[int, list[int]] = {}
                for name, count in [item for item in group.items() if item[1] > 1]:
                    repeated.setdefault(count, []).append(lookup(name))
                for count, rows in repeated.items():
                    weight = sublinear(count)
                    squares += len(rows) * (weight * weight - 1.0)
                    extra = packing.unpack(sum(rows), len(rows))
                    for k, w in enumerate(extra):
                        fields[k] += (weight - 1.0) * w
            scale = share / math.sqrt(squares) * self._unit
            for k, value in enumerate(fields):
                totals[k] += value * scale
        return [bias + total for bias, total in zip(self.bias, totals, strict=True)]

    def predict_counts(self, groups: tuple[Counter[str], Counter[str]]) -> Prediction:
        """Classify a text from its feature counts (no evidence; see `scores_of_counts`)."""
        return self._prediction(self.scores_of_counts(groups))

    def _prediction(self, scores: list[float]) -> Prediction:
        probabilities = softmax([score / self.temperature for score in scores])
        best = max(range(len(self.classes)), key=probabilities.__getitem__)
        return Prediction(
            label=self.classes[best],
            confidence=probabilities[best],
            probabilities=dict(zip(self.classes, probabilities, strict=True)),
            evidence=(),
        )

    def predict(self, text: str) -> Prediction:
        """Classify a text."""
        return self.predict_features(features(text, self.feature_config))

    def predict_features(
        self, weighted: Mapping[str, float], *, with_evidence: bool = True
    ) -> Prediction:
        """Classify an already computed feature vector.

        Finding the evidence weighs every feature against every class, which costs more
        than the classification itself; `with_evidence=False` skips it (empty evidence).
        """
        prediction = self._prediction(self.scores(weighted))
        if not with_evidence:
            return prediction
        best = self.classes.index(prediction.label)
        return replace(prediction, evidence=self._evidence(weighted, best))

    def evidence(self, weighted: Mapping[str, float], label: str) -> tuple[str, ...]:
        """The features that pushed hardest towards `label`, words first."""
        return self._evidence(weighted, self.classes.index(label))

    def _evidence(self, weighted: Mapping[str, float], k: int, limit: int = 3) -> tuple[str, ...]:
        """The features that favour class k most over the others: words, else n-grams."""
        words = {name: value for name, value in weighted.items() if name.startswith("w:")}
        found = self._pushes(words, k) or self._pushes(weighted, k)
        return tuple(name[2:].strip() for _, name in found[:limit])

    def _pushes(self, weighted: Mapping[str, float], k: int) -> list[tuple[float, str]]:
        width = len(self.classes)
        pushes = []
        for name, value in weighted.items():
            row = self._row(name)
            if row is None or _uninformative(name):
                continue
            row_weights = [column[row] * self._unit for column in self._columns]
            own = row_weights[k]
            rest = sum(row_weights) - own
            push = value * (own - rest / max(width - 1, 1))
            if push > 0:
                pushes.append((push, name))
        pushes.sort(reverse=True)
        return pushes


@dataclass(frozen=True, slots=True)
class _Packing:
    """One row of integer weights (one per class) packed into one Python integer.

    Class k's weight, plus `offset` so that it is never negative, sits in bits
    [k * bits, (k + 1) * bits). Adding packed rows adds every class's weights at once
    (there is no carry between fields while fewer than `capacity` rows are added),
    and `unpack` takes the offsets back out.
    """

    offset: int
    bits: int
    width: int
    capacity: int
    zero: int
    """A row of zeros, packed (what a name the model does not know adds)."""

    @classmethod
    def of(cls, columns: Sequence[array[int]]) -> _Packing:
        largest = max((max(map(abs, column), default=0) for column in columns), default=0)
        offset = largest + 1
        # Room for a million rows per sum: a text has a few thousand features at most.
        capacity = 1 << 20
        bits = (2 * offset * capacity).bit_length()
        zero = sum(offset << (k * bits) for k in range(len(columns)))
        return cls(offset, bits, len(columns), capacity, zero)

    def pack(self, weights: Sequence[int]) -> int:
        packed = 0
        for k, weight in enumerate(weights):
            packed |= (weight + self.offset) << (k * self.bits)
        return packed

    def unpack(self, packed: int, rows: int) -> list[float]:
        """The per-class sums of `rows` packed rows added together."""
        mask = (1 << self.bits) - 1
        base = rows * self.offset
        return [float(((packed >> (k * self.bits)) & mask) - base) for k in range(self.width)]


class _PackedRows(dict[str, int]):
    """Feature name -> packed row, filled on first sight (a name not in the model packs
    zeros). Bounded like the model's other memory of names: a full one is emptied."""

    def __init__(self, model: LinearModel) -> None:
        super().__init__()
        self._model = model

    def __missing__(self, name: str) -> int:
        model = self._model
        packing = model._packing
        assert packing is not None
        row = model._row(name)
        packed = packing.zero if row is None else packing.pack([c[row] for c in model._columns])
        if len(self) >= _PACKED_ROWS:
            self.clear()
        self[name] = packed
        return packed


#: Words that never make a reason on their own ("at", "the", "de"): a bigram with a
#: content word still can.
_FUNCTION_WORDS = frozenset(
    {
        "a",
        "an",
        "and",
        "are",
        "at",
        "be",
        "by",
        "do",
        "for",
        "from",
        "has",
        "have",
        "i",
        "in",
        "is",
        "it",
        "me",
        "my",
        "of",
        "on",
        "or",
        "so",
        "that",
        "the",
        "to",
        "was",
        "we",
        "will",
        "with",
        "you",
        "us",
        "our",
        "your",
        "de",
        "el",
        "la",
        "las",
        "los",
        "lo",
        "y",
        "en",
        "que",
        "un",
        "una",
        "con",
        "por",
        "para",
        "su",
        "mi",
        "al",
        "del",
        "se",
        "le",
    }
)


def _uninformative(name: str) -> bool:
    if name.startswith("c:"):
        return False
    words = name[2:].split()
    return all(w in _FUNCTION_WORDS or (w.startswith("_") and w.endswith("_")) for w in words)


def softmax(scores: Sequence[float]) -> list[float]:
    """Probabilities from logits (shifted by the maximum, so it never overflows)."""
    top = max(scores)
    exps = [math.exp(score - top) for score in scores]
    total = sum(exps)
    return [value / total for value in exps]


def _rows(lines: Iterable[str]) -> Iterator[tuple[str, list[float]]]:
    """The rows of the `"weights"` object, one per line (`"name": [w, ...]`), up to its end."""
    for line in lines:
        text = line.strip().rstrip(",")
        if not text:
            continue
        if text == "}":
            return
        # The name is a JSON string (escapes and all); the weights plain numbers.
        cut = text.rindex('": [')
        yield json.loads(text[: cut + 1]), [float(w) for w in text[cut + 4 : -1].split(",")]


@cache
def load_model(package: str, resource: str) -> LinearModel:
    """The model stored as `resource` in `package` (e.g. "eal.ai", "models/replies.json"), read once."""
    with resources.files(package).joinpath(resource).open("r", encoding="utf-8") as lines:
        return LinearModel.read(lines)
