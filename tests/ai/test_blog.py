"""Blog drafts: every SEO rule on 20 keyword/city pairs, unique sentences, wording that
differs between cities, determinism, the rules failing on bad drafts, nearby places."""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
import tomllib
from pathlib import Path

import pytest

from eal.ai.blog import (
    READ_WORDS_PER_MINUTE,
    SERVICE_TYPES,
    BlogRequest,
    check_blog,
    compose_blog,
    nearby_places,
    outline_from_markdown,
    sentence_keys,
    slugify,
)
from eal.ai.content_checks import sentences_of
from eal.ai.content_kb import count_words, knowledge

ORG = "BlueWave Restoration"
PHONE = "(770) 555-0142"

# (keyword, city, region, postal code, service type, word count target)
PAIRS = [
    ("water damage restoration roswell", "Roswell", "GA", "30075", "water_damage", 300),
    ("water damage cleanup", "Austin", "TX", "78701", "water_damage", 1200),
    ("burst pipe repair and drying", "Denver", "CO", "80202", "water_damage", 2000),
    ("water damage alpharetta", "Alpharetta", "GA", "30009", "water_damage", 4000),
    ("fire damage restoration", "Tampa", "FL", "33602", "fire_damage", 300),
    ("smoke damage cleanup columbus", "Columbus", "OH", "43215", "fire_damage", 1500),
    ("fire restoration company", "Phoenix", "AZ", "85004", "fire_damage", 4000),
    ("mold removal roswell", "Roswell", "GA", "30075", "mold_remediation", 2000),
    ("mold remediation", "Seattle", "WA", "98101", "mold_remediation", 300),
    ("black mold removal", "Houston", "TX", "77002", "mold_remediation", 4000),
    ("biohazard cleanup", "Chicago", "IL", "60601", "biohazard", 800),
    ("crime scene cleanup nashville", "Nashville", "TN", "37203", "biohazard", 2500),
    ("biohazard remediation", "Raleigh", "NC", "27601", "biohazard", 4000),
    ("storm damage repair", "Oklahoma City", "OK", "73102", "storm_damage", 300),
    ("hail damage roof tarping", "Dallas", "TX", "75201", "storm_damage", 1800),
    ("storm damage restoration charleston", "Charleston", "SC", "29401", "storm_damage", 4000),
    ("sewage cleanup", "Atlanta", "GA", "30303", "sewage_cleanup", 300),
    ("sewer backup cleanup", "Minneapolis", "MN", "55401", "sewage_cleanup", 1000),
    ("sewage backup basement", "Pittsburgh", "PA", "15222", "sewage_cleanup", 3000),
    ("sewage cleanup marietta", "Marietta", "GA", None, "sewage_cleanup", 4000),
]


def request(
    keyword: str,
    city: str,
    region: str,
    postal: str | None,
    service: str,
    words: int,
    phone: str | None = PHONE,
) -> BlogRequest:
    return BlogRequest(
        target_keyword=keyword,
        city=city,
        region=region,
        postal_code=postal,
        service_type=service,
        word_count_target=words,
        organization_name=ORG,
        phone=phone,
        website="https://bluewave.example",
        nearby_places=nearby_places(postal, city, region),
    )


def norm(sentence: str) -> str:
    return " ".join(sentence.lower().split())


def test_pairs_cover_every_service_and_both_ends() -> None:
    assert len(PAIRS) == 20
    assert {p[4] for p in PAIRS} == set(SERVICE_TYPES)
    assert {300, 4000} <= {p[5] for p in PAIRS}


@pytest.mark.parametrize("pair", PAIRS, ids=lambda p: f"{p[4]}-{p[1]}-{p[5]}")
def test_every_seo_check_passes(pair: tuple[str, str, str, str | None, str, int]) -> None:
    req = request(*pair)
    draft = compose_blog(req)
    failed = [check for check in draft.seo_checks if not check.passed]
    assert not failed, failed
    names = {check.name for check in draft.seo_checks}
    assert {"title_keyword", "meta_keyword", "word_count", "faq", "call_to_action"} <= names
    assert {"keyword_first_paragraph", "keyword_h2", "local_references", "slug"} <= names
    assert req.target_keyword.lower() in draft.title.lower() and len(draft.title) <= 70
    assert req.target_keyword.lower() in draft.meta_description.lower()
    assert len(draft.meta_description) <= 160
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", draft.slug)
    assert draft.word_count == count_words(draft.body_markdown)
    assert abs(draft.word_count - req.word_count_target) <= 0.1 * req.word_count_target
    assert draft.estimated_read_time_min == math.ceil(draft.word_count / READ_WORDS_PER_MINUTE)
    assert draft.outline == outline_from_markdown(draft.body_markdown)
    assert {item.level for item in draft.outline} == {2, 3}
    assert ORG in draft.body_markdown and PHONE in draft.body_markdown
    assert req.city in draft.body_markdown and req.region in draft.body_markdown
    assert any(place in draft.body_markdown for place in req.nearby_places)


