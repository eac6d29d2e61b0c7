"""SEO blog drafts for a restoration service in one city: composed offline, checked by rule.

`compose_blog` writes a Markdown post from the curated knowledge base of
``data/content/`` (`eal.ai.content_kb`): an opening paragraph naming the keyword and the
place, the topic sections the service type calls for (in its plan's order, each cut to
fit), the local communities served, an FAQ and a call to action with the organization's
name and phone. The length follows `BlogRequest.word_count_target` within 10%, as long as
the bank holds enough material for the service type.

Wording is seeded by the keyword, the city and the region: the same request gives the same
draft. No sentence appears twice in one post. Posts for two cities differ in the sections
drawn beyond the plan's first three, in the wording of each sentence (its ``[a|b]``
choices, synonyms and contractions) and in their local sentences, but they still share
some sentences: at 2,000 words about a tenth to a fifth of them, at 4,000 words (where
the whole bank is used) up to about a third.

`check_blog` applies the SEO rules to any title, description and body (an edited draft
too); `compose_blog` adds the slug and outline checks. `nearby_places` lists towns near a
postal code or city from the offline place table.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
import unicodedata
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from eal.ai.content_checks import (
    BlogRequest,
    OutlineItem,
    SeoCheck,
    check_blog,
    contains_phrase,
    outline_from_markdown,
    sentences_of,
    slug_is_url_safe,
)
from eal.ai.content_kb import Section, count_words, knowledge, render
from eal.geo import resolve_postal_code
from eal.places import normalize_place_name, places_near, resolve_place

__all__ = [
    "READ_WORDS_PER_MINUTE",
    "SERVICE_TYPES",
    "BlogDraft",
    "BlogRequest",
    "OutlineItem",
    "SeoCheck",
    "check_blog",
    "compose_blog",
    "count_words",
    "nearby_places",
    "outline_from_markdown",
    "read_time_minutes",
    "sentence_key",
    "sentence_keys",
    "slugify",
]

SERVICE_TYPES: tuple[str, ...] = (
    "water_damage",
    "fire_damage",
    "mold_remediation",
    "biohazard",
    "storm_damage",
    "sewage_cleanup",
)
MIN_WORDS, MAX_WORDS = 300, 4000
READ_WORDS_PER_MINUTE = 238
#: Nearby places are looked for within this distance of the city.
NEARBY_MILES = 30.0
#: The first sections of a service's plan appear in every post; the rest are drawn.
CORE_SECTIONS = 3
#: About how many words a drawn section gets, which sets how many are drawn.
SECTION_WORDS = 220
#: Wordings tried for a sentence before it is left out as already said.
SAY_ATTEMPTS = 8
_SMALL_WORDS = frozenset(
    ["a", "an", "and", "as", "at", "but", "by", "for", "in", "of", "on", "or", "the", "to"]
)


@dataclass(frozen=True, slots=True)
class BlogDraft:
    title: str
    meta_description: str
    slug: str
    outline: tuple[OutlineItem, ...]
    body_markdown: str
    word_count: int
    estimated_read_time_min: int
    seo_checks: tuple[SeoCheck, ...]


def read_time_minutes(words: int) -> int:
    """Minutes to read ``words`` at READ_WORDS_PER_MINUTE (at least one)."""
    return max(1, math.ceil(words / READ_WORDS_PER_MINUTE))


def slugify(text: str, max_length: int = 80) -> str:
    """Lowercase ASCII words joined by hyphens, cut at a word boundary."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_text.lower())
    slug = ""
    for word in words:
        candidate = f"{slug}-{word}" if slug else word
        if len(candidate) > max_length:
            break
        slug = candidate
    return slug or "post"


def title_case(text: str, region: str = "") -> str:
    """Headline case that keeps words already holding capitals (names, "HVAC")."""
    out = []
    for i, word in enumerate(text.split()):
        if any(c.isupper() for c in word):
            out.append(word)
        elif region and len(word) == 2 and word.upper() == region.upper():
            out.append(word.upper())
        elif i and word in _SMALL_WORDS:
            out.append(word)
        else:
            out.append(word[:1].upper() + word[1:])
    return " ".join(out)


def sentence_key(sentence: str) -> str:
    """What makes two sentences the same one: their words, case and spacing aside."""
    return " ".join(sentence.lower().split())


def sentence_keys(markdown: str) -> frozenset[str]:
    """The keys of every prose sentence of a Markdown post (for ``compose_blog(avoid=...)``)."""
    return frozenset(sentence_key(s) for s in sentences_of(markdown))


