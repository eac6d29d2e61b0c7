"""Review replies: sentiment from text and stars, safe public wording, names, limits, speed."""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import get_args

import pytest

from eal.ai.reviews import (
    DATA_PACKAGE,
    DATA_RESOURCE,
    TONES,
    Sentiment,
    Tone,
    analyze,
    draft_reply,
    first_name,
    fit_to_platform,
    platform_limit,
    scrub,
)

ORG = "BlueWave Restoration"

# (expected sentiment, rating, review). Sarcasm is in its own group below.
REVIEWS: list[tuple[Sentiment, int | None, str]] = [
    # positive
    ("positive", 5, "Mike and his crew showed up within an hour of my call at 2am. They extracted all the water from the basement and set up dehumidifiers. Amazing service!"),
    ("positive", 5, "Excelente servicio, llegaron rápido"),
    ("positive", None, "Excelente servicio, llegaron rápido"),
    ("positive", 5, "After a devastating kitchen fire, the team handled the smoke and soot clean-up with so much compassion. Highly recommend."),
    ("positive", 4, "Very professional crew. They explained every step of the mold remediation and kept us updated daily."),
    ("positive", None, "Our sewer line backed up on Thanksgiving and they were here the same day. Thorough, respectful, and they left the basement cleaner than before."),
    ("positive", None, "The crew was on time and never left a mess."),
    ("positive", 5, "Sara was fantastic. She walked us through the drying process and the moisture readings. Thank you!"),
    ("positive", None, "Honestly a lifesaver after the pipe burst. Five stars, would use again."),
    ("positive", 5, "They got rid of the smoke smell completely and packed out our belongings with great care."),
    ("positive", 5, "Muy profesionales y amables. Recomiendo 100%."),
    ("positive", 5, ""),
    ("positive", None, "No delays, no mess, no complaints. The storm clean-up was done in two days."),
    # negative
    ("negative", 2, "Nice people, but they never came back and the mold is still there. 2 stars"),
    ("negative", 1, "They left a mess everywhere and nobody called me back for two weeks."),
    ("negative", 1, "Terrible experience. The crew was rude and the drywall is still wet."),
    ("negative", None, "Overcharged us and the basement still smells. Would not recommend."),
    ("negative", None, "Worst company ever. Stay away."),
    ("negative", 1, "Thank you for the friendly smiles, but you damaged my hardwood floors and never returned my calls."),
    ("negative", 2, "Pésimo servicio, nunca regresaron a terminar el trabajo."),
    ("negative", None, "Took three weeks to even show up. The mold came back a month later."),
    ("negative", None, "I would give zero stars if I could. Unprofessional from start to finish."),
    # mixed
    ("mixed", 4, "Tech Carlos was great but the office never called me back about scheduling."),
    ("mixed", None, "The water extraction was fast and the crew was friendly, but the drying took forever and the fans were left for two weeks with no updates."),
    ("mixed", 3, "Good work on the repairs, however they were late every single day."),
    ("mixed", 5, "Loved the crew, but the project manager was rude to my wife."),
    ("mixed", 4, "Great results in the end, although there were a lot of delays getting started."),
    ("mixed", 3, "The sewage clean-up was thorough. Could have been better about communication though."),
    # neutral
    ("neutral", 3, "They did the job. Nothing special."),
    ("neutral", 3, "It was ok."),
    ("neutral", None, "Used them for a water heater leak in March."),
    ("neutral", 3, "Average experience overall, the drying took about the usual time."),
    ("neutral", None, ""),
]  # fmt: skip

SARCASTIC: list[tuple[int | None, str]] = [
    (1, "Great job leaving my basement wet for a week. 1 star"),
    (None, "Great job leaving my basement wet for a week."),
    (None, "Thanks for nothing. Really appreciate the crew that never showed up."),
    (1, "Wonderful experience if you enjoy waiting three days for someone to answer the phone."),
    (2, "Oh sure, super professional, they only left trash in my yard."),
    (None, "Awesome, the mold came back in a month. Love paying twice."),
]

