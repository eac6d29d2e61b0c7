"""What a lead's message is, read by the same embedded classifier that reads calls.

Keywords alone score a vendor's pitch full of "water damage" as a loss, and miss a real
one written in Spanish or with typos. The classifier decides whether the message is a new
loss at all; lead scoring (`eal.leads.scoring`) then lets a pitch, a message meant for
someone else or an unrelated request score low whatever its keywords, and gives a loss the
keywords missed its category.
"""

from __future__ import annotations

from dataclasses import dataclass

from eal.ai.calls import intent_model, model_text
from eal.ai.text import counts, weighted
from eal.leads import scoring_weights as w


@dataclass(frozen=True, slots=True)
class MessageReading:
    """The classifier's intent for a message, how sure it is, and its evidence."""

    intent: str
    confidence: float
    evidence: tuple[str, ...]


def read_message(message: str | None) -> MessageReading | None:
    """The message's intent when it is not a loss and the classifier is sure; else None.

    A loss is left to the keywords unless they found none (Spanish, typos): then the
    classifier's loss counts too, with its own confidence bar.
    """
    text = message[: w.MESSAGE_MAX_CHARS] if message else ""
    if len(text.split()) < w.MESSAGE_MIN_WORDS:
        return None
    model = intent_model()
    groups = counts(model_text(text), model.feature_config)
    prediction = model.predict_counts(groups)
    least = w.MESSAGE_MIN_CONFIDENCE.get(prediction.label)
    if least is None or prediction.confidence < least:
        return None  # a loss, or not sure: the keywords decide
    # The evidence is worked out only for a verdict whose label the reasoning shows.
    shown = prediction.label in w.MESSAGE_NOT_A_LOSS
    evidence = model.evidence(weighted(groups), prediction.label) if shown else ()
    return MessageReading(prediction.label, prediction.confidence, evidence)
