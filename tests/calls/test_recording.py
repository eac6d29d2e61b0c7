"""The signed recording link: it streams the vendor's audio, expires after an hour, and
refuses any change."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from eal.config import Settings
from tests.calls.support import calls_tenant, post_call
from tests.factories import Factory
from tests.integrations.fake_callrail import (
    run_fake_callrail,
    send_webhook,
    webhook_payload,
)
from tests.integrations.stand_in import Received, Reply, StandInServer
from tests.outreach.support import clocked_app
from tests.support import assert_error

AUDIO = b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(range(256)) * 64
START = datetime(2026, 6, 3, 14, 0, tzinfo=UTC)


@pytest.fixture
def audio_server() -> Iterator[tuple[str, list[Received]]]:
    received: list[Received] = []

    async def handler(request: Received) -> Reply:
        received.append(request)
        if request.path == "/moved.mp3":
            return Reply(302, headers=(("Location", "/calls/a.mp3"),))
        if request.path == "/calls/a.mp3":
            return Reply(200, AUDIO, headers=(("Content-Type", "audio/mpeg"),))
        return Reply(404, b"no such recording", headers=(("Content-Type", "text/plain"),))

    server = StandInServer("recordings")
    port = server.start()
    server.serve(handler)
    try:
        yield f"http://127.0.0.1:{port}", received
    finally:
        server.stop()


def split_link(link: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(link)
    return parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}


async def test_the_link_streams_the_recording_without_a_key_for_an_hour(
    settings: Settings, factory: Factory, audio_server: tuple[str, list[Received]]
) -> None:
    base, received = audio_server
    async with clocked_app(settings, START) as app:
        tenant = await calls_tenant(app.client, factory, "Recording Co")
        call = await post_call(app.client, tenant, START, recording_url=f"{base}/moved.mp3")
        path, query = split_link(call["recording_url"])
        assert path == f"/api/v1/calls/{call['id']}/recording"
        assert int(query["exp"]) == int((START + timedelta(hours=1)).timestamp())
        r = await app.client.get(path, params=query)  # no API key
        assert r.status_code == 200, r.text
        assert r.content == AUDIO
        assert r.headers["content-type"] == "audio/mpeg"
        head = await app.client.head(path, params=query)
        assert head.status_code == 200 and head.content == b""
        assert [req.path for req in received][:2] == ["/moved.mp3", "/calls/a.mp3"]
        # An hour later the same link is refused; a fresh GET gives a fresh link.
        app.clock.advance(timedelta(hours=1, seconds=1))
        expired = await app.client.get(path, params=query)
        assert_error(expired, 403, "forbidden")
        assert expired.json()["error"]["details"] == {"link": "expired"}
        fresh = await app.client.get(f"/api/v1/calls/{call['id']}", headers=tenant.headers)
        path2, query2 = split_link(fresh.json()["recording_url"])
        assert (await app.client.get(path2, params=query2)).status_code == 200


async def test_an_altered_link_is_refused(
    settings: Settings, factory: Factory, audio_server: tuple[str, list[Received]]
) -> None:
    base, received = audio_server
    async with clocked_app(settings, START) as app:
        tenant = await calls_tenant(app.client, factory, "Tamper Co")
        one = await post_call(app.client, tenant, START, recording_url=f"{base}/calls/a.mp3")
        two = await post_call(app.client, tenant, START, recording_url=f"{base}/calls/a.mp3")
        path, query = split_link(one["recording_url"])
        other_path, _ = split_link(two["recording_url"])
        tampered = [
            (path, {**query, "exp": str(int(query["exp"]) + 3600)}),
            (
                path,
                {**query, "sig": query["sig"][:-2] + ("AA" if query["sig"][-2:] != "AA" else "BB")},
            ),
            (other_path, query),  # another call's recording with this call's signature
            (path, {"exp": query["exp"]}),
        ]
        for target, params in tampered:
            r = await app.client.get(target, params=params)
            assert r.status_code in (403, 422), r.text
        assert received == []


async def test_a_callrail_recording_is_fetched_through_its_redirect(
    settings: Settings, factory: Factory
) -> None:
    with run_fake_callrail("cr-key-1234567") as callrail:
        async with clocked_app(settings, START) as app:
            tenant = await calls_tenant(
                app.client,
                factory,
                "CallRail Audio Co",
                callrail={"signing_key": "whk_abcdefgh12345678"},
            )
            api_call = callrail.add_call(start_time=START.isoformat())
            redirect = callrail.set_recording(api_call["id"], AUDIO)
            payload = webhook_payload({**api_call, "recording": redirect})
            r = await send_webhook(
                f"/api/v1/integrations/callrail/{tenant.id}",
                payload,
                signing_key="whk_abcdefgh12345678",
                http=app.client,
            )
            assert r.status_code == 201, r.text
            path, query = split_link(r.json()["recording_url"])
            audio = await app.client.get(path, params=query)
    assert audio.status_code == 200
    assert audio.content == AUDIO


async def test_a_vendor_that_has_no_recording_is_a_502(
    settings: Settings, factory: Factory, audio_server: tuple[str, list[Received]]
) -> None:
    base, _ = audio_server
    async with clocked_app(settings, START) as app:
        tenant = await calls_tenant(app.client, factory, "Gone Audio Co")
        call = await post_call(app.client, tenant, START, recording_url=f"{base}/missing.mp3")
        path, query = split_link(call["recording_url"])
        r = await app.client.get(path, params=query)
    assert_error(r, 502, "upstream_error")
