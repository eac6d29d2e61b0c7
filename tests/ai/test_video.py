"""Video scripts: pacing at 150 words a minute for every format and many durations, scene
seconds, the 30-second cutdown, structure per format, topics steering the material."""

from __future__ import annotations

import pytest

from eal.ai.content_kb import count_words
from eal.ai.video import (
    FORMATS,
    WORDS_PER_MINUTE,
    VideoScript,
    compose_video_script,
    service_for_topic,
)

ORG = "BlueWave Restoration"
PHONE = "(770) 555-0142"
TOPICS = [
    "5 signs of hidden water damage in your basement",
    "what to do after a kitchen fire",
    "mold in the attic",
    "hoarding cleanup for families",
    "hail damage to your roof",
    "sewer backup in the basement",
]
LONG = [15, 20, 25, 30, 45, 60, 75, 90, 120, 150, 180, 240, 300, 360, 450, 540, 600]
SHORT = [15, 20, 25, 30, 40, 45, 50, 60]


def assert_paced(script: VideoScript, seconds: int) -> None:
    target = seconds * WORDS_PER_MINUTE / 60
    spoken = sum(count_words(scene.voiceover) for scene in script.scenes)
    assert script.word_count == spoken
    assert abs(spoken - target) <= 0.1 * target, (spoken, target)
    assert script.duration_seconds == seconds
    assert sum(scene.duration_seconds for scene in script.scenes) == seconds
    assert [scene.scene for scene in script.scenes] == list(range(1, len(script.scenes) + 1))
    for scene in script.scenes:
        assert scene.voiceover and scene.broll_suggestion and scene.lower_third
        assert scene.duration_seconds >= 1
        assert len(scene.lower_third) <= 60


@pytest.mark.parametrize("format", FORMATS)
@pytest.mark.parametrize("topic", TOPICS)
def test_voiceover_matches_the_duration(format: str, topic: str) -> None:
    for seconds in SHORT if format == "short" else LONG:
        assert_paced(compose_video_script(topic, format, seconds, ORG, PHONE), seconds)


def test_every_script_closes_with_the_call() -> None:
    for format in FORMATS:
        script = compose_video_script(TOPICS[0], format, 60, ORG, PHONE)
        assert ORG in script.scenes[-1].voiceover and PHONE in script.scenes[-1].voiceover
        unnumbered = compose_video_script(TOPICS[0], format, 60, ORG, None)
        assert ORG in unnumbered.scenes[-1].voiceover
        assert "call" not in unnumbered.scenes[-1].voiceover.lower().split()[:2]


def test_the_30_second_cutdown() -> None:
    for topic in TOPICS:
        cut = compose_video_script(topic, "short", 30, ORG, PHONE)
        assert_paced(cut, 30)
        assert cut.format == "short" and 3 <= len(cut.scenes) <= 5
        assert all(scene.duration_seconds <= 20 for scene in cut.scenes)


def test_a_feature_has_a_hook_points_and_a_close() -> None:
    script = compose_video_script(TOPICS[0], "feature", 180, ORG, PHONE)
    assert len(script.scenes) >= 5
    assert TOPICS[0] in script.scenes[0].voiceover
    assert len({scene.lower_third for scene in script.scenes}) == len(script.scenes)


def test_a_testimonial_tells_a_customer_story() -> None:
    script = compose_video_script(
        "our fire restoration customer story", "testimonial", 120, ORG, PHONE
    )
    thirds = [scene.lower_third for scene in script.scenes]
    assert thirds[0] in ("A customer story", "Real jobs, real homes")
    assert any(t in ("The result", "Job complete") for t in thirds[-2:])
    assert "smoke" in script.scenes[1].voiceover.lower()


def test_topic_words_choose_the_material() -> None:
    assert service_for_topic("mold in the attic") == "mold_remediation"
    assert service_for_topic("smoke odor after a kitchen fire") == "fire_damage"
    assert service_for_topic("sewer backup in the basement") == "sewage_cleanup"
    assert service_for_topic("hail and wind damage to the roof") == "storm_damage"
    assert service_for_topic("crime scene and trauma cleanup") == "biohazard"
    assert service_for_topic("tips for new homeowners") == "water_damage"
    attic = compose_video_script("mold in the attic", "feature", 90, ORG, PHONE)
    spoken = " ".join(scene.voiceover.lower() for scene in attic.scenes)
    assert "attic" in spoken and "mold" in spoken
    hidden = compose_video_script(TOPICS[0], "feature", 60, ORG, PHONE)
    assert hidden.scenes[1].lower_third.lower().startswith(("signs", "hidden"))


def test_same_arguments_same_script() -> None:
    first = compose_video_script(TOPICS[2], "feature", 240, ORG, PHONE)
    assert compose_video_script(TOPICS[2], "feature", 240, ORG, PHONE) == first
    lines = [scene.voiceover for scene in first.scenes]
    sentences = [s for line in lines for s in line.split(". ")]
    assert len(sentences) == len(set(sentences))


@pytest.mark.parametrize(
    ("format", "seconds"),
    [("feature", 14), ("feature", 601), ("short", 61), ("vertical", 30), ("testimonial", 0)],
)
def test_out_of_range_requests_are_refused(format: str, seconds: int) -> None:
    with pytest.raises(ValueError):
        compose_video_script(TOPICS[0], format, seconds, ORG, PHONE)