#: Negative reviews that bait a reply into admitting fault or discussing money or insurance.
BAIT: list[tuple[int | None, str]] = [
    (1, "This was your fault. Your crew was negligent and flooded my kitchen again. I want a full refund."),
    (1, "You charged $4,850 for three fans. Insurance only covered $2,000 and the adjuster said the price was a rip-off."),
    (2, "My claim #HO-55123 was denied because you never sent the paperwork. Admit your mistake."),
    (1, "I'm calling my lawyer. You are liable for the mold that came back and the damaged floors."),
    (None, "Hidden fees everywhere, the invoice doubled and nobody will explain the bill. Scam."),
    (2, "They promised to waive my deductible and then billed me anyway. Still waiting on a refund of $600."),
    (1, "Worst experience. They broke our cabinets and the owner said it was the insurance company's problem."),
    (None, "Rude estimator, sloppy work, overcharged. Refund me or I'm filing with the Better Business Bureau."),
    (3, "The drying was fine but the cost was outrageous and they argued about what my policy covers."),
    (4, "Nice crew but the price went up $1,200 after they started and nobody called me back."),
]  # fmt: skip

FORBIDDEN = re.compile(
    r"mistake|fault|negligen|liab|responsib|insur|claim|adjuster|deductible|polic|price|pricing"
    r"|cost|refund|reimburs|compensat|\$|\bamount|dollar|invoice|\bbill|charge|\bfees?\b|money"
    r"|discount|lawyer|attorney|legal|\berror|messed up|screwed up|should have|\d",
    re.IGNORECASE,
)
CONTRACTION = re.compile(r"\b\w+'(?:s|re|ll|ve|d|m|t)\b|n't\b", re.IGNORECASE)


def reply(
    text: str,
    rating: int | None = 5,
    *,
    name: str | None = None,
    tone: Tone = "warm-professional",
    platform: str = "google",
    org: str = ORG,
) -> str:
    return draft_reply(
        review_text=text,
        rating=rating,
        reviewer_name=name,
        tone=tone,
        org_name=org,
        platform=platform,
    ).response_text


def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+|\n+", text) if s]


# --- sentiment -------------------------------------------------------------------------


def test_the_corpus_covers_every_kind_of_review() -> None:
    kinds = {expected for expected, _, _ in REVIEWS}
    assert kinds == set(get_args(Sentiment))
    assert len(REVIEWS) + len(SARCASTIC) >= 25


@pytest.mark.parametrize(("expected", "rating", "text"), REVIEWS)
def test_sentiment(expected: Sentiment, rating: int | None, text: str) -> None:
    result = analyze(text, rating)
    assert result.sentiment == expected, result.reasons
    assert -1.0 <= result.compound <= 1.0
    assert result.reasons


@pytest.mark.parametrize(("rating", "text"), SARCASTIC)
def test_sarcasm_is_negative(rating: int | None, text: str) -> None:
    result = analyze(text, rating)
    assert result.sentiment == "negative", result.reasons
    assert result.compound > 0  # VADER alone reads the words as praise


def test_the_rating_decides_over_polite_words() -> None:
    text = "Nice people, but they never came back and the mold is still there. 2 stars"
    result = analyze(text, 2)
    assert result.sentiment == "negative"
    assert "2-star rating" in result.reasons
    assert any("outweigh" in reason for reason in result.reasons)
    assert analyze("Great job leaving my basement wet for a week.", 1).sentiment == "negative"
    # The same praise with a complaint: mixed at 4-5 stars, mixed at 3, negative at 1-2.
    praise_and_complaint = "Mike was great, but the drywall is still wet."
    assert [analyze(praise_and_complaint, r).sentiment for r in (1, 2, 3, 4, 5)] == [
        "negative", "negative", "mixed", "mixed", "mixed"
    ]  # fmt: skip
    assert [analyze("They came and did the work.", r).sentiment for r in (1, 3, 5)] == [
        "negative", "neutral", "positive"
    ]  # fmt: skip


def test_a_rating_in_the_text_counts_when_none_is_given() -> None:
    assert analyze("Nice guys. 2/5", None).sentiment == "negative"
    assert analyze("Would give 0 stars", None).sentiment == "negative"
    result = analyze("Fine. Three stars.", None)
    assert result.sentiment == "neutral" and "3-star rating read from the text" in result.reasons
    # The given rating wins over the text.
    assert analyze("1 star, just kidding, they were great", 5).sentiment == "positive"