@pytest.mark.parametrize("pair", PAIRS, ids=lambda p: f"{p[4]}-{p[1]}-{p[5]}")
def test_no_sentence_repeats_within_a_post(
    pair: tuple[str, str, str, str | None, str, int],
) -> None:
    sentences = [norm(s) for s in sentences_of(compose_blog(request(*pair)).body_markdown)]
    assert len(sentences) == len(set(sentences))


def test_same_request_same_draft() -> None:
    first = compose_blog(request(*PAIRS[3]))
    assert compose_blog(request(*PAIRS[3])) == first
    other = compose_blog(request(*PAIRS[3][:1], "Milton", "GA", "30004", *PAIRS[3][4:]))
    assert other.body_markdown != first.body_markdown


def shared_sentences(service: str, words: int, cities: list[tuple[str, str]]) -> list[float]:
    """For each pair of cities: the share of sentences their posts have in common."""
    sets = [
        {
            norm(s)
            for s in sentences_of(
                compose_blog(
                    request(f"{service.replace('_', ' ')} help", city, region, None, service, words)
                ).body_markdown
            )
        }
        for city, region in cities
    ]
    return [len(a & b) / min(len(a), len(b)) for a, b in itertools.combinations(sets, 2)]


CITIES = [("Roswell", "GA"), ("Marietta", "GA"), ("Austin", "TX"), ("Denver", "CO")]


@pytest.mark.parametrize("service", SERVICE_TYPES)
def test_posts_for_two_cities_word_their_sentences_differently(service: str) -> None:
    # With no memory of each other, two posts share a sentence only when the draws of
    # every wording choice of it happen to agree (each sentence has hundreds of wordings).
    shares = shared_sentences(service, 2000, CITIES)
    assert max(shares) <= 0.03, shares


@pytest.mark.parametrize("words", [1000, 4000])
@pytest.mark.parametrize("service", SERVICE_TYPES)
def test_an_organizations_posts_for_six_cities_share_no_sentence(service: str, words: int) -> None:
    """Each post avoids the sentences of the ones before, and still passes every check."""
    avoid: set[str] = set()
    posts = []
    for city, region in [*CITIES, ("Tampa", "FL"), ("Seattle", "WA")]:
        draft = compose_blog(
            request(f"{service.replace('_', ' ')} help", city, region, None, service, words),
            avoid=avoid,
        )
        assert all(check.passed for check in draft.seo_checks), (city, draft.seo_checks)
        keys = sentence_keys(draft.body_markdown)
        assert not keys & avoid, (city, sorted(keys & avoid))
        avoid |= keys
        posts.append(keys)
    assert all(not a & b for a, b in itertools.combinations(posts, 2))


def test_avoided_sentences_are_worded_anew_not_dropped() -> None:
    first = compose_blog(request(*PAIRS[2]))
    again = compose_blog(request(*PAIRS[2]), avoid=sentence_keys(first.body_markdown))
    assert not sentence_keys(again.body_markdown) & sentence_keys(first.body_markdown)
    assert abs(again.word_count - first.word_count) <= 0.1 * first.word_count
    assert all(check.passed for check in again.seo_checks), again.seo_checks


def test_knowledge_base_has_no_duplicate_sentence() -> None:
    bank = knowledge()
    lines = [s for sec in bank.sections.values() for p in sec.paragraphs for s in p.sentences]
    lines += [s for faq in bank.faqs for s in faq.answer]
    assert len(lines) == len({norm(line) for line in lines})
    for service, config in bank.blog["services"].items():
        assert all(section in bank.sections for section in config["plan"]), service
        assert sum(1 for faq in bank.faqs if service in faq.services) >= 3


def test_content_data_ships_with_the_package() -> None:
    pyproject = tomllib.loads(Path(__file__).parents[2].joinpath("pyproject.toml").read_text())
    globs = pyproject["tool"]["setuptools"]["package-data"]["eal"]
    assert "ai/data/content/*" in globs


# --- the rules fail on bad drafts ------------------------------------------------------


@pytest.fixture(scope="module")
def good() -> tuple[BlogRequest, str, str, str]:
    req = request(*PAIRS[2])
    draft = compose_blog(req)
    return req, draft.title, draft.meta_description, draft.body_markdown


def failed(req: BlogRequest, title: str, meta: str, body: str) -> set[str]:
    return {check.name for check in check_blog(title, meta, body, req) if not check.passed}


