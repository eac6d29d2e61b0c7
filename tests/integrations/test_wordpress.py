"""WordPress client against a real local stand-in of the WordPress REST API (posts)."""

from __future__ import annotations

import base64
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from eal.integrations.wordpress import (
    WordPressAuthError,
    WordPressClient,
    WordPressError,
    WordPressPost,
    posts_url,
)
from eal.kit.outbound import OutboundPolicy, UnsafeUrl
from tests.integrations.fake_wordpress import FakeWordPress, run_fake_wordpress

USERNAME = "dana.editor"
PASSWORD = "Xk4t 9QmZ r2Vb Lp7N w8Ec Hs3J"
COMPACT_PASSWORD = PASSWORD.replace(" ", "")
CREDENTIALS = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
TITLE = "What to do in the first hour after a basement flood"
CONTENT = "<p>Shut off the power to the basement before you step into the water.</p>"


@pytest.fixture
def fake() -> Iterator[FakeWordPress]:
    with run_fake_wordpress(USERNAME, PASSWORD) as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with OutboundPolicy(allow_private=True).http_client(timeout=5.0) as client:
        yield client


def make_client(
    fake: FakeWordPress,
    http: httpx.AsyncClient,
    *,
    site_url: str | None = None,
    username: str = USERNAME,
    password: str = PASSWORD,
    timeout: float = 5.0,
) -> WordPressClient:
    return WordPressClient(
        site_url if site_url is not None else fake.site_url,
        username,
        password,
        http,
        timeout=timeout,
    )


async def test_create_post_publishes_with_the_documented_request(
    fake: FakeWordPress, http: httpx.AsyncClient
) -> None:
    post = await make_client(fake, http).create_post(
        title=TITLE,
        content_html=CONTENT,
        slug="basement-flood-first-hour",
        excerpt="Power off, then photos.",
    )

    [stored] = fake.posts
    assert post == WordPressPost(
        id=stored.id, link=f"{fake.site_url}/basement-flood-first-hour/", status="publish"
    )
    assert (stored.title, stored.content, stored.excerpt) == (
        TITLE,
        CONTENT,
        "Power off, then photos.",
    )
    [request] = fake.requests
    assert (request.method, request.path) == ("POST", "/wp-json/wp/v2/posts")
    assert request.headers["content-type"] == "application/json"
    assert request.json() == {
        "title": TITLE,
        "content": CONTENT,
        "status": "publish",
        "slug": "basement-flood-first-hour",
        "excerpt": "Power off, then photos.",
    }


async def test_the_application_password_is_sent_as_given_with_its_spaces(
    fake: FakeWordPress, http: httpx.AsyncClient
) -> None:
    await make_client(fake, http).create_post(title=TITLE, content_html=CONTENT)

    scheme, _, encoded = fake.requests[0].headers["authorization"].partition(" ")
    assert scheme == "Basic"
    assert base64.b64decode(encoded).decode() == f"{USERNAME}:{PASSWORD}"


async def test_a_draft_without_slug_sends_no_slug(
    fake: FakeWordPress, http: httpx.AsyncClient
) -> None:
    post = await make_client(fake, http).create_post(
        title=TITLE, content_html=CONTENT, status="draft"
    )

    assert post.status == "draft" and post.link == f"{fake.site_url}/?p={post.id}"
    sent = fake.requests[0].json()
    assert sent["status"] == "draft" and "slug" not in sent and "date_gmt" not in sent


async def test_a_scheduled_post_sends_its_date_in_utc_without_offset(
    fake: FakeWordPress, http: httpx.AsyncClient
) -> None:
    central = timezone(timedelta(hours=-5))
    when = (datetime.now(UTC) + timedelta(days=3)).astimezone(central).replace(microsecond=0)

    post = await make_client(fake, http).create_post(
        title=TITLE, content_html=CONTENT, status="future", slug="spring-flood-prep", date_gmt=when
    )

    assert post.status == "future"
    expected = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    assert fake.requests[0].json()["date_gmt"] == expected
    assert fake.posts[0].date_gmt == expected