def test_disaster_words_are_not_complaints() -> None:
    text = "The fire was devastating and the damage was a nightmare. The crew was amazing."
    assert analyze(text, None).sentiment == "positive"
    assert analyze("They were never late and never left a mess.", None).sentiment == "positive"


def test_ratings_out_of_range_are_refused() -> None:
    for rating in (0, 6, -1):
        with pytest.raises(ValueError):
            analyze("ok", rating)


# --- greeting --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("John Smith", "John"),
        ("john smith", "John"),
        ("JOHN SMITH", "John"),
        ("Dr. Sarah Lee", "Sarah"),
        ("Smith, John", "John"),
        ("John Smith, Jr.", "John"),
        ("Mary-Jane O'Neil", "Mary-Jane"),
        ("María José García", "María"),
        ("DeShawn Williams", "DeShawn"),
        ("John S.", "John"),
        ("J. Smith", None),
        ("J Smith", None),
        ("jsmith@example.com", None),
        ("@jsmith", None),
        ("jsmith", None),
        ("JSmith", None),
        ("mike_77", None),
        ("Mike 512-555-0101", None),
        ("The Garcia Family", None),
        ("ABC Property Management LLC", None),
        ("A Google User", None),
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_first_name(raw: str | None, expected: str | None) -> None:
    assert first_name(raw) == expected


def test_greeting_uses_the_first_name_only() -> None:
    text = "Great crew, fast water extraction."
    full = reply(text, name="John Smith")
    assert full.splitlines()[0].rstrip(",") in {"Hi John", "Hello John", "Dear John"}
    assert "Smith" not in full
    initial = reply(text, name="J. Smith")
    assert "Smith" not in initial and "J." not in initial
    for raw in ("jsmith@example.com", "@jsmith", None, ""):
        anonymous = reply(text, name=raw)
        assert "jsmith" not in anonymous.lower() and "example" not in anonymous
        assert anonymous.splitlines()[0] in {"Hello,", "Hi there,", "Greetings,"}


# --- specifics -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "mentions", "phrases"),
    [
        (
            "Mike and his crew showed up within an hour and extracted all the water.",
            {"quick arrival", "water extraction", "Mike"},
            ["the quick response", "the water extraction", "Mike"],
        ),
        (
            "Sara was fantastic. The dehumidifiers had the basement dry in three days.",
            {"drying", "Sara"},
            ["the drying", "Sara"],
        ),
        ("Flawless mold remediation, very thorough.", {"mold remediation", "thoroughness"}, []),
        ("They handled the soot and smoke odor after our fire.", {"fire and smoke clean-up"}, []),
        ("Sewage backed up into the basement; they cleaned it all.", {"sewage clean-up"}, []),
        (
            "Our tech Ana Rodriguez kept us informed every day.",
            {"communication", "Ana"},
            ["the communication throughout the job", "Ana"],
        ),
        ("Spotless work, they wore shoe covers the whole time.", {"cleanliness"}, []),
        ("Excelente servicio, llegaron rápido", {"quick arrival"}, ["the quick response"]),
    ],
)
def test_positive_replies_mention_the_specifics(
    text: str, mentions: set[str], phrases: list[str]
) -> None:
    result = draft_reply(
        review_text=text,
        rating=5,
        reviewer_name="Pat Lee",
        tone="warm-professional",
        org_name=ORG,
        platform="google",
    )
    assert result.sentiment == "positive" and result.auto_publish_recommended
    assert mentions <= set(result.mentions)
    for phrase in phrases:
        assert phrase in result.response_text
    assert "Rodriguez" not in result.response_text


def test_negative_replies_name_the_concerns_but_not_the_staff() -> None:
    text = "Mike was rude, the drying took forever and the basement is still wet."
    result = draft_reply(
        review_text=text,
        rating=1,
        reviewer_name=None,
        tone="warm-professional",
        org_name=ORG,
        platform="google",
    )
    assert result.sentiment == "negative" and not result.auto_publish_recommended
    assert {"drying", "delays", "results", "staff conduct"} & set(result.mentions)
    assert "drying" in result.response_text and "delays" in result.response_text
    assert "Mike" not in result.response_text and "Mike" not in result.mentions


