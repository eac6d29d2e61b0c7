"""The restoration knowledge base that blog posts and video scripts are composed from.

The bank is project-written text in ``data/content/``:

- ``*.md`` files of sections and FAQ entries. A block starts with ``# section <id>`` or
  ``# faq <id>``; ``key: value`` lines follow (``services``, ``heading``, ``q``, ``tags``,
  ``broll``, ``short``; alternatives separated by `` | ``), then paragraphs separated by
  blank lines, one sentence per line, each paragraph optionally headed by
  ``### Subheading | Alternative``. A paragraph's first sentences stand on their own, so a
  paragraph can be cut after any sentence.
- ``synonyms.txt``: interchangeable wordings, one group a line (``usually | typically``);
  only the first wording of a line is replaced, by any of the line's wordings.
- ``blog.json``: service types, section plans, titles, descriptions and the local and
  closing paragraphs; ``video.json``: hooks, closings and customer-story beats.

Phrasing varies by seed: a sentence's ``[a|b]`` choices, its synonyms and its
contractions are drawn from a :class:`random.Random` the caller seeds, so the same request
always gives the same text and two requests for different cities word the same facts
differently.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

__all__ = [
    "Faq",
    "Knowledge",
    "Paragraph",
    "Section",
    "count_words",
    "knowledge",
    "render",
]

DATA_PACKAGE = "eal.ai"
DATA_DIR = ("data", "content")

_CHOICE = re.compile(r"\[([^\[\]]*)\]")
_SLOT = re.compile(r"\{(\w+)\}")
_ARTICLE = re.compile(r"\b([Aa])(n?) ([a-z][\w-]*)")
# Words after "a"/"an" whose sound the first letter does not tell.
_AN_ANYWAY = ("hour", "honest", "honor", "heir")
_A_ANYWAY = ("uni", "use", "usu", "uti", "ure", "eu", "one", "once")
# Contractions a sentence may take or leave (each occurrence drawn on its own).
_CONTRACTIONS = {
    "do not": "don't",
    "does not": "doesn't",
    "is not": "isn't",
    "are not": "aren't",
    "cannot": "can't",
    "it is": "it's",
    "you are": "you're",
    "will not": "won't",
    "that is": "that's",
    "they are": "they're",
}
_WORD = re.compile(r"\w")


@dataclass(frozen=True, slots=True)
class Paragraph:
    """Sentences (with their wording choices unrendered) under an optional H3."""

    sentences: tuple[str, ...]
    subheading: tuple[str, ...]  # alternatives; empty for none


@dataclass(frozen=True, slots=True)
class Section:
    """A topic: its H2 headings (alternatives), the services it serves, its paragraphs."""

    id: str
    services: frozenset[str]
    headings: tuple[str, ...]
    tags: frozenset[str]
    broll: tuple[str, ...]
    short: tuple[str, ...]
    paragraphs: tuple[Paragraph, ...]

    @property
    def words(self) -> int:
        return sum(count_words(s) for p in self.paragraphs for s in p.sentences)


@dataclass(frozen=True, slots=True)
class Faq:
    """A question (alternatives) and the sentences of its answer."""

    id: str
    services: frozenset[str]
    questions: tuple[str, ...]
    answer: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Knowledge:
    sections: Mapping[str, Section]
    faqs: tuple[Faq, ...]
    blog: Mapping[str, Any]
    video: Mapping[str, Any]
    synonyms: Mapping[str, tuple[str, ...]]
    synonym_pattern: re.Pattern[str]


def count_words(text: str) -> int:
    """Words as a word processor counts them: runs of non-space holding a letter or digit."""
    return sum(1 for token in text.split() if _WORD.search(token))


def _alternatives(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(" | ") if part.strip())


def _parse(text: str, name: str) -> tuple[list[Section], list[Faq]]:
    sections: list[Section] = []
    faqs: list[Faq] = []
    for block in re.split(r"^# (?=section |faq )", text, flags=re.MULTILINE)[1:]:
        head, _, rest = block.partition("\n")
        kind, _, ident = head.strip().partition(" ")
        fields: dict[str, str] = {}
        lines = rest.split("\n")
        while lines and re.match(r"^[a-z]+: ", lines[0]):
            key, _, value = lines.pop(0).partition(": ")
            fields[key] = value.strip()
        paragraphs: list[Paragraph] = []
        subheading: tuple[str, ...] = ()
        for chunk in re.split(r"\n\s*\n", "\n".join(lines)):
            sentences: list[str] = []
            for line in chunk.split("\n"):
                line = line.strip()
                if line.startswith("### "):
                    subheading = _alternatives(line[4:])
                elif line:
                    sentences.append(line)
            if sentences:
                paragraphs.append(Paragraph(tuple(sentences), subheading))
                subheading = ()
        services = frozenset(fields.get("services", "").split())
        if not services:
            raise ValueError(f"{name}: {kind} {ident} serves no service type")
        if kind == "faq":
            answer = tuple(s for p in paragraphs for s in p.sentences)
            faqs.append(Faq(ident, services, _alternatives(fields["q"]), answer))
        else:
            sections.append(
                Section(
                    id=ident,
                    services=services,
                    headings=_alternatives(fields["heading"]),
                    tags=frozenset(fields.get("tags", "").lower().split()),
                    broll=_alternatives(fields.get("broll", "")),
                    short=_alternatives(fields.get("short", "")),
                    paragraphs=tuple(paragraphs),
                )
            )
    return sections, faqs


def _read(name: str) -> str:
    resource = resources.files(DATA_PACKAGE)
    for part in DATA_DIR:
        resource = resource / part
    return (resource / name).read_text("utf-8")


@cache
def knowledge() -> Knowledge:
    """The bank, read and checked once per process."""
    resource = resources.files(DATA_PACKAGE)
    for part in DATA_DIR:
        resource = resource / part
    sections: dict[str, Section] = {}
    faqs: list[Faq] = []
    for entry in sorted(resource.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".md"):
            found, questions = _parse(entry.read_text("utf-8"), entry.name)
            for section in found:
                if section.id in sections:
                    raise ValueError(f"{entry.name}: section {section.id} defined twice")
                sections[section.id] = section
            faqs += questions
    synonyms: dict[str, tuple[str, ...]] = {}
    for line in _read("synonyms.txt").splitlines():
        options = _alternatives(line)
        if len(options) > 1 and not line.startswith("#"):
            synonyms[options[0].lower()] = options
    triggers = sorted(synonyms, key=len, reverse=True)
    pattern = re.compile(r"\b(" + "|".join(re.escape(t) for t in triggers) + r")\b", re.I)
    return Knowledge(
        sections=sections,
        faqs=tuple(faqs),
        blog=json.loads(_read("blog.json")),
        video=json.loads(_read("video.json")),
        synonyms=synonyms,
        synonym_pattern=pattern,
    )


def _article(match: re.Match[str]) -> str:
    letter, _, word = match.groups()
    lowered = word.lower()
    vowel = lowered[0] in "aeiou"
    if lowered.startswith(_AN_ANYWAY):
        vowel = True
    elif lowered.startswith(_A_ANYWAY):
        vowel = False
    return f"{letter}{'n' if vowel else ''} {word}"


def _cased(original: str, replacement: str) -> str:
    if original[:1].isupper():
        return replacement[:1].upper() + replacement[1:]
    return replacement


def render(text: str, rng: random.Random, slots: Mapping[str, str] | None = None) -> str:
    """One wording of `text`: its ``[a|b]`` choices, synonyms and contractions drawn from
    `rng`, its ``{slot}`` names filled from `slots`, and "a"/"an" agreeing with the word
    after."""
    bank = knowledge()
    text = _CHOICE.sub(lambda m: rng.choice(m.group(1).split("|")), text)

    def synonym(match: re.Match[str]) -> str:
        found = match.group(0)
        return _cased(found, rng.choice(bank.synonyms[found.lower()]))

    text = bank.synonym_pattern.sub(synonym, text)
    text = _CONTRACTION.sub(
        lambda m: (
            _cased(m.group(0), _CONTRACTIONS[m.group(0).lower()])
            if rng.random() < 0.5
            else m.group(0)
        ),
        text,
    )
    if slots:
        text = _SLOT.sub(lambda m: slots.get(m.group(1), m.group(0)), text)
    text = _ARTICLE.sub(_article, text)
    return re.sub(r"\s{2,}", " ", text).strip()


# Only before another word: "how contaminated it is." keeps its "it is".
_CONTRACTION = re.compile(r"\b(" + "|".join(_CONTRACTIONS) + r")\b(?= [\w(])", re.I)