async def test_the_status_returned_is_the_one_wordpress_chose(
    fake: FakeWordPress, http: httpx.AsyncClient
) -> None:
    # WordPress schedules a "publish" dated in the future.
    later = datetime.now(UTC) + timedelta(days=1)
    post = await make_client(fake, http).create_post(
        title=TITLE, content_html=CONTENT, slug="later", date_gmt=later
    )
    assert post.status == "future"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"status": "pending"}, "status"),
        ({"status": "future"}, "date_gmt"),
        ({"date_gmt": datetime(2025, 6, 1, 12, 0)}, "time zone"),
        ({"slug": "Basement Flood"}, "slug"),
        ({"slug": "flood--tips"}, "slug"),
        ({"slug": "a" * 201}, "slug"),
        ({"title": "  "}, "title"),
        ({"content_html": ""}, "content_html"),
    ],
)
async def test_bad_arguments_are_refused_before_any_request(
    fake: FakeWordPress, http: httpx.AsyncClient, kwargs: dict[str, Any], match: str
) -> None:
    arguments: dict[str, Any] = {"title": TITLE, "content_html": CONTENT, **kwargs}
    with pytest.raises(ValueError, match=match):
        await make_client(fake, http).create_post(**arguments)
    assert fake.requests == []


@pytest.mark.parametrize("suffix", ["", "/", "/wp-json", "/wp-json/"])
def test_the_site_url_may_end_in_a_slash_or_wp_json(suffix: str) -> None:
    assert posts_url("https://example.com/blog" + suffix) == (
        "https://example.com/blog/wp-json/wp/v2/posts"
    )
    assert posts_url("https://example.com" + suffix) == "https://example.com/wp-json/wp/v2/posts"


@pytest.mark.parametrize("suffix", ["", "/"])
async def test_a_site_installed_in_a_sub_path_works(http: httpx.AsyncClient, suffix: str) -> None:
    with run_fake_wordpress(USERNAME, PASSWORD, path="/blog") as blog:
        client = WordPressClient(blog.site_url + suffix, USERNAME, PASSWORD, http)
        post = await client.create_post(title=TITLE, content_html=CONTENT, slug="flood-tips")

        assert blog.requests[0].path == "/blog/wp-json/wp/v2/posts"
        assert post.link == f"{blog.root_url}/blog/flood-tips/"
        assert await client.find_post_by_slug("flood-tips") == post
        assert blog.requests[1].path == "/blog/wp-json/wp/v2/posts"


async def test_the_domain_root_of_a_sub_path_site_is_no_api(http: httpx.AsyncClient) -> None:
    # The web server's HTML 404, as on a site with plain permalinks.
    with run_fake_wordpress(USERNAME, PASSWORD, path="/blog") as blog:
        client = WordPressClient(blog.root_url, USERNAME, PASSWORD, http)
        with pytest.raises(WordPressError) as caught:
            await client.create_post(title=TITLE, content_html=CONTENT)

    assert (caught.value.status_code, caught.value.transient) == (404, False)
    assert "no WordPress REST API" in caught.value.message
    assert "plain permalinks" in caught.value.message


async def test_a_wrong_password_is_an_auth_error_without_the_password(
    fake: FakeWordPress, http: httpx.AsyncClient
) -> None:
    wrong = "Ab12 Cd34 Ef56 Gh78 Ij90 Kl12"
    client = make_client(fake, http, password=wrong)
    with pytest.raises(WordPressAuthError) as caught:
        await client.create_post(title=TITLE, content_html=CONTENT)

    assert (caught.value.status_code, caught.value.transient) == (401, False)
    assert "incorrect_password" in caught.value.message
    assert "application password" in caught.value.message
    for text in (caught.value.message, repr(caught.value), repr(client)):
        assert wrong not in text and wrong.replace(" ", "") not in text
    assert fake.posts == []


async def test_an_unknown_user_is_an_auth_error_without_markup(
    fake: FakeWordPress, http: httpx.AsyncClient
) -> None:
    with pytest.raises(WordPressAuthError) as caught:
        await make_client(fake, http, username="nobody").create_post(
            title=TITLE, content_html=CONTENT
        )

    assert "invalid_username" in caught.value.message
    assert "The username nobody is not registered" in caught.value.message
    assert "<strong>" not in caught.value.message


async def test_the_password_without_spaces_works_too(
    fake: FakeWordPress, http: httpx.AsyncClient
) -> None:
    post = await make_client(fake, http, password=COMPACT_PASSWORD).create_post(
        title=TITLE, content_html=CONTENT
    )
    assert post.status == "publish"


async def test_a_user_who_may_not_publish_gets_an_auth_error(http: httpx.AsyncClient) -> None:
    with run_fake_wordpress(USERNAME, PASSWORD, can_publish=False) as contributor:
        client = WordPressClient(contributor.site_url, USERNAME, PASSWORD, http)
        with pytest.raises(WordPressAuthError) as caught:
            await client.create_post(title=TITLE, content_html=CONTENT)
        assert (caught.value.status_code, caught.value.transient) == (403, False)
        assert "rest_cannot_publish" in caught.value.message
        assert "Author role" in caught.value.message

        draft = await client.create_post(title=TITLE, content_html=CONTENT, status="draft")
        assert draft.status == "draft"