def test_mixed_replies_thank_for_the_praise_and_apologise_for_the_rest() -> None:
    text = (
        "The water extraction was fast and Carlos was great, but the drying took forever "
        "and nobody called me back."
    )
    result = draft_reply(
        review_text=text,
        rating=4,
        reviewer_name="Lee Park",
        tone="warm-professional",
        org_name=ORG,
        platform="google",
    )
    assert result.sentiment == "mixed" and not result.auto_publish_recommended
    assert {"water extraction", "Carlos", "drying", "delays", "communication"} <= set(
        result.mentions
    )
    body = result.response_text
    assert "the water extraction" in body and "Carlos" in body and "sorry" in body
    assert ORG in body


# --- what a reply never says ------------------------------------------------------------


@pytest.mark.parametrize("tone", TONES)
def test_negative_replies_never_admit_fault_or_discuss_money(tone: Tone) -> None:
    negative = [(r, t) for e, r, t in REVIEWS if e in ("negative", "mixed")]
    for rating, text in [*BAIT, *SARCASTIC, *negative]:
        result = draft_reply(
            review_text=text,
            rating=rating,
            reviewer_name="Chris Doe",
            tone=tone,
            org_name=ORG,
            platform="google",
        )
        assert result.sentiment in ("negative", "mixed"), text
        assert not result.auto_publish_recommended
        found = FORBIDDEN.search(result.response_text)
        assert found is None, (found, result.response_text)
        assert re.search(r"\bsorry\b", result.response_text, re.IGNORECASE)
        assert f"the {ORG} office" in result.response_text  # the offline invitation


def test_the_phrase_bank_itself_is_safe() -> None:
    raw = resources.files(DATA_PACKAGE).joinpath(DATA_RESOURCE).read_text("utf-8")
    bank = json.loads(raw)
    assert set(bank["tones"]) == set(TONES)
    phrases = [entry["phrase"] for entry in bank["concerns"] + bank["specifics"]]
    phrases += list(bank["fragments"].values())
    for tone, slots in bank["tones"].items():
        for slot, variants in slots.items():
            for variant in variants:
                assert FORBIDDEN.search(variant) is None, (tone, slot, variant)
                if tone == "formal":
                    assert "!" not in variant and not CONTRACTION.search(variant), variant
    for phrase in phrases:
        assert phrase is None or FORBIDDEN.search(phrase) is None, phrase


def test_personal_data_in_the_review_is_never_echoed() -> None:
    text = (
        "Call me at (512) 555-0199 or email jane.doe@gmail.com. I live at 1423 N. Maple Street "
        "Apt 4B, Austin TX 78701. Claim #HO-778812 and job number 2024-5531 are still open, "
        "policy 99812-A. Tech Mike Johnson was great, but nobody called me back. "
        "See https://photos.example.com/jane for the pictures."
    )
    secrets = [
        "512", "555", "0199", "jane.doe", "gmail", "1423", "Maple", "78701", "HO-778812",
        "2024", "5531", "99812", "Johnson", "Doe", "photos.example", "https",
    ]  # fmt: skip
    for rating in (1, 3, 4, 5):
        for tone in TONES:
            result = draft_reply(
                review_text=text,
                rating=rating,
                reviewer_name="Jane Doe",
                tone=tone,
                org_name=ORG,
                platform="facebook",
            )
            for secret in secrets:
                assert secret not in result.response_text, (secret, result.response_text)
                assert all(secret not in mention for mention in result.mentions)
            assert not re.search(r"\d", result.response_text)
    cleaned = scrub(text)
    assert "@" not in cleaned and "555-0199" not in cleaned and "Maple Street" not in cleaned
    assert "HO-778812" not in cleaned and "78701" not in cleaned and "https" not in cleaned


# --- wording ---------------------------------------------------------------------------


def test_replies_are_deterministic() -> None:
    for _, rating, text in REVIEWS:
        first = draft_reply(
            review_text=text,
            rating=rating,
            reviewer_name="Pat Lee",
            tone="friendly",
            org_name=ORG,
            platform="yelp",
        )
        again = draft_reply(
            review_text=text,
            rating=rating,
            reviewer_name="Pat Lee",
            tone="friendly",
            org_name=ORG,
            platform="yelp",
        )
        assert first == again


