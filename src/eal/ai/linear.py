"""Inference for a linear multiclass text model stored as readable JSON.

The embedded classifiers are multinomial logistic regressions trained by
`tools/train_text_model.py` (scikit-learn, at training time only) and shipped as JSON:

    {"format": "eal.linear/1", "name": "replies", "classes": ["interested", ...],
     "features": {"word_ngrams": [1, 2], "char_ngrams": [3, 5], "max_chars": 3000},
     "bias": [0.12, ...], "temperature": 2.1,   # one bias per class
     "weights": {"w:remove me": [-0.8, 2.4, ...], ...},   # one row per feature
     "training": {...}, "evaluation": {...}}    # how it was made, how it scored

Scoring is plain Python: the features of the text (`eal.ai.text.features`) times their
rows, plus the bias, divided by the model's temperature, then a softmax; the probability
of the best class is the confidence. With temperature 1 that is exactly scikit-learn's
`predict_proba` for the same weights; the trainer fits the temperature on out-of-fold
scores of the training split so that a confidence of 0.8 is right about 80% of the time
(a strongly fitted model is otherwise sure of everything). All this without importing
scikit-learn (tens of MB resident) into the service. A model is read once per process, on
first use, from package data; its rows live in one flat array of doubles.
"""

from __future__ import annotations

import json
import math
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from eal.ai.text import FeatureConfig, features

FORMAT = "eal.linear/1"


@dataclass(frozen=True, slots=True)
class Prediction:
    """A model's answer: the best class, its probability, all probabilities, the evidence."""

    label: str
    confidence: float
    probabilities: Mapping[str, float]
    #: The features that pushed hardest towards `label`, words first ("remove me").
    evidence: tuple[str, ...]


class LinearModel:
    """A loaded model; `predict` is safe to call from any thread."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
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
        width = len(self.classes)
        if len(self.bias) != width:
            raise ValueError("one bias per class expected")
        self._index: dict[str, int] = {}
        self._weights = array("d")
        for row, (name, weights) in enumerate(spec["weights"].items()):
            if len(weights) != width:
                raise ValueError(f"feature {name!r} has {len(weights)} weights, not {width}")
            self._index[name] = row
            self._weights.extend(float(w) for w in weights)
        self.metadata: dict[str, Any] = {
            key: spec[key] for key in ("training", "evaluation") if key in spec
        }

    @classmethod
    def from_json(cls, text: str) -> LinearModel:
        """Parse a model file's text."""
        return cls(json.loads(text))

    def __len__(self) -> int:
        return len(self._index)

    def scores(self, weighted: Mapping[str, float]) -> list[float]:
        """The raw class scores (logits) of a feature vector."""
        width = len(self.classes)
        totals = list(self.bias)
        weights, index = self._weights, self._index
        for name, value in weighted.items():
            row = index.get(name)
            if row is None:
                continue
            base = row * width
            for k in range(width):
                totals[k] += value * weights[base + k]
        return totals

    def predict(self, text: str) -> Prediction:
        """Classify a text."""
        return self.predict_features(features(text, self.feature_config))

    def predict_features(self, weighted: Mapping[str, float]) -> Prediction:
        """Classify an already computed feature vector."""
        probabilities = softmax([score / self.temperature for score in self.scores(weighted)])
        best = max(range(len(self.classes)), key=probabilities.__getitem__)
        return Prediction(
            label=self.classes[best],
            confidence=probabilities[best],
            probabilities=dict(zip(self.classes, probabilities, strict=True)),
            evidence=self._evidence(weighted, best),
        )

    def _evidence(self, weighted: Mapping[str, float], k: int, limit: int = 3) -> tuple[str, ...]:
        """The features that favour class k most over the others: words, else n-grams."""
        words = {name: value for name, value in weighted.items() if name.startswith("w:")}
        found = self._pushes(words, k) or self._pushes(weighted, k)
        return tuple(name[2:].strip() for _, name in found[:limit])

    def _pushes(self, weighted: Mapping[str, float], k: int) -> list[tuple[float, str]]:
        width = len(self.classes)
        pushes = []
        for name, value in weighted.items():
            row = self._index.get(name)
            if row is None or _uninformative(name):
                continue
            base = row * width
            own = self._weights[base + k]
            rest = sum(self._weights[base : base + width]) - own
            push = value * (own - rest / max(width - 1, 1))
            if push > 0:
                pushes.append((push, name))
        pushes.sort(reverse=True)
        return pushes


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


@cache
def load_model(package: str, resource: str) -> LinearModel:
    """The model stored as `resource` in `package` (e.g. "eal.ai", "models/replies.json"), read once."""
    text = resources.files(package).joinpath(resource).read_text("utf-8")
    return LinearModel.from_json(text)
