"""Classify a reply to outreach (an e-mail or SMS answering one of our messages).

Labels, decided by what the reply asks of us:

- ``interested``: wants to go ahead or to talk: yes, schedule, call me, send the quote,
  agreement or vendor packet, "we have a job for you".
- ``not_interested``: declines, now or for good: no thanks, already have a vendor, not now,
  check back next year, remove me, unsubscribe, stop emailing.
- ``question``: asks us something and waits for the answer before deciding: price,
  insurance, coverage area, licences, what this is about, "who is this?", "how did you get
  my email?". Asking who we are is a question; saying we reached the wrong person is not.
- ``out_of_office``: no person has answered yet: an absence notice (vacation, leave, out
  until Monday), written by hand or automatic, or any other automatic reply ("we received
  your message"). `return_date` says when the person is back when the text says.
- ``wrong_person``: we reached someone who is not the contact we meant: wrong number or
  address, no longer works there, not the owner or the manager (tenant, sold the house),
  deceased, "contact Jen, she handles vendors", "forwarding this to our facilities team".
- ``other``: anything else: thanks or ok with no intent, news about an existing job,
  delivery failures, spam, job seekers, an empty reply above a quoted message.

The reply is read without the message it quotes (`strip_quoted`). Mail headers that mark
an automatic reply (``Auto-Submitted: auto-replied``, ``X-Autoreply``, ``Precedence:
auto_reply``) and subjects like "Automatic reply:" or "Out of Office" decide
out_of_office by rule; everything else goes to the embedded linear model
(`models/replies.json`, trained from `corpora/replies.jsonl` by
``tools/train_text_model.py``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Literal, cast, get_args

from pydantic import BaseModel, ConfigDict, Field

from eal.ai.dates import parse_return_date
from eal.ai.linear import LinearModel, load_model
from eal.ai.quoting import strip_quoted
from eal.ai.text import fold

ReplyLabel = Literal[
    "interested", "not_interested", "question", "out_of_office", "wrong_person", "other"
]
REPLY_LABELS: tuple[str, ...] = get_args(ReplyLabel)
MODEL_PACKAGE = "eal.ai"
MODEL_RESOURCE = "models/replies.json"

_AUTO_SUBJECT = re.compile(
    r"^\s*(?:(?:re|aw|fw|fwd|rv)\s*:\s*)*(?:automatic reply|auto[- ]?reply|autoreply"
    r"|auto[- ]?response|automated response|out of (?:the )?office|ooo\b|away from (?:the )?office"
    r"|vacation (?:reply|response|responder)|on vacation|respuesta automatica|fuera de (?:la )?oficina"
    r"|ausente|reponse automatique|abwesenheitsnotiz)",
    re.IGNORECASE,
)
_LABEL_WORDS = {
    "interested": "interested",
    "not_interested": "not interested",
    "question": "a question",
    "out_of_office": "an absence notice",
    "wrong_person": "the wrong person",
    "other": "no clear intent",
}


class ReplyClassification(BaseModel):
    """What a reply says, why we think so, and who decided."""

    model_config = ConfigDict(frozen=True)

    label: ReplyLabel
    confidence: float = Field(ge=0.0, le=1.0)
    reason: str = Field(description="One line naming the evidence.")
    provider: str = "embedded"
    return_date: date | None = Field(
        default=None, description="When an out-of-office writer is back, if the reply says."
    )


def model_text(text: str) -> str:
    """The part of a reply the model reads (training uses the same function)."""
    return strip_quoted(text)


def reply_model() -> LinearModel:
    """The shipped reply model, loaded on first use."""
    model = load_model(MODEL_PACKAGE, MODEL_RESOURCE)
    if set(model.classes) != set(REPLY_LABELS):
        raise ValueError(f"{MODEL_RESOURCE} has classes {model.classes}, not {REPLY_LABELS}")
    return model


def classify_reply(
    text: str,
    *,
    subject: str | None = None,
    headers: Mapping[str, str] | None = None,
    today: date | None = None,
) -> ReplyClassification:
    """Classify a reply; `today` (the caller's clock, default: today in UTC) dates "back Monday"."""
    today = today or datetime.now(UTC).date()
    body = model_text(text)
    automatic = _automatic_reply(subject, headers)
    if automatic is not None:
        return ReplyClassification(
            label="out_of_office",
            confidence=0.99,
            reason=automatic,
            return_date=_return_date(body, subject, today),
        )
    if not body:
        return ReplyClassification(
            label="other", confidence=0.9, reason="no new text above the quoted message"
        )
    prediction = reply_model().predict(body)
    evidence = ", ".join(f'"{e}"' for e in prediction.evidence)
    reason = f"reads as {_LABEL_WORDS[prediction.label]}" + (f": {evidence}" if evidence else "")
    label = cast(ReplyLabel, prediction.label)
    return ReplyClassification(
        label=label,
        confidence=round(prediction.confidence, 4),
        reason=reason,
        return_date=_return_date(body, subject, today) if label == "out_of_office" else None,
    )


def _automatic_reply(subject: str | None, headers: Mapping[str, str] | None) -> str | None:
    """The header or subject that marks an automatic reply, as a reason; None otherwise."""
    found = {key.strip().lower(): str(value).strip() for key, value in (headers or {}).items()}
    auto_submitted = found.get("auto-submitted", "").lower()
    if auto_submitted.startswith("auto-replied"):
        return "Auto-Submitted: auto-replied header"
    for name in ("x-autoreply", "x-autorespond", "x-autoresponder"):
        if name in found and found[name].lower() not in ("", "no", "false", "0"):
            return f"{_header_name(name)} header"
    if found.get("precedence", "").lower() == "auto_reply":
        return "Precedence: auto_reply header"
    if subject and _AUTO_SUBJECT.match(fold(subject)):
        return f"automatic-reply subject: {subject.strip()[:60]!r}"
    return None


def _header_name(name: str) -> str:
    return "-".join("X" if part == "x" else part.capitalize() for part in name.split("-"))


def _return_date(body: str, subject: str | None, today: date) -> date | None:
    found = parse_return_date(body, today)
    if found is None and subject:
        found = parse_return_date(subject, today)
    return found