async def test_a_missing_login_says_the_header_may_have_been_dropped(
    fake: FakeWordPress, http: httpx.AsyncClient
) -> None:
    # Some hosts strip Authorization before PHP sees it: WordPress answers as to a visitor.
    fake.fail_next(
        1,
        401,
        "Sorry, you are not allowed to create posts as this user.",
        code="rest_cannot_create",
    )
    with pytest.raises(WordPressAuthError) as caught:
        await make_client(fake, http).create_post(title=TITLE, content_html=CONTENT)

    assert "Authorization header" in caught.value.message
    assert "rest_cannot_create" in caught.value.message


async def test_the_password_never_appears_in_errors(
    fake: FakeWordPress, http: httpx.AsyncClient
) -> None:
    fake.fail_next(
        1,
        500,
        f"login {USERNAME} with {PASSWORD} / {COMPACT_PASSWORD} / Basic {CREDENTIALS} failed",
    )

    with pytest.raises(WordPressError) as caught:
        await make_client(fake, http).create_post(title=TITLE, content_html=CONTENT)

    for text in (caught.value.message, str(caught.value), repr(caught.value)):
        for secret in (PASSWORD, COMPACT_PASSWORD, CREDENTIALS):
            assert secret not in text
    assert "[redacted]" in caught.value.message


@pytest.mark.parametrize(
    ("status", "transient"),
    [(500, True), (502, True), (503, True), (429, True), (408, True), (400, False), (409, False)],
)
async def test_failures_say_whether_to_retry_and_a_retry_succeeds(
    fake: FakeWordPress, http: httpx.AsyncClient, status: int, transient: bool
) -> None:
    client = make_client(fake, http)
    fake.fail_next(2, status, "database busy", code="db_busy")

    for _ in range(2):
        with pytest.raises(WordPressError) as caught:
            await client.create_post(title=TITLE, content_html=CONTENT)
        assert not isinstance(caught.value, WordPressAuthError)
        assert (caught.value.status_code, caught.value.transient) == (status, transient)
        assert "database busy (db_busy)" in caught.value.message

    assert await client.create_post(title=TITLE, content_html=CONTENT)
    assert len(fake.requests) == 3 and len(fake.posts) == 1


async def test_a_lost_answer_is_recovered_by_the_slug_instead_of_a_duplicate(
    fake: FakeWordPress, http: httpx.AsyncClient
) -> None:
    client = make_client(fake, http)
    fake.lose_next_answers(1, 504)  # WordPress stored the post; the proxy gave up

    with pytest.raises(WordPressError) as caught:
        await client.create_post(title=TITLE, content_html=CONTENT, slug="flood-first-hour")
    assert caught.value.transient and caught.value.status_code == 504

    found = await client.find_post_by_slug("flood-first-hour")

    [stored] = fake.posts
    assert found == WordPressPost(
        id=stored.id, link=f"{fake.site_url}/flood-first-hour/", status="publish"
    )
    lookup = fake.requests[-1]
    assert (lookup.method, lookup.path) == ("GET", "/wp-json/wp/v2/posts")
    assert lookup.query["slug"] == "flood-first-hour" and lookup.query["status"] == "any"
    assert lookup.headers["authorization"] == f"Basic {CREDENTIALS}"


async def test_find_post_by_slug_sees_drafts_and_answers_none_for_no_post(
    fake: FakeWordPress, http: httpx.AsyncClient
) -> None:
    draft = fake.add_post(title="Mold after a leak", slug="mold-after-a-leak", status="draft")
    client = make_client(fake, http)

    assert await client.find_post_by_slug("mold-after-a-leak") == WordPressPost(
        id=draft.id, link=f"{fake.site_url}/?p={draft.id}", status="draft"
    )
    assert await client.find_post_by_slug("no-such-post") is None


async def test_find_post_by_slug_picks_the_oldest_of_duplicates(
    fake: FakeWordPress, http: httpx.AsyncClient
) -> None:
    first = fake.add_post(title="A", slug="twin", status="draft", date_gmt="2025-03-01T00:00:00")
    fake.add_post(title="B", slug="twin", status="draft", date_gmt="2025-01-01T00:00:00")

    found = await make_client(fake, http).find_post_by_slug("twin")
    assert found is not None and found.id == first.id