class _Writer:
    """Renders bank text with one seeded generator and never returns a sentence twice,
    nor, unless the post needs it, one of the sentences it was told to avoid."""

    def __init__(
        self, rng: random.Random, slots: Mapping[str, str], avoid: Collection[str] = ()
    ) -> None:
        self.rng = rng
        self.slots = slots
        self.avoid = frozenset(avoid)
        self.used: set[str] = set()

    def say(self, text: str, *, required: bool = False) -> str | None:
        """A wording of `text` not said yet, or None. A `required` sentence (the opening,
        the local and closing paragraphs, an FAQ's answer) falls back to an avoided
        wording rather than leave the post without it."""
        fallback = None
        for _ in range(SAY_ATTEMPTS):
            sentence = render(text, self.rng, self.slots)
            key = sentence_key(sentence)
            if key in self.used:
                continue
            if key not in self.avoid:
                self.used.add(key)
                return sentence
            fallback = fallback or (sentence, key)
        if required and fallback is not None:
            self.used.add(fallback[1])
            return fallback[0]
        return None

    def pick(self, variants: Sequence[str]) -> str:
        return render(self.rng.choice(list(variants)), self.rng, self.slots)

    def paragraph(self, slots_of_variants: Sequence[Sequence[str]]) -> str:
        sentences = [
            self.say(self.rng.choice(list(v)), required=True) for v in slots_of_variants if v
        ]
        return " ".join(s for s in sentences if s)


@dataclass
class _Part:
    """A section being filled: its heading and the paragraphs taken so far."""

    section: Section
    heading: str
    order: list[int]
    blocks: list[str]
    next_paragraph: int = 0
    words: int = 0


def _fill(part: _Part, writer: _Writer, budget: int) -> int:
    """Add whole paragraphs, then sentences of the next, while they fit `budget` words."""
    added = 0
    while part.next_paragraph < len(part.order):
        paragraph = part.section.paragraphs[part.order[part.next_paragraph]]
        sub = writer.pick(paragraph.subheading) if paragraph.subheading else ""
        cost = count_words(sub)
        sentences: list[str] = []
        for raw in paragraph.sentences:
            sentence = writer.say(raw)
            if sentence is None:
                continue
            size = count_words(sentence)
            if added + cost + size > budget:
                break
            sentences.append(sentence)
            cost += size
        if not sentences:
            return added
        if sub:
            part.blocks.append(f"### {sub}")
        part.blocks.append(" ".join(sentences))
        part.next_paragraph += 1
        added += cost
        if len(sentences) < len(paragraph.sentences):
            break
    part.words += added
    return added


