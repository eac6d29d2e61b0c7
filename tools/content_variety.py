"""How many ways the content knowledge base can word each sentence, and what posts share.

Blog posts for two cities are composed from the same facts; what keeps them from
copying each other is the number of wordings each sentence has (its ``[a|b]``
choices, the synonyms of ``synonyms.txt`` and optional contractions)::

    python tools/content_variety.py                 # wordings per sentence, per file
    python tools/content_variety.py --below 64      # list the sentences with fewer
    python tools/content_variety.py --shared        # sentences posts for two cities share

``--shared`` composes 2,000- and 4,000-word posts of every service type for six
cities and counts, for each pair of cities, the sentences both posts contain.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
from collections import defaultdict

from eal.ai.blog import SERVICE_TYPES, BlogRequest, compose_blog, sentence_keys
from eal.ai.content_kb import _CHOICE, _CONTRACTION, knowledge

CITIES = [
    ("Roswell", "GA"),
    ("Marietta", "GA"),
    ("Austin", "TX"),
    ("Denver", "CO"),
    ("Tampa", "FL"),
    ("Seattle", "WA"),
]


def wordings(sentence: str) -> int:
    """The number of distinct renderings `sentence` can take (an upper bound)."""
    bank = knowledge()
    count = 1
    for match in _CHOICE.finditer(sentence):
        count *= len(set(match.group(1).split("|")))
    plain = _CHOICE.sub(lambda m: m.group(1).split("|")[0], sentence)
    for match in bank.synonym_pattern.finditer(plain):
        count *= len(set(bank.synonyms[match.group(0).lower()]))
    return count * 2 ** len(_CONTRACTION.findall(plain))


def sentences_by_file() -> dict[str, list[str]]:
    """Every sentence of the bank, keyed by the block (``section id`` or ``faq id``) it is in."""
    bank = knowledge()
    found: dict[str, list[str]] = defaultdict(list)
    for section in bank.sections.values():
        found[f"section {section.id}"] += [s for p in section.paragraphs for s in p.sentences]
    for faq in bank.faqs:
        found[f"faq {faq.id}"] += list(faq.answer)
    return found


def shared(words: int) -> None:
    for service in SERVICE_TYPES:
        posts = []
        for city, region in CITIES:
            draft = compose_blog(
                BlogRequest(
                    target_keyword=f"{service.replace('_', ' ')} help",
                    city=city,
                    region=region,
                    postal_code=None,
                    service_type=service,
                    word_count_target=words,
                    organization_name="BlueWave Restoration",
                    phone="(770) 555-0142",
                    website=None,
                    nearby_places=(),
                )
            )
            posts.append(sentence_keys(draft.body_markdown))
        counts = [len(a & b) for a, b in itertools.combinations(posts, 2)]
        print(
            f"{service:17} {words:5} words: shared sentences per pair of cities "
            f"max {max(counts)}, mean {statistics.mean(counts):.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--below", type=int, help="list sentences with fewer wordings")
    parser.add_argument("--shared", action="store_true", help="measure posts for two cities")
    args = parser.parse_args()
    if args.shared:
        for words in (2000, 4000):
            shared(words)
        return
    blocks = sentences_by_file()
    counts = [wordings(s) for sentences in blocks.values() for s in sentences]
    print(f"{len(counts)} sentences; wordings per sentence: median {statistics.median(counts)}")
    for limit in (4, 16, 64, 256, 1024):
        print(f"  fewer than {limit:5}: {sum(1 for c in counts if c < limit)}")
    if args.below:
        for block, sentences in blocks.items():
            for sentence in sentences:
                if (n := wordings(sentence)) < args.below:
                    print(f"{block}: {n}: {sentence}")


if __name__ == "__main__":
    main()