async def test_find_post_by_slug_with_a_wrong_password_is_an_auth_error(
    fake: FakeWordPress, http: httpx.AsyncClient
) -> None:
    with pytest.raises(WordPressAuthError) as caught:
        await make_client(fake, http, password="wrong pass word").find_post_by_slug("x")
    assert caught.value.status_code == 401 and "wrong pass word" not in caught.value.message


async def test_find_post_by_slug_refuses_a_slug_wordpress_would_rewrite(
    fake: FakeWordPress, http: httpx.AsyncClient
) -> None:
    with pytest.raises(ValueError, match="slug"):
        await make_client(fake, http).find_post_by_slug("Flood Tips,other")
    assert fake.requests == []


async def test_a_taken_slug_is_changed_by_wordpress(
    fake: FakeWordPress, http: httpx.AsyncClient
) -> None:
    # Documented pitfall: slugs must not be reused, or the look-up finds the other post.
    older = fake.add_post(title="Old", slug="flood-tips")
    post = await make_client(fake, http).create_post(
        title=TITLE, content_html=CONTENT, slug="flood-tips"
    )

    assert post.link == f"{fake.site_url}/flood-tips-2/"
    found = await make_client(fake, http).find_post_by_slug("flood-tips")
    assert found is not None and found.id == older.id


async def test_a_timeout_is_transient(fake: FakeWordPress, http: httpx.AsyncClient) -> None:
    fake.set_delay(2.0)

    with pytest.raises(WordPressError) as caught:
        await make_client(fake, http, timeout=0.2).create_post(title=TITLE, content_html=CONTENT)

    assert caught.value.transient and "timed out" in caught.value.message


async def test_connection_refused_is_transient(http: httpx.AsyncClient) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = WordPressClient(f"http://127.0.0.1:{port}", USERNAME, PASSWORD, http)

    with pytest.raises(WordPressError) as caught:
        await client.find_post_by_slug("flood-tips")
    assert caught.value.transient


@pytest.mark.parametrize(
    "body", ["<html>cached page</html>", '{"id": "7", "link": "x", "status": "publish"}', "[]"]
)
async def test_a_create_answer_without_a_post_is_transient(
    fake: FakeWordPress, http: httpx.AsyncClient, body: str
) -> None:
    fake.fail_next(1, 201, body=body)

    with pytest.raises(WordPressError) as caught:
        await make_client(fake, http).create_post(title=TITLE, content_html=CONTENT)

    assert caught.value.transient and caught.value.status_code == 201
    assert "look it up by its slug" in caught.value.message


async def test_a_search_answer_without_a_list_is_transient(
    fake: FakeWordPress, http: httpx.AsyncClient
) -> None:
    fake.fail_next(1, 200, body="<html>maintenance</html>")

    with pytest.raises(WordPressError) as caught:
        await make_client(fake, http).find_post_by_slug("flood-tips")
    assert caught.value.transient and "without a post list" in caught.value.message


async def test_a_redirect_is_not_followed_and_says_where_to(
    fake: FakeWordPress, http: httpx.AsyncClient
) -> None:
    fake.fail_next(1, 301, body="")
    with pytest.raises(WordPressError) as caught:
        await make_client(fake, http).create_post(title=TITLE, content_html=CONTENT)
    assert (caught.value.status_code, caught.value.transient) == (301, False)
    assert "redirected" in caught.value.message and len(fake.posts) == 0


async def test_the_policy_refusal_goes_through_unchanged(fake: FakeWordPress) -> None:
    async with OutboundPolicy(allow_private=False).http_client(timeout=5.0) as strict:
        client = WordPressClient(fake.site_url, USERNAME, PASSWORD, strict)
        with pytest.raises(UnsafeUrl):
            await client.create_post(title=TITLE, content_html=CONTENT)
        with pytest.raises(UnsafeUrl):
            await client.find_post_by_slug("flood-tips")
    assert fake.requests == []


def test_arguments_are_checked(http: httpx.AsyncClient) -> None:
    with pytest.raises(ValueError, match="http"):
        WordPressClient("ftp://example.com", USERNAME, PASSWORD, http)
    with pytest.raises(ValueError, match="query"):
        WordPressClient("https://example.com/?p=1", USERNAME, PASSWORD, http)
    with pytest.raises(ValueError, match="username"):
        WordPressClient("https://example.com", "a:b", PASSWORD, http)
    with pytest.raises(ValueError, match="password"):
        WordPressClient("https://example.com", USERNAME, " ", http)
    with pytest.raises(ValueError, match="timeout"):
        WordPressClient("https://example.com", USERNAME, PASSWORD, http, timeout=0)
