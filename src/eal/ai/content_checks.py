"""The SEO rules a blog draft is held to, each reported as a named pass or fail.

The rules (names as in `SeoCheck.name`): ``title_keyword`` and ``title_length`` (the
keyword in a title of at most 70 characters), ``meta_keyword`` and ``meta_length`` (in a
description of at most 160), ``headings`` (H2 sections, each H3 under an H2, no H1 in the
body), ``word_count`` (within 10% of the target), ``keyword_first_paragraph``,
``keyword_h2``, ``local_references`` (the city, the region and a nearby place when any is
known), ``faq`` (a section of at least 3 questions, each answered), ``call_to_action`` (the
last section names the organization and, when it has one, its phone number) and
``unique_sentences``. Keywords match without regard to case or spacing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from eal.ai.content_kb import count_words

__all__ = [
    "BlogRequest",
    "OutlineItem",
    "SeoCheck",
    "check_blog",
    "contains_phrase",
    "outline_from_markdown",
    "sentences_of",
    "slug_is_url_safe",
]

TITLE_MAX = 70
META_MAX = 160
WORD_TOLERANCE = 0.10
MIN_FAQ_QUESTIONS = 3
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_FAQ_HEADING = re.compile(r"\b(?:faqs?|frequently asked questions)\b", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")


@dataclass(frozen=True, slots=True)
class BlogRequest:
    """What a blog post is asked for: its keyword, place, service and author."""

    target_keyword: str
    city: str
    region: str
    postal_code: str | None
    service_type: str
    word_count_target: int
    organization_name: str
    phone: str | None
    website: str | None
    nearby_places: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class OutlineItem:
    level: int
    text: str


@dataclass(frozen=True, slots=True)
class SeoCheck:
    name: str
    passed: bool
    detail: str


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def contains_phrase(text: str, phrase: str) -> bool:
    """Whether `phrase` occurs in `text`, ignoring case and spacing."""
    wanted = _norm(phrase)
    return bool(wanted) and wanted in _norm(text)


def slug_is_url_safe(slug: str) -> bool:
    return bool(_SLUG.match(slug)) and len(slug) <= 100


def _blocks(body: str) -> list[tuple[int, str]]:
    """The body's blocks in order: (heading level, text), level 0 for a paragraph."""
    blocks: list[tuple[int, str]] = []
    for chunk in re.split(r"\n\s*\n", body.strip()):
        lines = [line for line in chunk.split("\n") if line.strip()]
        paragraph: list[str] = []
        for line in lines:
            match = _HEADING.match(line.strip())
            if match:
                if paragraph:
                    blocks.append((0, " ".join(paragraph)))
                    paragraph = []
                blocks.append((len(match.group(1)), match.group(2)))
            else:
                paragraph.append(line.strip())
        if paragraph:
            blocks.append((0, " ".join(paragraph)))
    return blocks


def outline_from_markdown(body: str) -> tuple[OutlineItem, ...]:
    """The H2 and H3 headings of a Markdown body, in order."""
    return tuple(OutlineItem(level, text) for level, text in _blocks(body) if level in (2, 3))


def sentences_of(body: str) -> list[str]:
    """The prose sentences of a Markdown body (headings are not sentences)."""
    out: list[str] = []
    for level, text in _blocks(body):
        if level == 0:
            out += [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]
    return out


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def check_blog(
    title: str, meta_description: str, body_markdown: str, request: BlogRequest
) -> tuple[SeoCheck, ...]:
    """Every rule of the module doc applied to one draft, in that order."""
    keyword = request.target_keyword
    blocks = _blocks(body_markdown)
    checks = [
        SeoCheck("title_keyword", contains_phrase(title, keyword), f"keyword {keyword!r}"),
        SeoCheck("title_length", 0 < len(title) <= TITLE_MAX, f"{len(title)}/{TITLE_MAX}"),
        SeoCheck("meta_keyword", contains_phrase(meta_description, keyword), "keyword"),
        SeoCheck(
            "meta_length",
            0 < len(meta_description) <= META_MAX,
            f"{len(meta_description)}/{META_MAX}",
        ),
        _headings(blocks),
        _word_count(body_markdown, request.word_count_target),
    ]
    paragraphs = [text for level, text in blocks if level == 0]
    first = paragraphs[0] if paragraphs and blocks[0][0] == 0 else ""
    checks.append(
        SeoCheck(
            "keyword_first_paragraph",
            contains_phrase(first, keyword),
            "in the opening paragraph" if first else "the body does not open with a paragraph",
        )
    )
    h2s = [text for level, text in blocks if level == 2]
    checks.append(
        SeoCheck("keyword_h2", any(contains_phrase(h, keyword) for h in h2s), f"{len(h2s)} H2s")
    )
    prose = " ".join(paragraphs)
    missing = [name for name in (request.city, request.region) if not contains_phrase(prose, name)]
    near = [p for p in request.nearby_places if p.lower() != request.city.lower()]
    if near and not any(contains_phrase(prose, p) for p in near):
        missing.append("a nearby place")
    checks.append(
        SeoCheck("local_references", not missing, f"missing {missing}" if missing else "ok")
    )
    checks.append(_faq(blocks))
    checks.append(_call_to_action(blocks, request))
    sentences = [" ".join(s.lower().split()) for s in sentences_of(body_markdown)]
    repeated = len(sentences) - len(set(sentences))
    checks.append(SeoCheck("unique_sentences", repeated == 0, f"{repeated} repeated"))
    return tuple(checks)


def _headings(blocks: list[tuple[int, str]]) -> SeoCheck:
    levels = [level for level, _ in blocks if level]
    problems = []
    if levels.count(2) < 2:
        problems.append("fewer than 2 H2 sections")
    if 1 in levels:
        problems.append("an H1 in the body (the title is the H1)")
    seen_h2 = False
    for level in levels:
        seen_h2 = seen_h2 or level == 2
        if level == 3 and not seen_h2:
            problems.append("an H3 before the first H2")
            break
        if level > 3:
            problems.append("headings below H3")
            break
    return SeoCheck("headings", not problems, "; ".join(problems) or f"{len(levels)} headings")


def _word_count(body: str, target: int) -> SeoCheck:
    words = count_words(body)
    low, high = target * (1 - WORD_TOLERANCE), target * (1 + WORD_TOLERANCE)
    return SeoCheck("word_count", low <= words <= high, f"{words} words for {target}")


def _faq(blocks: list[tuple[int, str]]) -> SeoCheck:
    for i, (level, text) in enumerate(blocks):
        if level == 2 and _FAQ_HEADING.search(text):
            answered = 0
            j = i + 1
            while j < len(blocks) and blocks[j][0] != 2:
                is_question = blocks[j][0] == 3 and blocks[j][1].endswith("?")
                if is_question and j + 1 < len(blocks) and blocks[j + 1][0] == 0:
                    answered += 1
                j += 1
            passed = answered >= MIN_FAQ_QUESTIONS
            return SeoCheck("faq", passed, f"{answered} answered questions")
    return SeoCheck("faq", False, "no FAQ section")


def _call_to_action(blocks: list[tuple[int, str]], request: BlogRequest) -> SeoCheck:
    last_h2 = max((i for i, (level, _) in enumerate(blocks) if level == 2), default=-1)
    closing = " ".join(text for level, text in blocks[last_h2 + 1 :] if level == 0)
    problems = []
    if not contains_phrase(closing, request.organization_name):
        problems.append("no organization name")
    if request.phone and _digits(request.phone) not in _digits(closing):
        problems.append("no phone number")
    return SeoCheck("call_to_action", not problems, "; ".join(problems) or "ok")
