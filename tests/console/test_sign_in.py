"""Console sign-in: links, admin keys, sessions (cookies, idle expiry, sign-out), CSRF, pages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from structlog.testing import capture_logs

from eal.app import create_app
from eal.config import Settings
from eal.db.engine import Database
from eal.kit.clock import ManualClock
from tests.console.support import add_user, browser, form_token, sign_in
from tests.factories import Factory


async def test_a_link_signs_in_once_and_the_cookie_is_safe(
    app: Any, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Console Sign-in Co")
    link = await add_user(db, tenant.id, "Dana@Example.com", "manager")
    async with browser(app) as client:
        assert (await client.get("/console")).headers["location"] == "/console/login"
        shown = await client.get(link)
        # Opening the link changes nothing (mail scanners open links): the button does.
        assert "Console Sign-in Co" in shown.text and "dana@example.com" in shown.text
        signed = await sign_in(client, link)
        cookie = signed.headers["set-cookie"]
        assert "eal_console=css_" in cookie
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
        today = await client.get("/console")
        assert today.status_code == 200
        assert "<h1>Today</h1>" in today.text and "dana@example.com" in today.text
        assert today.headers["content-security-policy"].startswith("default-src 'self'")
        # The same link again: refused, as a page.
        again = await client.post(link, data={"csrf_token": form_token(shown)})
        assert again.status_code == 409
        assert again.headers["content-type"].startswith("text/html")
        assert "used already" in again.text
    async with db.system_transaction() as conn:
        stored = await conn.scalar(text("SELECT count(*) FROM console_sessions"))
        assert stored and stored >= 1
        # Only hashes are stored.
        leaked = await conn.scalar(
            text(
                "SELECT count(*) FROM console_sessions WHERE position('css_' in encode(token_hash, 'escape')) > 0"
            )
        )
        assert leaked == 0


async def test_unknown_and_expired_links_are_pages_not_envelopes(app: Any) -> None:
    async with browser(app) as client:
        missing = await client.get("/console/sign-in/csl_nope")
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("text/html")
        assert "does not exist" in missing.text
        nothing = await client.get("/console/nowhere")
        assert nothing.status_code == 404 and "<html" in nothing.text


@pytest.fixture
async def clocked(settings: Settings) -> AsyncIterator[tuple[Any, ManualClock]]:
    clock = ManualClock(datetime.now(UTC))
    application = create_app(settings, clock=clock)
    async with application.router.lifespan_context(application):
        yield application, clock


async def test_a_session_ends_after_twelve_idle_hours_and_links_after_a_day(
    clocked: tuple[Any, ManualClock], factory: Factory, db: Database
) -> None:
    application, clock = clocked
    tenant = await factory.tenant("Console Idle Co")
    link = await add_user(db, tenant.id, "idle@example.com", "staff")
    stale = await add_user(db, tenant.id, "stale@example.com", "staff")
    async with browser(application) as client:
        await sign_in(client, link)
        clock.advance(timedelta(hours=11, minutes=59))
        assert (await client.get("/console")).status_code == 200  # activity resets the idle time
        clock.advance(timedelta(hours=11, minutes=59))
        assert (await client.get("/console")).status_code == 200
        clock.advance(timedelta(hours=12, seconds=1))
        assert (await client.get("/console")).headers["location"] == "/console/login"
        shown = await client.get(stale)
        assert shown.status_code == 409 and "expired" in shown.text


async def test_sign_out_ends_the_session_on_the_server(
    app: Any, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Console Sign-out Co")
    link = await add_user(db, tenant.id, "out@example.com", "owner")
    async with browser(app) as client:
        await sign_in(client, link)
        kept = client.cookies.get("eal_console")
        today = await client.get("/console")
        # Without the session's CSRF token, signing out is refused.
        forged = await client.post("/console/logout", data={"csrf_token": "forged"})
        assert forged.status_code == 403 and "did not come from this console" in forged.text
        out = await client.post("/console/logout", data={"csrf_token": form_token(today)})
        assert out.status_code == 303 and out.headers["location"] == "/console/login"
    async with browser(app) as replay:
        replay.cookies.set("eal_console", kept or "")
        assert (await replay.get("/console")).headers["location"] == "/console/login"


async def test_an_admin_key_opens_an_owner_session_and_others_are_refused(
    app: Any, factory: Factory
) -> None:
    tenant = await factory.tenant("Console Key Co")
    reader = await factory.key(tenant.id, "read")
    async with browser(app) as client:
        login = await client.get("/console/login")
        token = form_token(login)
        refused = await client.post(
            "/console/key", data={"csrf_token": token, "api_key": reader["key"]}
        )
        assert refused.status_code == 403 and "admin scope" in refused.text
        unknown = await client.post(
            "/console/key", data={"csrf_token": token, "api_key": "eal_live_" + "x" * 40}
        )
        assert unknown.status_code == 401 and "unknown or has been revoked" in unknown.text
        # A form that did not come from the sign-in page is refused.
        async with browser(app) as other:
            forged = await other.post(
                "/console/key", data={"csrf_token": token, "api_key": tenant.key}
            )
            assert forged.status_code == 403
        opened = await client.post(
            "/console/key", data={"csrf_token": token, "api_key": tenant.key}
        )
        assert opened.status_code == 303, opened.text
        today = await client.get("/console")
        assert "admin API key" in today.text and "(owner)" in today.text


async def test_email_sign_in_says_the_same_for_any_address_and_logs_the_link(
    app: Any, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Console Email Co")
    await add_user(db, tenant.id, "sign-in-by-email@example.com", "staff")
    async with browser(app) as client:
        token = form_token(await client.get("/console/login"))
        with capture_logs() as logs:
            known = await client.post(
                "/console/login",
                data={"csrf_token": token, "email": "Sign-In-By-Email@example.com"},
            )
            unknown = await client.post(
                "/console/login", data={"csrf_token": token, "email": "nobody@example.com"}
            )
        assert known.status_code == unknown.status_code == 200
        assert "a sign-in link is on its way" in known.text
        assert known.text.replace("Sign-In-By-Email@example.com", "X").replace(
            "sign-in-by-email@example.com", "X"
        ) == unknown.text.replace("nobody@example.com", "X")
        (line,) = [e for e in logs if e["event"] == "console_sign_in_link"]
        assert line["email"] == "sign-in-by-email@example.com"
        path = line["sign_in_link"].removeprefix("http://testserver")
        await sign_in(client, path)
        bad = await client.post(
            "/console/login", data={"csrf_token": token, "email": "not-an-email"}
        )
        assert bad.status_code == 422 and 'aria-invalid="true"' in bad.text


async def test_an_unexpected_error_is_a_page_too(
    app: Any, factory: Factory, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from eal.console import today

    async def broken(tx: Any) -> Any:
        raise RuntimeError("a bug")

    tenant = await factory.tenant("Console Bug Co")
    link = await add_user(db, tenant.id, "bug@example.com", "staff")
    async with browser(app) as client:
        await sign_in(client, link)
        monkeypatch.setattr(today, "today", broken)
        with capture_logs() as logs:
            page = await client.get("/console")
        assert page.status_code == 500
        assert page.headers["content-type"].startswith("text/html")
        assert "It has been logged" in page.text and "a bug" not in page.text
        assert [e["event"] for e in logs if e["log_level"] == "error"] == ["request_failed"]
        # The API's own paths keep the envelope.
        api = await client.get("/api/v1/nowhere")
        assert api.headers["content-type"].startswith("application/json")
