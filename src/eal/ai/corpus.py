"""Labelled corpora for the embedded models: one JSON object per line, and a fixed held-out split.

A line is `{"text": "...", "label": "...", ...}` with optional `subject` and `headers`
(e-mail replies) and `group`; a corpus labelled on several fields (the calls corpus:
`intent`, `urgency`, `qualified`) is read once per field, naming it as the label (examples that are variants of one another share a group, so
they fall on the same side of the split). The split is a hash of the group (or the text):
fixed by the data alone, the same in training, in tests and on every machine, so the
held-out accuracy is measured on examples the model never saw.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Share of the corpus (in percent) held out from training.
HELDOUT_PERCENT = 20


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled text."""

    text: str
    label: str
    subject: str | None = None
    headers: dict[str, str] | None = None
    group: str | None = None

    @property
    def key(self) -> str:
        """What the split hashes: the group, or else the text."""
        return self.group if self.group is not None else self.text


def read_corpus(path: Path | str, label: str = "label") -> list[Example]:
    """The examples of a JSONL corpus, in file order; ValueError names a bad line.

    `label` names the field that holds the label; booleans read as "true" / "false".
    """
    examples = []
    for number, line in enumerate(Path(path).read_text("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data: dict[str, Any] = json.loads(line)
            examples.append(
                Example(
                    text=str(data["text"]),
                    label=_label(data[label]),
                    subject=data.get("subject"),
                    headers=data.get("headers"),
                    group=data.get("group"),
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{number}: {exc}") from exc
    return examples


def _label(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def is_heldout(example: Example, percent: int = HELDOUT_PERCENT) -> bool:
    """Whether the example belongs to the held-out split."""
    digest = hashlib.sha256(example.key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % 100 < percent


def split(examples: list[Example]) -> tuple[list[Example], list[Example]]:
    """(training, held-out), each in corpus order."""
    train = [e for e in examples if not is_heldout(e)]
    heldout = [e for e in examples if is_heldout(e)]
    return train, heldout
