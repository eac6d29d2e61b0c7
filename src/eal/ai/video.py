"""Video scripts in scenes (voiceover, B-roll, lower third, seconds), composed offline.

`compose_video_script` reads the topic for its service (water, fire, mold, biohazard,
storm, sewage: by the words in ``data/content/video.json``; water when none is named) and
ranks that service's knowledge-base sections by the topic's words, so "signs of hidden
water damage in your basement" leads with the hidden-water material. Formats:

- ``feature``: a hook, one scene per point (a section's leading sentences), a closing call;
- ``short`` (15-60 seconds): a hook, one or two points, the call, in the shortest wording;
- ``testimonial``: a customer-story structure (what happened, the call, the crew's arrival,
  what the crew did, the result) closing with the call.

The voiceover is paced at 150 words a minute: its words are within 10% of
``duration_seconds * 150 / 60``, and the scenes' seconds add up to `duration_seconds`,
shared by their words. A phone number counts as the words it is written in. The same
arguments give the same script.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eal.ai.content_kb import Section, count_words, knowledge, render

__all__ = [
    "FORMATS",
    "MAX_SECONDS",
    "MIN_SECONDS",
    "WORDS_PER_MINUTE",
    "Scene",
    "VideoScript",
    "compose_video_script",
    "service_for_topic",
]

FORMATS = ("feature", "short", "testimonial")
WORDS_PER_MINUTE = 150
MIN_SECONDS, MAX_SECONDS = 15, 600
SHORT_MAX_SECONDS = 60
TOLERANCE = 0.10
#: Voiceover sentences longer than this are left out: they are hard to say in one breath.
MAX_SENTENCE_WORDS = 28
_WORD = re.compile(r"[a-z]+")
# A sentence opening like this needs the one before it.
_LEANS = re.compile(
    r"^(?:they|it|its|this|that|these|those|their|there|both|each|so|but|and)\b", re.I
)


@dataclass(frozen=True, slots=True)
class Scene:
    scene: int
    voiceover: str
    broll_suggestion: str
    lower_third: str
    duration_seconds: int


@dataclass(frozen=True, slots=True)
class VideoScript:
    title: str
    format: str
    duration_seconds: int
    scenes: tuple[Scene, ...]
    word_count: int


@dataclass
class _Draft:
    lines: list[str]
    broll: str
    lower_third: str
    section: str = ""

    @property
    def words(self) -> int:
        return sum(count_words(line) for line in self.lines)


def service_for_topic(topic: str) -> str:
    """The service type whose words the topic uses most (water damage when none)."""
    words = _WORD.findall(topic.lower())
    table: Mapping[str, Sequence[str]] = knowledge().video["service_words"]
    scores = {service: sum(w in vocab for w in words) for service, vocab in table.items()}
    best = max(scores, key=lambda s: scores[s])
    return best if scores[best] else "water_damage"


def _ranked_sections(service: str, topic: str) -> list[Section]:
    bank = knowledge()
    words = set(_WORD.findall(topic.lower()))
    plan = [bank.sections[i] for i in bank.blog["services"][service]["plan"]]

    def score(item: tuple[int, Section]) -> tuple[int, int]:
        index, section = item
        heading_words = set(_WORD.findall(" ".join(section.headings).lower()))
        return (-len(words & (section.tags | heading_words)), index)

    return [section for _, section in sorted(enumerate(plan), key=score)]


def _points(sections: Sequence[Section], rng: random.Random) -> list[tuple[Section, list[str]]]:
    """Each section's sayable sentences in order, without one that leans on a left-out one
    ("They..." after a sentence too long to say)."""
    out = []
    seen: set[str] = set()
    for section in sections:
        lines: list[str] = []
        for paragraph in section.paragraphs:
            kept = True
            for raw in paragraph.sentences:
                line = render(raw, rng)
                leans = bool(_LEANS.match(line))
                if count_words(line) > MAX_SENTENCE_WORDS or line.lower() in seen:
                    kept = False
                    continue
                if leans and not kept:
                    continue
                seen.add(line.lower())
                lines.append(line)
                kept = True
        out.append((section, lines))
    return out


def _shortest_fit(options: Sequence[str], budget: int) -> str:
    """The longest option within `budget` words, else the shortest."""
    fitting = [o for o in options if count_words(o) <= budget]
    if fitting:
        return max(fitting, key=count_words)
    return min(options, key=count_words)


def compose_video_script(
    topic: str,
    format: str,
    duration_seconds: int,
    organization_name: str,
    phone: str | None,
) -> VideoScript:
    """A script for `topic` in `format`, paced to `duration_seconds` (see the module doc)."""
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, not {format!r}")
    if not MIN_SECONDS <= duration_seconds <= MAX_SECONDS:
        raise ValueError(f"duration_seconds must be {MIN_SECONDS}-{MAX_SECONDS}")
    if format == "short" and duration_seconds > SHORT_MAX_SECONDS:
        raise ValueError(f"a short runs at most {SHORT_MAX_SECONDS} seconds")
    topic = " ".join(topic.split())
    org = " ".join(organization_name.split())
    video: Mapping[str, Any] = knowledge().video
    key = "|".join([topic.lower(), format, str(duration_seconds), org.lower()])
    rng = random.Random(int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest()))
    service = service_for_topic(topic)
    target = round(duration_seconds * WORDS_PER_MINUTE / 60)
    slots = {"org": org, "phone": phone or "", "topic": topic}
    sections = _ranked_sections(service, topic)
    points = _points(sections, rng)

    cta_options = [render(line, rng, slots) for line in video["cta" if phone else "cta_no_phone"]]
    cta = _Draft(
        [_shortest_fit(cta_options, max(8, target // 5))],
        rng.choice(video["cta_broll"]),
        f"{org} | {phone}" if phone else org,
    )
    opening = sections[0]
    hook_lines = [_shortest_fit(video["hooks"][service], max(6, target // 6))]
    if format != "short" or target >= 60:
        topic_line = rng.choice(video["topic_hooks"]).format(topic=topic)
        if count_words(topic_line) <= target // 4:
            hook_lines.append(topic_line)
    hook = _Draft(hook_lines, rng.choice(opening.broll), _lower_third(topic))
    if format == "testimonial":
        scenes = [*_story(service, points, video, rng, target - cta.words), cta]
    else:
        most = 2 if format == "short" else max(2, min(12, duration_seconds // 25))
        budget = target - hook.words - cta.words
        scenes = [hook, *_point_scenes(points, budget, most, rng), cta]
    _top_up(scenes, target, video["bridges"], points, rng, story=format == "testimonial")
    return _finish(topic, format, duration_seconds, scenes)


def _lower_third(topic: str) -> str:
    words = topic.split()
    text = " ".join(words)
    while len(text) > 40 and len(words) > 1:
        words = words[:-1]
        text = " ".join(words) + "..."
    return text[:1].upper() + text[1:]


def _point_scenes(
    points: Sequence[tuple[Section, list[str]]], budget: int, most: int, rng: random.Random
) -> list[_Draft]:
    scenes: list[_Draft] = []
    per_scene = max(12, budget // most)
    for section, lines in points:
        if len(scenes) >= most or budget < 5:
            break
        chosen: list[str] = []
        words = 0
        for line in lines:
            size = count_words(line)
            if words + size <= min(per_scene, budget) or (not chosen and size <= budget):
                chosen.append(line)
                words += size
            if words >= per_scene * 0.8:
                break
        if not chosen:
            continue
        budget -= words
        short = rng.choice(section.short) if section.short else section.headings[0]
        scenes.append(_Draft(chosen, rng.choice(section.broll), short, section.id))
    return scenes


def _story(
    service: str,
    points: Sequence[tuple[Section, list[str]]],
    video: Mapping[str, Any],
    rng: random.Random,
    budget: int,
) -> list[_Draft]:
    story = video["story"]
    beats = []
    tight = budget < 60  # the shortest wording of each beat
    for beat in ("intro", "problem", "call", "arrival"):
        options = story[beat][service] if beat == "problem" else story[beat]
        beats.append((beat, min(options, key=count_words) if tight else rng.choice(options)))
    result = min(story["result"], key=count_words) if tight else rng.choice(story["result"])
    drafts = [
        _Draft([line], rng.choice(story["broll"][beat]), rng.choice(story["lower_thirds"][beat]))
        for beat, line in beats
    ]
    used = sum(d.words for d in drafts) + count_words(result)
    # A short testimonial drops beats, least needed first: the intro, then the call.
    for beat in ("intro", "call", "arrival"):
        if used <= budget:
            break
        drop = next(d for d, (name, _) in zip(drafts, beats, strict=False) if name == beat)
        drafts.remove(drop)
        beats = [b for b in beats if b[0] != beat]
        used = sum(d.words for d in drafts) + count_words(result)
    work = _point_scenes(points, budget - used, max(1, (budget - used) // 45), rng)
    closing = _Draft(
        [result], rng.choice(story["broll"]["result"]), rng.choice(story["lower_thirds"]["result"])
    )
    return [*drafts, *work, closing]


def _top_up(
    scenes: list[_Draft],
    target: int,
    bridges: Sequence[str],
    points: Sequence[tuple[Section, list[str]]],
    rng: random.Random,
    story: bool = False,
) -> None:
    """Bring the voiceover within the tolerance: a point scene takes more of its own
    section's lines (or a new point scene is added before the close), or gives some back."""
    low, high = target * (1 - TOLERANCE / 2), target * (1 + TOLERANCE / 2)
    used = {line for scene in scenes for line in scene.lines}
    spare: list[tuple[str, Section | None]] = [
        (line, section)
        for section, lines in points
        for line in lines
        if line not in used and not _LEANS.match(line)
    ]
    own = {scene.section for scene in scenes if scene.section}
    spare.sort(key=lambda item: item[1] is None or item[1].id not in own)
    if not story:
        spare += [(b, None) for b in bridges if b not in used]
    total = sum(scene.words for scene in scenes)
    middle = scenes[1:-1] or scenes
    while total < low and spare:
        fitting = [item for item in spare if total + count_words(item[0]) <= high]
        if not fitting:
            break
        line, section = (
            fitting[0]
            if fitting[0][1] is not None
            else max(fitting, key=lambda item: count_words(item[0]))
        )
        spare.remove((line, section))
        home = next((s for s in middle if section and s.section == section.id), None)
        if home is None and section is not None and len(scenes) > 1:
            short = rng.choice(section.short) if section.short else section.headings[0]
            home = _Draft([], rng.choice(section.broll), short, section.id)
            scenes.insert(len(scenes) - 1, home)
            middle = scenes[1:-1]
        (home or middle[-1]).lines.append(line)
        total += count_words(line)
    while total > high:
        removable = [
            s for s in middle if len(s.lines) > 1 and total - count_words(s.lines[-1]) >= low
        ]
        if not removable:
            removable = [s for s in middle if len(s.lines) > 1]
        if not removable:
            break
        scene = max(removable, key=lambda s: count_words(s.lines[-1]))
        total -= count_words(scene.lines.pop())


def _finish(topic: str, format: str, duration: int, drafts: Sequence[_Draft]) -> VideoScript:
    drafts = [d for d in drafts if d.lines]
    words = [d.words for d in drafts]
    total = sum(words) or 1
    # Seconds shared by words, each scene at least 2 s, summing exactly to `duration`.
    shares = [max(2.0, duration * w / total) for w in words]
    scale = duration / sum(shares)
    seconds = [max(2, int(s * scale)) for s in shares]
    remainders = sorted(
        range(len(shares)), key=lambda i: shares[i] * scale - seconds[i], reverse=True
    )
    i = 0
    while sum(seconds) < duration:
        seconds[remainders[i % len(remainders)]] += 1
        i += 1
    while sum(seconds) > duration:
        j = max(range(len(seconds)), key=lambda k: seconds[k])
        seconds[j] -= 1
    scenes = tuple(
        Scene(n, " ".join(d.lines), d.broll, d.lower_third, s)
        for n, (d, s) in enumerate(zip(drafts, seconds, strict=True), start=1)
    )
    title = topic[:1].upper() + topic[1:] if topic else "Restoration tips"
    if format == "short":
        title = f"{title} (short)"
    return VideoScript(title, format, duration, scenes, sum(words))
