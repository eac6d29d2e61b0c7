"""CallRail API v3 client against a real local fake of the calls list and recordings."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from eal.integrations.callrail import (
    CALL_FIELDS,
    CallRailAuthError,
    CallRailCall,
    CallRailClient,
    CallRailError,
    CallRailPayloadError,
    parse_call,
    verify_webhook,
)
from eal.kit.outbound import OutboundPolicy, UnsafeUrl
from tests.integrations.fake_callrail import FakeCallRail, run_fake_callrail
from tests.integrations.stand_in import Received, Reply, StandInServer

API_KEY = "crk_5b1d0e7f2a9c4e6b8d3f1a7c"
ACCOUNT = "ACC8f3k2q9w"
AUDIO = b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(range(256)) * 40


@pytest.fixture
def fake() -> Iterator[FakeCallRail]:
    with run_fake_callrail(API_KEY, ACCOUNT) as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    # The policy's client, as the service uses it; private targets allowed for 127.0.0.1.
    async with OutboundPolicy(allow_private=True).http_client(timeout=5.0) as client:
        yield client


def make_client(
    fake: FakeCallRail, http: httpx.AsyncClient, *, api_key: str = API_KEY, timeout: float = 5.0
) -> CallRailClient:
    return CallRailClient(api_key, fake.account_id, http, fake.base_url, timeout=timeout)


async def collect(client: CallRailClient, since: date, **kwargs: Any) -> list[CallRailCall]:
    return [call async for call in client.calls(since, **kwargs)]


# --- the calls list ----------------------------------------------------------------


def _add_calls(fake: FakeCallRail, count: int, day: date = date(2026, 3, 2)) -> list[str]:
    ids = []
    for n in range(count):
        start = datetime(day.year, day.month, day.day, 8, tzinfo=timezone(timedelta(hours=-6)))
        start += timedelta(minutes=17 * n)
        ids.append(fake.add_call(start_time=start.isoformat(), duration=60 + n)["id"])
    return ids


async def test_calls_pages_through_the_offset_pagination(
    fake: FakeCallRail, http: httpx.AsyncClient
) -> None:
    ids = _add_calls(fake, 7)
    fake.add_call(start_time="2026-02-27T23:59:00-06:00")  # before since

    calls = await collect(make_client(fake, http), date(2026, 3, 1), page_size=3)

    assert [c.id for c in calls] == list(reversed(ids))  # newest first, each once
    assert [c.duration_seconds for c in calls] == [66, 65, 64, 63, 62, 61, 60]
    pages = fake.requests
    assert [r.query["page"] for r in pages] == ["1", "2", "3"]
    for request in pages:
        assert request.path == f"/v3/a/{ACCOUNT}/calls.json"
        assert request.headers["authorization"] == f'Token token="{API_KEY}"'
        assert request.query["start_date"] == "2026-03-01"
        assert request.query["per_page"] == "3"
        assert request.query["fields"].split(",") == list(CALL_FIELDS)
        assert "end_date" not in request.query


async def test_calls_reads_the_requested_fields(
    fake: FakeCallRail, http: httpx.AsyncClient
) -> None:
    fake.add_call(
        start_time="2026-03-02T10:00:00-06:00",
        transcription="My water heater burst and the garage is flooded.",
        zip_code="78756",
        call_type="answered",
    )

    [call] = await collect(make_client(fake, http), date(2026, 3, 2))

    assert call.transcription == "My water heater burst and the garage is flooded."
    assert call.customer_postal_code == "78756"
    assert (call.customer_city, call.customer_state) == ("Austin", "TX")  # default fields
    # Without fields= the list has no transcript at all, as CallRail does.
    [bare] = await collect(make_client(fake, http), date(2026, 3, 2), fields=())
    assert bare.transcription is None and "fields" not in fake.requests[-1].query


async def test_calls_honours_until(fake: FakeCallRail, http: httpx.AsyncClient) -> None:
    _add_calls(fake, 2, date(2026, 3, 2))
    late = _add_calls(fake, 1, date(2026, 3, 9))

    calls = await collect(make_client(fake, http), date(2026, 3, 1), until=date(2026, 3, 5))

    assert len(calls) == 2 and late[0] not in {c.id for c in calls}
    assert fake.requests[-1].query["end_date"] == "2026-03-05"


async def test_calls_follows_relative_pagination(
    fake: FakeCallRail, http: httpx.AsyncClient
) -> None:
    ids = _add_calls(fake, 5)

    calls = await collect(
        make_client(fake, http), date(2026, 3, 1), page_size=2, relative_pagination=True
    )

    assert [c.id for c in calls] == list(reversed(ids))
    assert [r.query.get("offset") for r in fake.requests] == [None, "1", "2"]
    assert all(r.query["relative_pagination"] == "true" for r in fake.requests)
    assert all(r.headers["authorization"] == f'Token token="{API_KEY}"' for r in fake.requests)


async def test_a_next_page_outside_the_api_is_not_followed(
    fake: FakeCallRail, http: httpx.AsyncClient
) -> None:
    fake.fail_next(
        1,
        200,
        json.dumps(
            {"has_next_page": True, "next_page": "http://127.0.0.2:9/steal?page=2", "calls": []}
        ),
    )

    with pytest.raises(CallRailError, match="outside the API"):
        await collect(make_client(fake, http), date(2026, 3, 1), relative_pagination=True)
    assert len(fake.requests) == 1


async def test_no_calls_is_one_request(fake: FakeCallRail, http: httpx.AsyncClient) -> None:
    assert await collect(make_client(fake, http), date(2026, 3, 1)) == []
    assert len(fake.requests) == 1


async def test_a_refused_field_is_a_rejection(fake: FakeCallRail, http: httpx.AsyncClient) -> None:
    with pytest.raises(CallRailError) as caught:
        await collect(make_client(fake, http), date(2026, 3, 1), fields=("utm_content",))

    assert caught.value.status_code == 400
    assert not caught.value.transient
    assert "Invalid field(s): utm_content" in caught.value.message


async def test_a_malformed_listed_call_names_field_and_page(
    fake: FakeCallRail, http: httpx.AsyncClient
) -> None:
    fake.add_call(id="CALbad", start_time="2026-03-02T10:00:00-06:00", duration="n/a")

    with pytest.raises(CallRailPayloadError) as caught:
        await collect(make_client(fake, http), date(2026, 3, 1))

    assert caught.value.field == "duration"
    assert "CALbad" in caught.value.message and "page 1" in caught.value.message


@pytest.mark.parametrize(
    ("status", "transient"), [(500, True), (503, True), (429, True), (408, True), (404, False)]
)
async def test_status_errors_say_whether_to_retry(
    fake: FakeCallRail, http: httpx.AsyncClient, status: int, transient: bool
) -> None:
    fake.fail_next(1, status)

    with pytest.raises(CallRailError) as caught:
        await collect(make_client(fake, http), date(2026, 3, 1))

    assert (caught.value.status_code, caught.value.transient) == (status, transient)
    assert not isinstance(caught.value, CallRailAuthError)


async def test_a_wrong_key_is_an_auth_error(fake: FakeCallRail, http: httpx.AsyncClient) -> None:
    wrong = "crk_wrongwrongwrongwrong"
    with pytest.raises(CallRailAuthError) as caught:
        await collect(make_client(fake, http, api_key=wrong), date(2026, 3, 1))

    assert (caught.value.status_code, caught.value.transient) == (401, False)
    assert "Access denied" in caught.value.message
    assert wrong not in repr(caught.value)


async def test_the_api_key_never_appears_in_errors(
    fake: FakeCallRail, http: httpx.AsyncClient
) -> None:
    fake.fail_next(1, 500, json.dumps({"error": f'bad header Token token="{API_KEY}"'}))

    with pytest.raises(CallRailError) as caught:
        await collect(make_client(fake, http), date(2026, 3, 1))

    for text in (caught.value.message, str(caught.value), repr(caught.value)):
        assert API_KEY not in text
    assert API_KEY not in repr(make_client(fake, http))


async def test_a_timeout_is_transient(fake: FakeCallRail, http: httpx.AsyncClient) -> None:
    fake.set_delay(2.0)

    with pytest.raises(CallRailError) as caught:
        await collect(make_client(fake, http, timeout=0.2), date(2026, 3, 1))

    assert caught.value.transient and "timed out" in caught.value.message


async def test_connection_refused_is_transient(http: httpx.AsyncClient) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = CallRailClient(API_KEY, ACCOUNT, http, f"http://127.0.0.1:{port}/v3")

    with pytest.raises(CallRailError) as caught:
        await collect(client, date(2026, 3, 1))
    assert caught.value.transient


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("<html>maintenance</html>", "not a JSON object"),
        (json.dumps({"page": 1, "total_pages": 1}), "without a calls list"),
        (json.dumps({"page": 1, "calls": []}), "without total_pages"),
    ],
)
async def test_a_malformed_list_answer_is_an_error(
    fake: FakeCallRail, http: httpx.AsyncClient, body: str, message: str
) -> None:
    fake.fail_next(1, 200, body)

    with pytest.raises(CallRailError, match=message):
        await collect(make_client(fake, http), date(2026, 3, 1))


async def test_the_policy_refusal_goes_through_unchanged(fake: FakeCallRail) -> None:
    async with OutboundPolicy(allow_private=False).http_client(timeout=5.0) as strict:
        client = CallRailClient(API_KEY, ACCOUNT, strict, fake.base_url)
        with pytest.raises(UnsafeUrl):
            await collect(client, date(2026, 3, 1))
    assert fake.requests == []


def test_arguments_are_checked(http: httpx.AsyncClient) -> None:
    with pytest.raises(ValueError, match="account id"):
        CallRailClient(API_KEY, "ACC/../x", http)
    with pytest.raises(ValueError, match="API key"):
        CallRailClient('key"x', ACCOUNT, http)
    with pytest.raises(ValueError, match="API key"):
        CallRailClient("", ACCOUNT, http)


async def test_page_size_and_dates_are_checked(http: httpx.AsyncClient) -> None:
    client = CallRailClient(API_KEY, ACCOUNT, http)
    with pytest.raises(ValueError, match="page_size"):
        await collect(client, date(2026, 3, 1), page_size=251)
    with pytest.raises(ValueError, match="until"):
        await collect(client, date(2026, 3, 1), until=date(2026, 2, 1))


# --- recordings --------------------------------------------------------------------


async def test_a_webhook_recording_follows_its_one_redirect(
    fake: FakeCallRail, http: httpx.AsyncClient
) -> None:
    [call_id] = _add_calls(fake, 1)
    url = fake.set_recording(call_id, AUDIO)

    async with make_client(fake, http).recording(url) as audio:
        assert (audio.content_type, audio.content_length) == ("audio/mpeg", len(AUDIO))
        assert audio.filename == "recording.mp3"
        data = await audio.read()

    assert data == AUDIO
    redirect, media = fake.requests
    assert redirect.path == f"/calls/{call_id}/recording/redirect"
    assert media.path == f"/media/{call_id}.mp3"
    # The key goes to the API only: never to the redirect or the audio host.
    assert "authorization" not in redirect.headers and "authorization" not in media.headers


async def test_an_api_recording_is_looked_up_then_redirected(
    fake: FakeCallRail, http: httpx.AsyncClient
) -> None:
    [call_id] = _add_calls(fake, 1)
    fake.set_recording(call_id, AUDIO, content_type="audio/wav")
    [listed] = await collect(make_client(fake, http), date(2026, 3, 1))
    assert listed.recording is not None and listed.recording.endswith("/recording.json")

    async with make_client(fake, http).recording(listed.recording) as audio:
        chunks = [chunk async for chunk in audio.iter_bytes(1000)]

    assert b"".join(chunks) == AUDIO and len(chunks) > 1
    assert audio.filename == "recording.wav"
    lookup, redirect, media = fake.requests[1:]
    assert lookup.path.endswith(f"/calls/{call_id}/recording.json")
    assert lookup.headers["authorization"] == f'Token token="{API_KEY}"'
    assert "authorization" not in redirect.headers and "authorization" not in media.headers


async def test_a_second_redirect_is_refused(fake: FakeCallRail, http: httpx.AsyncClient) -> None:
    [call_id] = _add_calls(fake, 1)
    url = fake.set_recording(call_id, AUDIO)
    fake.redirect_recording_to(call_id, url)  # redirects to itself

    with pytest.raises(CallRailError, match="redirected more than once"):
        async with make_client(fake, http).recording(url):
            pass
    assert len(fake.requests) == 2


async def test_a_redirect_away_from_http_s_is_refused(
    fake: FakeCallRail, http: httpx.AsyncClient
) -> None:
    [call_id] = _add_calls(fake, 1)
    url = fake.set_recording(call_id, AUDIO)
    fake.redirect_recording_to(call_id, "file:///etc/passwd")

    with pytest.raises(UnsafeUrl):
        async with make_client(fake, http).recording(url):
            pass
    assert len(fake.requests) == 1


async def test_without_the_private_policy_recording_urls_must_be_https(
    fake: FakeCallRail,
) -> None:
    [call_id] = _add_calls(fake, 1)
    url = fake.set_recording(call_id, AUDIO)
    async with httpx.AsyncClient() as plain:  # not a policy client: https only
        client = CallRailClient(API_KEY, ACCOUNT, plain, fake.base_url)
        with pytest.raises(UnsafeUrl, match="https"):
            async with client.recording(url):
                pass
    assert fake.requests == []


async def test_a_missing_recording_is_a_rejection(
    fake: FakeCallRail, http: httpx.AsyncClient
) -> None:
    [call_id] = _add_calls(fake, 1)
    missing = f"{fake.base_url}/a/{ACCOUNT}/calls/{call_id}/recording.json"

    with pytest.raises(CallRailError) as caught:
        async with make_client(fake, http).recording(missing):
            pass

    assert (caught.value.status_code, caught.value.transient) == (404, False)
    assert "Recording not found" in caught.value.message


async def test_a_recording_larger_than_allowed_is_refused(
    fake: FakeCallRail, http: httpx.AsyncClient
) -> None:
    [call_id] = _add_calls(fake, 1)
    url = fake.set_recording(call_id, AUDIO)

    async with make_client(fake, http).recording(url) as audio:
        with pytest.raises(CallRailError, match="larger than 100 bytes"):
            await audio.read(max_bytes=100)


async def test_a_recording_url_answering_json_without_url_is_an_error(
    fake: FakeCallRail, http: httpx.AsyncClient
) -> None:
    fake.fail_next(1, 200, json.dumps({"recording": None}))

    with pytest.raises(CallRailError, match="without a recording url"):
        async with make_client(fake, http).recording(
            f"{fake.base_url}/a/{ACCOUNT}/calls/CAL1/recording.json"
        ):
            pass


async def test_recording_errors_never_show_the_access_key(
    fake: FakeCallRail, http: httpx.AsyncClient
) -> None:
    [call_id] = _add_calls(fake, 1)
    url = fake.set_recording(call_id, AUDIO)
    forged = url.split("access_key=")[0] + "access_key=guessed"

    with pytest.raises(CallRailError) as caught:
        async with make_client(fake, http).recording(forged):
            pass

    assert caught.value.status_code == 403
    assert "access_key" not in caught.value.message and "guessed" not in caught.value.message
    assert url.split("access_key=")[1] not in caught.value.message


async def test_post_webhook_sends_a_signed_current_payload(fake: FakeCallRail) -> None:
    [call_id] = _add_calls(fake, 1)
    fake.set_recording(call_id, AUDIO)
    received: list[Received] = []

    async def receiver(request: Received) -> Reply:
        received.append(request)
        return Reply(200)

    server = StandInServer("receiver")
    port = server.start()
    server.serve(receiver)
    try:
        response = await fake.post_webhook(
            f"http://127.0.0.1:{port}/in", call_id, "whk_org_1", changes=["transcription_text"]
        )
    finally:
        server.stop()

    assert response.status_code == 200
    [request] = received
    assert verify_webhook("whk_org_1", request.body, request.headers["signature"])
    call = parse_call(json.loads(request.body))
    assert call.id == call_id and call.changes == ("transcription_text",)
    assert call.recording == fake.recording_redirect_url(call_id)
    assert call.start_time.astimezone(UTC).hour == 14
    [sent] = fake.webhooks
    assert (sent.status, sent.body) == (200, request.body)