def test_a_good_draft_passes(good: tuple[BlogRequest, str, str, str]) -> None:
    assert failed(*good) == set()


def test_title_and_description_rules(good: tuple[BlogRequest, str, str, str]) -> None:
    req, title, meta, body = good
    assert failed(req, "Drying Out Your Home", meta, body) == {"title_keyword"}
    assert failed(req, title + " " + "x" * 70, meta, body) == {"title_length"}
    assert failed(req, title, "A guide to drying out after a leak.", body) == {"meta_keyword"}
    assert failed(req, title, meta + " " + "y" * 160, body) == {"meta_length"}


def test_a_body_without_faq_fails(good: tuple[BlogRequest, str, str, str]) -> None:
    req, title, meta, body = good
    blocks = body.split("\n\n")
    faq = next(i for i, b in enumerate(blocks) if b.startswith("## ") and "?" in blocks[i + 1])
    after = next(i for i in range(faq + 1, len(blocks)) if blocks[i].startswith("## "))
    assert failed(req, title, meta, "\n\n".join(blocks[:faq] + blocks[after:])) - {
        "word_count"
    } == {"faq"}


def test_an_faq_with_two_questions_fails(good: tuple[BlogRequest, str, str, str]) -> None:
    req, title, meta, body = good
    blocks = body.split("\n\n")
    questions = [i for i, b in enumerate(blocks) if b.startswith("### ") and b.endswith("?")]
    keep = set(questions[:2])
    trimmed = [b for i, b in enumerate(blocks) if i not in questions or i in keep]
    assert failed(req, title, meta, "\n\n".join(trimmed)) >= {"faq"}


def test_keyword_placement_rules(good: tuple[BlogRequest, str, str, str]) -> None:
    req, title, meta, body = good
    opening, rest = body.split("\n\n", 1)
    no_keyword = "Leaks happen to everyone. Here is what to do.\n\n" + rest
    assert "keyword_first_paragraph" in failed(req, title, meta, no_keyword)
    flat = re.sub(r"^## .*$", "## Section", body, flags=re.MULTILINE)
    assert "keyword_h2" in failed(req, title, meta, flat)
    assert opening.lower().count(req.target_keyword) >= 1


def test_local_and_call_to_action_rules(good: tuple[BlogRequest, str, str, str]) -> None:
    req, title, meta, body = good
    assert "local_references" in failed(req, title, meta, body.replace(req.city, "the city"))
    no_phone = body.replace(PHONE, "our office")
    assert "call_to_action" in failed(req, title, meta, no_phone)
    elsewhere = dataclasses.replace(req, organization_name="Other Restoration Co")
    assert "call_to_action" in failed(elsewhere, title, meta, body)
    without = dataclasses.replace(req, phone=None)
    assert "call_to_action" not in failed(without, title, meta, no_phone)


def test_length_heading_and_repetition_rules(good: tuple[BlogRequest, str, str, str]) -> None:
    req, title, meta, body = good
    half = body[: len(body) // 2]
    assert "word_count" in failed(req, title, meta, half)
    assert "headings" in failed(req, title, meta, "### Early\n\n" + body)
    assert "headings" in failed(req, title, meta, "# Title\n\n" + body)
    first = sentences_of(body)[1]
    repeated = body.replace("\n## ", f"\n{first}\n\n## ", 1)
    assert "unique_sentences" in failed(req, title, meta, repeated)


def test_slugify() -> None:
    assert slugify("Water Damage in Coeur d'Alene, ID!") == "water-damage-in-coeur-d-alene-id"
    assert slugify("Señor Café") == "senor-cafe"
    assert slugify("!!!") == "post"
    assert len(slugify("word " * 50)) <= 80


def test_unknown_service_type_is_refused() -> None:
    with pytest.raises(ValueError, match="service type"):
        compose_blog(dataclasses.replace(request(*PAIRS[0]), service_type="roofing"))


# --- nearby places -----------------------------------------------------------------------


def test_nearby_places_from_a_postal_code() -> None:
    places = nearby_places("30075", "Roswell", "GA")
    assert 1 <= len(places) <= 5
    assert "Roswell" not in places
    assert {"Alpharetta", "Marietta", "Sandy Springs"} & set(places)


def test_nearby_places_from_the_city_when_the_code_is_unknown() -> None:
    assert nearby_places(None, "Austin", "TX") == nearby_places("00000", "Austin", "TX")
    assert "Austin" not in nearby_places(None, "Austin", "TX")
    assert len(nearby_places("60601", "Chicago", "IL", limit=3)) == 3


def test_nearby_places_of_nowhere_is_empty() -> None:
    assert nearby_places(None, "Nowhere Special", "ZZ") == ()
