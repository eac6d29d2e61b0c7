"""POST /content/video-script: timed scenes at about 150 words a minute and a 30-second cutdown."""

from __future__ import annotations

import httpx
import pytest

from tests.content.support import CONTENT, content_tenant
from tests.factories import Factory
from tests.support import error_fields

SCRIPT = {
    "topic": "5 signs of hidden water damage in your basement",
    "format": "feature",
    "duration_seconds": 180,
}


def spoken_words(scenes: list[dict[str, object]]) -> int:
    return sum(len(str(s["voiceover"]).split()) for s in scenes)


@pytest.mark.parametrize(
    ("format_", "seconds"), [("feature", 180), ("short", 45), ("testimonial", 90)]
)
async def test_a_script_fits_its_duration_and_has_a_cutdown(
    client: httpx.AsyncClient, factory: Factory, format_: str, seconds: int
) -> None:
    tenant = await content_tenant(
        client, factory, f"Video {format_}", profile={"phone": "+17705550142"}
    )
    r = await client.post(
        f"{CONTENT}/video-script",
        json={**SCRIPT, "format": format_, "duration_seconds": seconds},
        headers=tenant.headers,
    )
    assert r.status_code == 201, r.text
    script = r.json()
    assert script["type"] == "video" and script["status"] == "draft"
    assert script["id"].startswith("ctnt_") and script["provider"] == "embedded"
    scenes = script["scenes"]
    assert [s["scene"] for s in scenes] == list(range(1, len(scenes) + 1))
    for scene in scenes:
        assert set(scene) == {
            "scene",
            "voiceover",
            "broll_suggestion",
            "lower_third",
            "duration_seconds",
        }
        assert scene["voiceover"] and scene["broll_suggestion"]
    assert sum(s["duration_seconds"] for s in scenes) == seconds
    assert abs(spoken_words(scenes) - seconds * 150 / 60) <= seconds * 150 / 60 * 0.1
    cutdown_id = script["cutdown_30s_id"]
    assert cutdown_id and cutdown_id != script["id"]
    cutdown = (await client.get(f"{CONTENT}/{cutdown_id}", headers=tenant.headers)).json()
    assert cutdown["type"] == "video" and cutdown["parent_id"] == script["id"]
    assert cutdown["duration_seconds"] == 30
    assert sum(s["duration_seconds"] for s in cutdown["scenes"]) == 30
    assert abs(spoken_words(cutdown["scenes"]) - 75) <= 7.5


async def test_bad_script_requests_are_422(client: httpx.AsyncClient, factory: Factory) -> None:
    tenant = await content_tenant(client, factory, "Bad Video Co")
    for fields, field in [
        ({"duration_seconds": 14}, "duration_seconds"),
        ({"duration_seconds": 601}, "duration_seconds"),
        ({"format": "documentary"}, "format"),
        ({"format": "short", "duration_seconds": 61}, "duration_seconds"),
        ({"topic": ""}, "topic"),
    ]:
        r = await client.post(
            f"{CONTENT}/video-script", json={**SCRIPT, **fields}, headers=tenant.headers
        )
        assert any(field in f for f in error_fields(r)), (fields, r.text)
    assert (await client.get(CONTENT, headers=tenant.headers)).json()["data"] == []
