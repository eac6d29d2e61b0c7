"""Business Profile review replies against a real local stand-in of My Business API v4."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from eal.integrations.google_business import (
    MAX_COMMENT_BYTES,
    GoogleBusinessAuthError,
    GoogleBusinessClient,
    GoogleBusinessError,
    GoogleBusinessNotFound,
    ReviewReplyResult,
)
from eal.kit.outbound import OutboundPolicy, UnsafeUrl
from tests.integrations.fake_google_business import (
    ACCOUNT_ID,
    LOCATION_ID,
    REVIEW_IDS,
    FakeGoogleBusiness,
    run_fake_google_business,
)

TOKEN = "ya29.a0AfB_test-7Qm2Zr8Vt4Kx9Lp3Nw6"
REVIEW = REVIEW_IDS[0]
COMMENT = "Thank you, Dana! We're glad the crew got your basement dry before the weekend."
REPLY_PATH = f"/v4/accounts/{ACCOUNT_ID}/locations/{LOCATION_ID}/reviews/{REVIEW}/reply"


@pytest.fixture
def fake() -> Iterator[FakeGoogleBusiness]:
    with run_fake_google_business(TOKEN) as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with OutboundPolicy(allow_private=True).http_client(timeout=5.0) as client:
        yield client


def make_client(
    fake: FakeGoogleBusiness,
    http: httpx.AsyncClient,
    *,
    token: str = TOKEN,
    account_id: str = ACCOUNT_ID,
    location_id: str = LOCATION_ID,
    timeout: float = 5.0,
) -> GoogleBusinessClient:
    return GoogleBusinessClient(
        token, account_id, location_id, http, base_url=fake.base_url, timeout=timeout
    )


async def test_reply_puts_the_documented_request_and_returns_the_stored_reply(
    fake: FakeGoogleBusiness, http: httpx.AsyncClient
) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)

    result = await make_client(fake, http).reply_to_review(REVIEW, COMMENT)

    stored = fake.replies[(ACCOUNT_ID, LOCATION_ID, REVIEW)]
    assert stored.comment == COMMENT
    assert result == ReviewReplyResult(
        comment=COMMENT, update_time=datetime.fromisoformat(stored.update_time)
    )
    assert result.update_time.tzinfo is not None and result.update_time >= before
    [request] = fake.requests
    assert (request.method, request.path) == ("PUT", REPLY_PATH)
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["content-type"] == "application/json"
    assert request.json() == {"comment": COMMENT}


async def test_replying_again_replaces_the_reply(
    fake: FakeGoogleBusiness, http: httpx.AsyncClient
) -> None:
    client = make_client(fake, http)
    await client.reply_to_review(REVIEW, COMMENT)
    result = await client.reply_to_review(REVIEW, "Thanks again, Dana.")

    assert result.comment == "Thanks again, Dana."
    assert fake.replies == {
        (ACCOUNT_ID, LOCATION_ID, REVIEW): fake.replies[(ACCOUNT_ID, LOCATION_ID, REVIEW)]
    }
    assert fake.replies[(ACCOUNT_ID, LOCATION_ID, REVIEW)].comment == "Thanks again, Dana."


@pytest.mark.parametrize(
    ("account", "location"),
    [
        (ACCOUNT_ID, LOCATION_ID),
        (f"accounts/{ACCOUNT_ID}", f"locations/{LOCATION_ID}"),
        (f"accounts/{ACCOUNT_ID}", LOCATION_ID),
        (f" {ACCOUNT_ID} ", f"locations/{LOCATION_ID}"),
    ],
)
async def test_account_and_location_may_be_ids_or_resource_names(
    fake: FakeGoogleBusiness, http: httpx.AsyncClient, account: str, location: str
) -> None:
    client = make_client(fake, http, account_id=account, location_id=location)
    await client.reply_to_review(REVIEW, COMMENT)
    assert fake.requests[0].path == REPLY_PATH


@pytest.mark.parametrize(
    "review",
    [
        REVIEW,
        f"reviews/{REVIEW}",
        f"accounts/{ACCOUNT_ID}/locations/{LOCATION_ID}/reviews/{REVIEW}",
    ],
)
async def test_the_review_may_be_an_id_or_its_name(
    fake: FakeGoogleBusiness, http: httpx.AsyncClient, review: str
) -> None:
    await make_client(fake, http).reply_to_review(review, COMMENT)
    assert fake.requests[0].path == REPLY_PATH


@pytest.mark.parametrize(
    "review",
    [
        f"accounts/999/locations/{LOCATION_ID}/reviews/{REVIEW}",
        f"accounts/{ACCOUNT_ID}/locations/{LOCATION_ID}/reviews",
        "a/b",
        " ",
        "abc def",
    ],
)
async def test_a_review_of_another_location_or_no_id_is_refused_before_any_request(
    fake: FakeGoogleBusiness, http: httpx.AsyncClient, review: str
) -> None:
    with pytest.raises(ValueError):
        await make_client(fake, http).reply_to_review(review, COMMENT)
    assert fake.requests == []


@pytest.mark.parametrize(
    ("account", "location"),
    [("", LOCATION_ID), (ACCOUNT_ID, "accounts/1/locations/2"), ("locations/1", LOCATION_ID)],
)
def test_bad_account_or_location_ids_are_refused(
    http: httpx.AsyncClient, account: str, location: str
) -> None:
    with pytest.raises(ValueError, match="id"):
        GoogleBusinessClient(TOKEN, account, location, http)


async def test_a_comment_of_exactly_4096_bytes_is_sent(
    fake: FakeGoogleBusiness, http: httpx.AsyncClient
) -> None:
    comment = "¡Gracias!" + "é" * ((MAX_COMMENT_BYTES - len("¡Gracias!".encode())) // 2)
    assert len(comment.encode("utf-8")) == MAX_COMMENT_BYTES

    result = await make_client(fake, http).reply_to_review(REVIEW, comment)
    assert result.comment == comment


@pytest.mark.parametrize(
    "comment",
    [
        "é" * 2049,  # 2,049 characters, 4,098 bytes
        "🙏" * 1025,  # 1,025 characters, 4,100 bytes
        "a" * 4097,
    ],
)
async def test_a_comment_over_4096_bytes_is_refused_before_any_request(
    fake: FakeGoogleBusiness, http: httpx.AsyncClient, comment: str
) -> None:
    assert len(comment) <= MAX_COMMENT_BYTES + 1
    with pytest.raises(ValueError, match="4,096"):
        await make_client(fake, http).reply_to_review(REVIEW, comment)
    assert fake.requests == []


async def test_an_empty_or_broken_comment_is_refused(
    fake: FakeGoogleBusiness, http: httpx.AsyncClient
) -> None:
    client = make_client(fake, http)
    with pytest.raises(ValueError, match="empty"):
        await client.reply_to_review(REVIEW, "  \n")
    with pytest.raises(ValueError, match="surrogate"):
        await client.reply_to_review(REVIEW, "thanks \ud83d")
    assert fake.requests == []


async def test_a_wrong_or_expired_token_says_to_refresh_it_without_the_token(
    fake: FakeGoogleBusiness, http: httpx.AsyncClient
) -> None:
    client = make_client(fake, http)
    fake.set_access_token("ya29.a0-refreshed-token")  # the client's token has expired

    with pytest.raises(GoogleBusinessAuthError) as caught:
        await client.reply_to_review(REVIEW, COMMENT)

    assert (caught.value.status_code, caught.value.transient) == (401, False)
    assert "refresh the access token" in caught.value.message
    assert "UNAUTHENTICATED" in caught.value.message
    for text in (caught.value.message, repr(caught.value), repr(client)):
        assert TOKEN not in text
    assert fake.replies == {}

    fresh = make_client(fake, http, token="ya29.a0-refreshed-token")
    assert (await fresh.reply_to_review(REVIEW, COMMENT)).comment == COMMENT


async def test_a_forbidden_location_is_an_auth_error_about_access(
    fake: FakeGoogleBusiness, http: httpx.AsyncClient
) -> None:
    fake.fail_next(1, 403, "The caller does not have permission")
    with pytest.raises(GoogleBusinessAuthError) as caught:
        await make_client(fake, http).reply_to_review(REVIEW, COMMENT)

    assert (caught.value.status_code, caught.value.transient) == (403, False)
    assert "may not manage this location" in caught.value.message
    assert "The caller does not have permission (PERMISSION_DENIED)" in caught.value.message


async def test_a_deleted_review_is_not_found(
    fake: FakeGoogleBusiness, http: httpx.AsyncClient
) -> None:
    fake.remove_review(ACCOUNT_ID, LOCATION_ID, REVIEW)

    with pytest.raises(GoogleBusinessNotFound) as caught:
        await make_client(fake, http).reply_to_review(REVIEW, COMMENT)

    assert (caught.value.status_code, caught.value.transient) == (404, False)
    assert "Requested entity was not found. (NOT_FOUND)" in caught.value.message


async def test_a_review_of_another_location_is_not_found(
    fake: FakeGoogleBusiness, http: httpx.AsyncClient
) -> None:
    fake.add_review(ACCOUNT_ID, "111", "ReviewElsewhere")
    with pytest.raises(GoogleBusinessNotFound):
        await make_client(fake, http).reply_to_review("ReviewElsewhere", COMMENT)
    assert await make_client(fake, http, location_id="locations/111").reply_to_review(
        "ReviewElsewhere", COMMENT
    )


@pytest.mark.parametrize(
    ("status", "transient"),
    [(500, True), (503, True), (504, True), (429, True), (408, True), (400, False), (409, False)],
)
async def test_failures_say_whether_to_retry_and_a_retry_succeeds(
    fake: FakeGoogleBusiness, http: httpx.AsyncClient, status: int, transient: bool
) -> None:
    client = make_client(fake, http)
    fake.fail_next(2, status, "backend hiccup")

    for _ in range(2):
        with pytest.raises(GoogleBusinessError) as caught:
            await client.reply_to_review(REVIEW, COMMENT)
        assert type(caught.value) is GoogleBusinessError
        assert (caught.value.status_code, caught.value.transient) == (status, transient)
        assert "backend hiccup" in caught.value.message

    assert await client.reply_to_review(REVIEW, COMMENT)
    assert len(fake.requests) == 3 and len(fake.replies) == 1


async def test_the_token_never_appears_in_errors(
    fake: FakeGoogleBusiness, http: httpx.AsyncClient
) -> None:
    fake.fail_next(1, 500, f"upstream refused Bearer {TOKEN}")

    with pytest.raises(GoogleBusinessError) as caught:
        await make_client(fake, http).reply_to_review(REVIEW, COMMENT)

    for text in (caught.value.message, str(caught.value), repr(caught.value)):
        assert TOKEN not in text
    assert "[redacted]" in caught.value.message


async def test_a_timeout_is_transient(fake: FakeGoogleBusiness, http: httpx.AsyncClient) -> None:
    fake.set_delay(2.0)

    with pytest.raises(GoogleBusinessError) as caught:
        await make_client(fake, http, timeout=0.2).reply_to_review(REVIEW, COMMENT)

    assert caught.value.transient and "timed out" in caught.value.message


async def test_connection_refused_is_transient(http: httpx.AsyncClient) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = GoogleBusinessClient(
        TOKEN, ACCOUNT_ID, LOCATION_ID, http, base_url=f"http://127.0.0.1:{port}"
    )

    with pytest.raises(GoogleBusinessError) as caught:
        await client.reply_to_review(REVIEW, COMMENT)
    assert caught.value.transient


@pytest.mark.parametrize(
    "body",
    [
        "<html>proxy</html>",
        '{"comment": "x"}',
        '{"comment": "x", "updateTime": "yesterday"}',
        '{"comment": "x", "updateTime": "2025-05-01T12:00:00"}',
        "[]",
    ],
)
async def test_a_success_without_the_reply_is_transient(
    fake: FakeGoogleBusiness, http: httpx.AsyncClient, body: str
) -> None:
    fake.fail_next(1, 200, body=body)

    with pytest.raises(GoogleBusinessError) as caught:
        await make_client(fake, http).reply_to_review(REVIEW, COMMENT)

    assert caught.value.transient and caught.value.status_code == 200
    assert "without a comment and updateTime" in caught.value.message


@pytest.mark.parametrize("suffix", ["/", "/v4", "/v4/"])
async def test_the_base_url_may_end_in_a_slash_or_v4(
    fake: FakeGoogleBusiness, http: httpx.AsyncClient, suffix: str
) -> None:
    client = GoogleBusinessClient(
        TOKEN, ACCOUNT_ID, LOCATION_ID, http, base_url=fake.base_url + suffix
    )
    await client.reply_to_review(REVIEW, COMMENT)
    assert fake.requests[0].path == REPLY_PATH


async def test_the_policy_refusal_goes_through_unchanged(fake: FakeGoogleBusiness) -> None:
    async with OutboundPolicy(allow_private=False).http_client(timeout=5.0) as strict:
        client = GoogleBusinessClient(
            TOKEN, ACCOUNT_ID, LOCATION_ID, strict, base_url=fake.base_url
        )
        with pytest.raises(UnsafeUrl):
            await client.reply_to_review(REVIEW, COMMENT)
    assert fake.requests == []


def test_arguments_are_checked(http: httpx.AsyncClient) -> None:
    with pytest.raises(ValueError, match="http"):
        GoogleBusinessClient(TOKEN, ACCOUNT_ID, LOCATION_ID, http, base_url="mybusiness")
    with pytest.raises(ValueError, match="token"):
        GoogleBusinessClient(" ", ACCOUNT_ID, LOCATION_ID, http)
    with pytest.raises(ValueError, match="timeout"):
        GoogleBusinessClient(TOKEN, ACCOUNT_ID, LOCATION_ID, http, timeout=-1)


def test_the_default_base_url_is_googles(http: httpx.AsyncClient) -> None:
    client = GoogleBusinessClient(TOKEN, ACCOUNT_ID, LOCATION_ID, http)
    assert f"https://mybusiness.googleapis.com/v4/accounts/{ACCOUNT_ID}/" in repr(client)