def compose_blog(request: BlogRequest, *, avoid: Collection[str] = ()) -> BlogDraft:
    """A draft post for `request`, with every SEO check applied (see the module doc).

    `avoid` holds the ``sentence_key`` of sentences the post must not contain: those of
    the organization's posts for other places, so that two of its posts never copy each
    other's sentences. A sentence with no unused wording left is left out.
    """
    if request.service_type not in SERVICE_TYPES:
        raise ValueError(f"unknown service type {request.service_type!r}")
    bank = knowledge()
    config = bank.blog
    service = config["services"][request.service_type]
    target = min(MAX_WORDS, max(MIN_WORDS, request.word_count_target))
    keyword = " ".join(request.target_keyword.split())
    city, region = " ".join(request.city.split()), " ".join(request.region.split())
    org = " ".join(request.organization_name.split())
    key = "|".join([keyword.lower(), city.lower(), region.lower(), request.service_type])
    seed = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big")
    rng = random.Random(seed)
    near = [p for p in request.nearby_places if p and p.lower() != city.lower()][:3]
    work = rng.choice(service["work"])
    kw_title = title_case(keyword, region)
    loc = "" if contains_phrase(keyword, city) else f" in {city}"
    slots = {
        "keyword": keyword,
        "kw": kw_title,
        "Kw": keyword[:1].upper() + keyword[1:],
        "city": city,
        "region": region,
        "org": org,
        "phone": request.phone or "",
        "website": request.website or "",
        "work": work,
        "work_title": title_case(work),
        "label_title": title_case(service["label"]),
        "near": _join(near) if near else city,
        "loc": loc,
    }
    writer = _Writer(rng, slots, avoid)

    intro = writer.paragraph(config["intro"])
    local = [f"## {writer.pick(config['local_heading'])}"]
    local_lines = config["local"] if near else [config["local"][0], config["local"][2]]
    local.append(writer.paragraph(local_lines))
    if target >= 2500:
        more = config["local_more"] if near else config["local_more"][::2]
        local.append(writer.paragraph(more))
    cta_lines = [
        line
        for i, line in enumerate(config["cta"])
        if not (i == 1 and not request.phone) and not (i == 2 and not request.website)
    ]
    cta = [f"## {writer.pick(config['cta_heading'])}", writer.paragraph(cta_lines)]
    faq = _faq(writer, request.service_type, target, config)
    fixed = count_words("\n".join([intro, *local, *cta, *faq]))

    plan = [bank.sections[i] for i in service["plan"] if i in bank.sections]

    def keyword_heading(section: Section) -> str:
        # "Keyword: Heading", from a heading with no colon of its own when it has one.
        plain = [h for h in section.headings if ":" not in h] or list(section.headings)
        template = rng.choice(config["keyword_h2"])
        return str(template.format(kw=kw_title, heading=writer.pick(plain)))

    def part_for(index: int) -> _Part:
        section = plan[index]
        heading = keyword_heading(section) if index == 0 else writer.pick(section.headings)
        later = list(range(1, len(section.paragraphs)))
        rng.shuffle(later)
        return _Part(section, heading, [0, *later], [])

    # The plan's first sections always appear; the others are drawn by the seed, as many
    # as the length calls for, so that posts of the same service differ in what they cover.
    budget = target - fixed
    core = list(range(min(CORE_SECTIONS, len(plan))))
    optional = list(range(len(core), len(plan)))
    rng.shuffle(optional)
    wanted = max(1, min(len(plan), round(budget / SECTION_WORDS)))
    active = core[:wanted] + optional[: max(0, wanted - len(core))]
    reserve = optional[max(0, wanted - len(core)) :]
    parts = {index: part_for(index) for index in sorted(active)}
    for n, index in enumerate(sorted(parts)):
        part = parts[index]
        share = max(min(budget, 160), budget // (len(parts) - n))
        budget -= count_words(part.heading) if budget > 60 else 0
        budget -= _fill(part, writer, share)
    for index in sorted(parts):  # a second pass tops up from what the sections have left
        if budget < 15:
            break
        if parts[index].blocks:
            budget -= _fill(parts[index], writer, budget)
    while budget >= 40 and reserve:  # then more sections, while the bank has them
        index = reserve.pop(0)
        part = parts[index] = part_for(index)
        budget -= count_words(part.heading)
        added = _fill(part, writer, budget)
        budget += 0 if added else count_words(part.heading)
        budget -= added
    ordered = [parts[index] for index in sorted(parts)]
    sections = [part for part in ordered if part.blocks] or ordered[:1]
    if sections[0] is not parts.get(0):
        # The keyword's section had nothing left to say: the first that did takes the keyword.
        sections[0].heading = keyword_heading(sections[0].section)
    blocks = [intro]
    for part in sections:
        blocks += [f"## {part.heading}", *part.blocks]
    blocks += [*local, *faq, *cta]
    body = "\n\n".join(blocks) + "\n"

    title = _fit(writer, config["titles"], 70) or kw_title[:70]
    meta = _fit(writer, config["metas"], 160) or keyword[:160]
    slug = slugify(keyword if not loc else f"{keyword} {city}")
    outline = outline_from_markdown(body)
    words = count_words(body)
    checks = (
        *check_blog(title, meta, body, request),
        SeoCheck("slug", slug_is_url_safe(slug), f"slug {slug!r}"),
        SeoCheck("outline", outline == outline_from_markdown(body), f"{len(outline)} headings"),
    )
    return BlogDraft(
        title=title,
        meta_description=meta,
        slug=slug,
        outline=outline,
        body_markdown=body,
        word_count=words,
        estimated_read_time_min=read_time_minutes(words),
        seo_checks=checks,
    )


def _faq(writer: _Writer, service: str, target: int, config: Mapping[str, object]) -> list[str]:
    bank = knowledge()
    entries = [faq for faq in bank.faqs if service in faq.services]
    specific = [faq for faq in entries if len(faq.services) == 1]
    shared = [faq for faq in entries if len(faq.services) > 1]
    writer.rng.shuffle(specific)
    writer.rng.shuffle(shared)
    count = (
        3
        if target < 800
        else 4
        if target < 1500
        else 5
        if target < 2500
        else 7
        if target < 3200
        else 12
    )
    sentences = 1 if target < 700 else 2 if target < 1500 else 3 if target < 2500 else 5
    headings = config["faq_heading"]
    assert isinstance(headings, list)
    blocks = [f"## {writer.pick(headings)}"]
    for faq in [*specific, *shared][:count]:
        said = (writer.say(raw, required=n == 0) for n, raw in enumerate(faq.answer[:sentences]))
        answer = [s for s in said if s]
        blocks += [f"### {writer.pick(faq.questions)}", " ".join(answer)]
    return blocks


def _fit(writer: _Writer, templates: Sequence[str], limit: int) -> str | None:
    rendered = [render(t, writer.rng, writer.slots) for t in templates]
    fitting = [t for t in rendered if t and len(t) <= limit]
    return writer.rng.choice(fitting[:3]) if fitting else None


def _join(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


@lru_cache(maxsize=1024)
def nearby_places(
    postal_code: str | None, city: str, region: str, limit: int = 5
) -> tuple[str, ...]:
    """Up to `limit` towns within 30 miles of the postal code (or else of the city), from the
    offline place table, nearest first; never the city itself (see `eal.places.places_near`)."""
    center = resolve_postal_code(postal_code) if postal_code else None
    if center is None:
        place = resolve_place(city, region or None)
        if place is None:
            return ()
        center = place.coordinates
    own = frozenset({normalize_place_name(city)})
    near = places_near(center, miles=NEARBY_MILES, limit=limit, exclude=own)
    return tuple(place.name for place in near)