def test_different_reviews_get_different_openings() -> None:
    positive = list(dict.fromkeys(text for kind, _, text in REVIEWS if kind == "positive" and text))
    positive += [
        "Fantastic team, thank you!",
        "Five stars for the crew that saved our basement.",
        "Could not be happier with the work.",
        "Best restoration company in town.",
    ]
    openings = {"\n".join(sentences(reply(text, 5))[:2]) for text in positive}
    assert len(openings) >= 6, openings
    bodies = {reply(text, 5) for text in positive}
    assert len(bodies) == len(positive)


def test_tones_differ_in_words_and_length() -> None:
    text = (
        "Mike and his crew arrived within an hour, extracted the water and kept us informed. "
        "Spotless and professional."
    )
    by_tone = {tone: reply(text, 5, name="Pat Lee", tone=tone) for tone in TONES}
    assert len(set(by_tone.values())) == len(TONES)
    lengths = {tone: len(body) for tone, body in by_tone.items()}
    assert lengths["concise"] == min(lengths.values())
    assert lengths["concise"] < 0.7 * lengths["warm-professional"]
    assert "!" in by_tone["friendly"]
    for rating, review in [(r, t) for _, r, t in REVIEWS] + BAIT:
        formal = reply(review, rating, name="Pat Lee", tone="formal")
        assert "!" not in formal and not CONTRACTION.search(formal), formal
        concise = reply(review, rating, name="Pat Lee", tone="concise")
        warm = reply(review, rating, name="Pat Lee", tone="warm-professional")
        assert len(concise) < len(warm)
        assert len(sentences(concise)) <= 5  # greeting, at most three sentences, sign-off


# --- platform limits -------------------------------------------------------------------


def test_platform_limits() -> None:
    assert platform_limit("google") == (4096, "bytes")
    assert platform_limit("Google Business Profile") == (4096, "bytes")
    assert platform_limit("Yelp") == (5000, "chars")
    assert platform_limit("facebook") == (8000, "chars")
    assert platform_limit("angi") == (4096, "bytes")


def test_a_very_long_review_gets_a_reply_within_every_limit() -> None:
    review = (
        "Mike and Sara were amazing with the water extraction, drying, mold remediation and "
        "smoke clean-up. They kept us informed and left the house spotless. "
    ) * 300 + "But the office never called me back about the final walkthrough."
    assert len(review) > 40_000
    for platform, limit, unit in [
        ("google", 4096, "bytes"),
        ("yelp", 5000, "chars"),
        ("facebook", 8000, "chars"),
        ("nextdoor", 4096, "bytes"),
    ]:
        result = draft_reply(
            review_text=review,
            rating=4,
            reviewer_name="Pat " + "Lee" * 2000,
            tone="warm-professional",
            org_name=ORG,
            platform=platform,
        )
        size = len(result.response_text.encode()) if unit == "bytes" else len(result.response_text)
        assert size <= limit
        assert result.response_text.endswith(f"The {ORG} team")
        assert "Mike" in result.response_text and "water extraction" in result.response_text


@pytest.mark.parametrize(
    ("platform", "limit", "unit"),
    [("google", 4096, "bytes"), ("yelp", 5000, "chars"), ("facebook", 8000, "chars"), ("x", 4096, "bytes")],
)  # fmt: skip
def test_fitting_never_cuts_inside_a_word(platform: str, limit: int, unit: str) -> None:
    text = "Gracias por confiar en nosotros después del incendio 🔥 señora Muñoz " * 400
    fitted = fit_to_platform(text, platform)
    size = len(fitted.encode()) if unit == "bytes" else len(fitted)
    assert limit - 80 < size <= limit
    head = fitted.removesuffix("\u2026")
    assert text.startswith(head) and text[len(head)] == " "
    # A long org name forces the cut inside a drafted reply too.
    long_org = "Rapid Response Restoración " * 400
    drafted = reply("Great job on the drying!", 5, platform=platform, org=long_org)
    size = len(drafted.encode()) if unit == "bytes" else len(drafted)
    assert size <= limit
    words = set(
        reply("Great job on the drying!", 5, platform="facebook", org=long_org[:60]).split()
    )
    assert set(drafted.removesuffix("\u2026").split()) <= words | set(long_org.split())
    # Short texts are left alone; a full sentence is kept whole when it is most of the text.
    assert fit_to_platform("Thank you!", platform) == "Thank you!"
    sentence_cut = fit_to_platform("One sentence here. " * 600, platform)
    assert sentence_cut.endswith("here.")
