"""Lead scoring and the embedded text models, in process: how long one answer takes.

Every POST /leads scores its lead while the request waits, so scoring is on the hot path
of lead intake; the reply model reads every inbound SMS. Prints mean and p99 per call:

1. `score_lead` on a typical web-form lead with 50 recent storms in the context
   (target: mean < 1 ms);
2. `score_lead` on hostile text, a megabyte in the message and the pain points
   (target: mean < 5 ms; only the start of each field is read);
3. `read_message` alone, the classifier's part of scoring, on distinct messages;
4. the reply model's `predict` on a short SMS (target: mean < 1 ms).

    python bench/scoring_bench.py [--runs 2000]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from eal.ai.linear import load_model
from eal.geo import ServiceArea
from eal.leads.message_reading import read_message
from eal.leads.scoring import LeadSignals, ScoringContext, WeatherEvent, score_lead
from eal.weather.schemas import WeatherEventType

NOW = datetime(2026, 4, 27, 19, 0, tzinfo=UTC)
CONTEXT = ScoringContext(
    now=NOW, service_area=ServiceArea(center_postal_code="30075", radius_miles=25)
)
TYPICAL = LeadSignals(
    message="Pipe burst in the upstairs bathroom, water coming through the kitchen "
    "ceiling. We turned the main off but need someone tonight if possible.",
    pain_points="Ceiling damage, possible mold",
    name="Sarah Mitchell",
    email="sarah.mitchell@example.com",
    phone="(678) 212-3434",
    source="google_ads",
    postal_code="30009",
    form_started_at=NOW - timedelta(seconds=80),
    form_submitted_at=NOW,
)
MESSAGES = (
    "Pipe burst upstairs, water coming through the kitchen ceiling. Please come today.",
    "Se inundó el sótano anoche, necesitamos ayuda urgente con el agua por favor.",
    "Hi, we help restoration companies get more water damage jobs with our ad platform.",
    "Smoke smell all through the house after a kitchen fire last night, need cleaning.",
    "Black mold spreading behind the washer, my kids have been coughing, call me back.",
)


def _timed(run: Callable[[int], object], runs: int) -> tuple[float, float]:
    run(0)  # warm-up: models, postal index, caches
    elapsed = []
    for i in range(runs):
        started = time.perf_counter()
        run(i)
        elapsed.append(time.perf_counter() - started)
    elapsed.sort()
    return statistics.fmean(elapsed) * 1000, elapsed[int(len(elapsed) * 0.99) - 1] * 1000


def _line(what: str, mean_ms: float, p99_ms: float, target_ms: float | None) -> str:
    verdict = "" if target_ms is None else f"  (target mean < {target_ms:g} ms: "
    verdict += "" if target_ms is None else ("PASS)" if mean_ms < target_ms else "FAIL)")
    return f"{what:<44} mean {mean_ms:7.3f} ms  p99 {p99_ms:7.3f} ms{verdict}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000, help="calls per measurement")
    runs = parser.parse_args().runs

    storms = tuple(
        WeatherEvent(
            type=WeatherEventType.STORM,
            occurred_at=NOW - timedelta(days=1),
            postal_codes=(f"{n:05d}",),
        )
        for n in range(31_000, 31_050)
    )
    context = dataclasses.replace(CONTEXT, weather_events=storms)
    typical = _timed(lambda i: score_lead(TYPICAL, context), runs)
    hostile_texts = ("no water " * 100_000, "a " * 500_000, "x" * 1_000_000)
    hostile = _timed(
        lambda i: score_lead(
            LeadSignals(message=hostile_texts[i % 3], pain_points=hostile_texts[i % 3]), CONTEXT
        ),
        max(runs // 20, 30),
    )
    # A number appended makes every message distinct, as real ones are.
    reading = _timed(lambda i: read_message(f"{MESSAGES[i % len(MESSAGES)]} Ref {i}."), runs)
    replies = load_model("eal.ai", "models/replies.json")
    reply = _timed(
        lambda i: replies.predict(f"Yes please, can someone come out Thursday? {i}"), runs
    )

    print(_line("score_lead, typical lead, 50 storms", *typical, 1.0))
    print(_line("score_lead, 1 MB hostile text", *hostile, 5.0))
    print(_line("read_message (the classifier's share)", *reading, None))
    print(_line("reply model predict, short SMS", *reply, 1.0))
    figures = {
        "score_mean_ms": round(typical[0], 3),
        "hostile_mean_ms": round(hostile[0], 3),
        "read_message_mean_ms": round(reading[0], 3),
        "reply_predict_mean_ms": round(reply[0], 3),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
