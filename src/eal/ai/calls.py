"""Classify an inbound call from its transcript, on the CPU, in milliseconds.

Three embedded linear models read the same features of the transcript (`model_text`):
one for the intent, one for the urgency and one for whether the call is a real potential
job (`qualified`); they are trained from `corpora/calls.jsonl` by
``tools/train_text_model.py`` (``--label intent|urgency|qualified``). The labels are those
of `eal.ai.call_labels`. Rules, only where rules are right:

- a call that is not a loss (a pitch, a wrong number, other business) is never qualified,
  and a pitch or a wrong number is never urgent;
- water that the caller says carries sewage ("the sewer backed up", "caca", "aguas negras")
  is biohazard, Category 3 by definition, whatever else the model weighed: the word is
  decisive and the models, seeing "water" everywhere, sometimes miss it. A denial ("not
  sewage") and a list of services ("water, fire or sewage emergency", as greetings say)
  do not count;
- a call without a transcript is classified from what is known (its length, whether it was
  a voicemail) with low confidence, so dispatch sends it to a person.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

from pydantic import BaseModel, ConfigDict, Field

from eal.ai.call_labels import INTENTS, JUNK_INTENTS, LOSS_INTENTS, URGENCIES, Intent, Urgency
from eal.ai.linear import LinearModel, Prediction, load_model
from eal.ai.text import features, fold

MODEL_PACKAGE = "eal.ai"
MODEL_RESOURCES: Mapping[str, str] = {
    "intent": "models/calls_intent.json",
    "urgency": "models/calls_urgency.json",
    "qualified": "models/calls_qualified.json",
}
_CLASSES: Mapping[str, frozenset[str]] = {
    "intent": frozenset(INTENTS),
    "urgency": frozenset(URGENCIES),
    "qualified": frozenset({"true", "false"}),
}
#: The confidence of a classification made without a transcript: below any sensible
#: `min_confidence`, so such a call always reaches a person.
NO_TRANSCRIPT_CONFIDENCE = 0.2
EMBEDDED = "embedded"

# "[00:01:02]", "00:12", "(0:03)" time stamps, and speaker labels at the start of a line.
_TIMESTAMP = re.compile(r"[\[(]?\b\d{1,2}:\d{2}(?::\d{2})?(?:\.\d+)?\b[\])]?")
_SPEAKER = re.compile(
    r"(?im)^\s*(?:speaker\s*\d+|spk_?\d+|caller|customer|agent|rep|representative|operator"
    r"|cliente|agente|receptionist|csr|[a-z]{2,20}\s*\(\w+\))\s*[:\-]\s*"
)
_SEWAGE = re.compile(
    r"\b(?:sewage|sewer|septic|feces|fecal|poop|caca|excremento|aguas negras|black ?water"
    r"|category 3|cat 3|drenaje)\b"
)
_DENIED = re.compile(r"\b(?:no|not|isn't|isnt|wasn't|wasnt|never|sin|ni)\b(?:\W+\w+){0,2}\W*$")
_LISTED = re.compile(r"\bfire\b")
_INTENT_WORDS: Mapping[str, str] = {
    "water": "water damage",
    "fire": "fire or smoke damage",
    "mold": "mold",
    "biohazard": "biohazard clean-up",
    "sales_pitch": "a sales pitch",
    "wrong_number": "a wrong number",
    "other": "not a new loss",
}


class CallClassification(BaseModel):
    """What a call is, how urgent, whether it is a job, why, and who decided."""

    model_config = ConfigDict(frozen=True)

    intent: Intent
    confidence: float = Field(ge=0.0, le=1.0)
    urgency: Urgency
    qualified: bool
    reason: str = Field(description="One line naming the evidence.")
    provider: str = EMBEDDED


@dataclass(frozen=True, slots=True)
class CallModels:
    """The three shipped models (they share one feature configuration)."""

    intent: LinearModel
    urgency: LinearModel
    qualified: LinearModel


def model_text(text: str) -> str:
    """The part of a transcript the models read: no time stamps, no speaker labels."""
    text = _TIMESTAMP.sub(" ", text)
    return _SPEAKER.sub("", text)


def intent_model() -> LinearModel:
    """The intent model alone (lead scoring needs no other), loaded on first use."""
    model = load_model(MODEL_PACKAGE, MODEL_RESOURCES["intent"])
    if set(model.classes) != _CLASSES["intent"]:
        raise ValueError(f"{MODEL_RESOURCES['intent']} has classes {model.classes}")
    return model


def call_models() -> CallModels:
    """The shipped call models, loaded on first use."""
    loaded = {}
    for field, resource in MODEL_RESOURCES.items():
        model = load_model(MODEL_PACKAGE, resource)
        if set(model.classes) != _CLASSES[field]:
            raise ValueError(f"{resource} has classes {model.classes}, not {_CLASSES[field]}")
        loaded[field] = model
    models = CallModels(**loaded)
    if (
        not models.intent.feature_config
        == models.urgency.feature_config
        == models.qualified.feature_config
    ):
        raise ValueError("the call models must read the same features")
    return models


def classify_transcript(transcript: str) -> CallClassification:
    """Classify a call from its transcript with the embedded models."""
    models = call_models()
    weighted = features(model_text(transcript), models.intent.feature_config)
    intent = models.intent.predict_features(weighted)
    urgency = models.urgency.predict_features(weighted)
    qualified = models.qualified.predict_features(weighted)
    label = cast(Intent, intent.label)
    if label == "water" and _says_sewage(transcript):
        label = "biohazard"
    is_qualified = qualified.label == "true" and label in LOSS_INTENTS
    level = cast(Urgency, "low" if label in JUNK_INTENTS else urgency.label)
    return CallClassification(
        intent=label,
        confidence=round(intent.confidence, 4),
        urgency=level,
        qualified=is_qualified,
        reason=_reason(label, intent, level, urgency, is_qualified, qualified),
    )


def _says_sewage(transcript: str) -> bool:
    """Whether the caller says the water carries sewage (not denied, not a list of services)."""
    text = fold(transcript)
    for match in _SEWAGE.finditer(text):
        before = text[max(0, match.start() - 30) : match.start()]
        if not _DENIED.search(before) and not _LISTED.search(before):
            return True
    return False


def classify_without_transcript(
    *, duration_seconds: int, voicemail: bool | None, transcription_error: str | None = None
) -> CallClassification:
    """What can be said of a call nobody can read: little, and with low confidence."""
    what = "a voicemail" if voicemail else f"a {duration_seconds} s call"
    why = f"transcription failed: {transcription_error}" if transcription_error else "no transcript"
    return CallClassification(
        intent="other",
        confidence=NO_TRANSCRIPT_CONFIDENCE,
        urgency="low",
        qualified=False,
        reason=f"{why}; {what} needs a person to listen",
    )


def _quoted(prediction: Prediction, limit: int = 2) -> str:
    return ", ".join(f'"{e}"' for e in prediction.evidence[:limit])


def _reason(
    label: str,
    intent: Prediction,
    level: str,
    urgency: Prediction,
    is_qualified: bool,
    qualified: Prediction,
) -> str:
    parts = [
        f"{_INTENT_WORDS[label]}: {_quoted(intent)}" if intent.evidence else _INTENT_WORDS[label]
    ]
    if label not in JUNK_INTENTS:
        parts.append(f"urgency {level}" + (f": {_quoted(urgency)}" if urgency.evidence else ""))
    if label in LOSS_INTENTS:
        verdict = "a new job" if is_qualified else "not a job for us"
        parts.append(verdict + (f": {_quoted(qualified)}" if qualified.evidence else ""))
    return "; ".join(parts)
