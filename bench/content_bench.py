"""Content: how fast the embedded generators compose, on one worker (one process, one thread).

1. Blog drafts of 2,000 words, cycling through the six service types and a set of cities:
   drafts per second, mean and p99 ms (target: a 2,000-word draft < 500 ms).
2. Video scripts (feature 180 s, short 30 s, testimonial 90 s, in turn): scripts per second.
3. Review replies (`eal.ai.reviews.draft_reply`) on reviews of ordinary length, positive,
   negative and mixed in turn: replies per second, mean and p99 ms (target < 20 ms).

The first call of each loads its bank (and VADER's lexicon) and is timed apart, as "load".

    python bench/content_bench.py [--drafts 200] [--scripts 600] [--replies 2000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import percentile

DRAFT_TARGET_MS = 500.0
REPLY_TARGET_MS = 20.0
CITIES = [
    ("Roswell", "GA", "30075"),
    ("Austin", "TX", "78701"),
    ("Denver", "CO", "80202"),
    ("Tampa", "FL", "33602"),
    ("Columbus", "OH", "43215"),
    ("Seattle", "WA", "98101"),
    ("Raleigh", "NC", "27601"),
]
REVIEWS = [
    (
        5,
        "They were at our house within the hour after a pipe burst. Mike and Ana were "
        "professional, explained the drying and the house was dry in four days. Thank you!",
    ),
    (
        2,
        "The crew was polite but they left the basement wet for a week and nobody called "
        "back when I asked about the schedule. Disappointed.",
    ),
    (
        4,
        "Great job on the smoke odor, the kitchen smells normal again, but the estimate took "
        "longer than promised.",
    ),
]


def timed(count: int, call: Callable[[int], object]) -> dict[str, float]:
    """Run call(0) once apart (the load), then `count` calls: rate, mean and p99 ms."""
    start = time.perf_counter()
    call(0)
    load_ms = (time.perf_counter() - start) * 1000
    times = []
    began = time.perf_counter()
    for i in range(1, count + 1):
        start = time.perf_counter()
        call(i)
        times.append((time.perf_counter() - start) * 1000)
    elapsed = time.perf_counter() - began
    return {
        "count": count,
        "per_second": round(count / elapsed, 1),
        "mean_ms": round(statistics.fmean(times), 2),
        "p99_ms": round(percentile(times, 99), 2),
        "load_ms": round(load_ms, 1),
    }


def blog_figures(count: int) -> dict[str, Any]:
    from eal.ai.blog import SERVICE_TYPES, BlogRequest, compose_blog, nearby_places

    words: list[int] = []

    def draft(i: int) -> None:
        service = SERVICE_TYPES[i % len(SERVICE_TYPES)]
        city, region, postal = CITIES[i % len(CITIES)]
        result = compose_blog(
            BlogRequest(
                target_keyword=f"{service.replace('_', ' ')} {city.lower()} {i}",
                city=city,
                region=region,
                postal_code=postal,
                service_type=service,
                word_count_target=2000,
                organization_name="BlueWave Restoration",
                phone="(770) 555-0142",
                website="https://bluewave.example",
                nearby_places=nearby_places(postal, city, region),
            )
        )
        words.append(result.word_count)

    figures = timed(count, draft)
    figures["mean_words"] = round(statistics.fmean(words))
    return figures


def video_figures(count: int) -> dict[str, Any]:
    from eal.ai.video import compose_video_script

    runs = [("feature", 180), ("short", 30), ("testimonial", 90)]
    topics = ["signs of hidden water damage", "smoke odor after a fire", "mold in the attic"]

    def script(i: int) -> None:
        format, seconds = runs[i % len(runs)]
        topic = f"{topics[i % len(topics)]} {i}"
        compose_video_script(topic, format, seconds, "BlueWave Restoration", "(770) 555-0142")

    return timed(count, script)


def reply_figures(count: int) -> dict[str, Any]:
    from eal.ai.reviews import draft_reply

    def reply(i: int) -> None:
        rating, text = REVIEWS[i % len(REVIEWS)]
        draft_reply(
            review_text=f"{text} (visit {i})",
            rating=rating,
            reviewer_name="Sarah Jones",
            org_name="BlueWave Restoration",
            platform="google",
        )

    return timed(count, reply)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--drafts", type=int, default=200, help="2,000-word drafts to compose")
    parser.add_argument("--scripts", type=int, default=600, help="video scripts to compose")
    parser.add_argument("--replies", type=int, default=2000, help="review replies to draft")
    args = parser.parse_args()

    report = {
        "blog_2000_words": blog_figures(args.drafts),
        "video_scripts": video_figures(args.scripts),
        "review_replies": reply_figures(args.replies),
    }
    print(json.dumps(report))
    blog, video, replies = (
        report["blog_2000_words"],
        report["video_scripts"],
        report["review_replies"],
    )
    blog_ok = blog["p99_ms"] < DRAFT_TARGET_MS
    reply_ok = replies["p99_ms"] < REPLY_TARGET_MS
    print(
        f"blog drafts (2,000 words, mean {blog['mean_words']}): {blog['per_second']}/s, "
        f"mean {blog['mean_ms']} ms, p99 {blog['p99_ms']} ms "
        f"(target < {DRAFT_TARGET_MS:.0f} ms): {'PASS' if blog_ok else 'FAIL'}"
    )
    print(
        f"video scripts: {video['per_second']}/s, mean {video['mean_ms']} ms, "
        f"p99 {video['p99_ms']} ms"
    )
    print(
        f"review replies: {replies['per_second']}/s, mean {replies['mean_ms']} ms, "
        f"p99 {replies['p99_ms']} ms (target < {REPLY_TARGET_MS:.0f} ms): "
        f"{'PASS' if reply_ok else 'FAIL'}"
    )
    print("PASS" if blog_ok and reply_ok else "FAIL")
    sys.exit(0 if blog_ok and reply_ok else 1)


if __name__ == "__main__":
    main()
