"""The console in a real browser: headless Chromium driven by Playwright, over real HTTP.

Each page is checked with axe-core (vendored in tests/console/assets) for serious or
critical violations, and photographed at 1280 and 390 px wide into tests/artifacts/
(git-ignored) for review. Without a Chromium on the machine these tests skip, except
under EAL_REQUIRE_BROWSER=1 (CI), where they fail.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from eal.app import create_app
from eal.config import Settings
from eal.db.engine import Database
from tests.cli.servers import threaded_server
from tests.console.support import add_user
from tests.factories import Factory

HERE = Path(__file__).resolve().parent
AXE = HERE / "assets" / "axe-4.14.1.min.js"
ARTIFACTS = HERE.parents[1] / "tests" / "artifacts" / "console"
WIDTHS = (1280, 390)
CHROMIUM = next(
    (
        p
        for p in (os.environ.get("EAL_CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium")
        if p and Path(p).exists()
    ),
    None,
)
# The flags a root, offline machine needs (no sandbox as root, no background calls home).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

if CHROMIUM is None and os.environ.get("EAL_REQUIRE_BROWSER") != "1":
    pytest.skip("no Chromium on this machine (apt-get install chromium)", allow_module_level=True)


@pytest.fixture
def server(settings: Settings) -> Iterator[str]:
    """The app over real HTTP; links it hands out name this server."""
    with threaded_server(create_app(settings)) as base:
        yield base


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    assert CHROMIUM is not None, "EAL_REQUIRE_BROWSER=1 but no Chromium (apt-get install chromium)"
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


async def _context(browser: Any, width: int = 1280) -> Any:
    # bypass_csp lets the test inject axe-core; the pages themselves run under their CSP.
    return await browser.new_context(
        viewport={"width": width, "height": 900}, bypass_csp=True, java_script_enabled=True
    )


async def _signed_in(browser: Any, server: str, link: str) -> Any:
    """A page of a new browser context, signed in through `link` (its button clicked)."""
    context = await _context(browser)
    page = await context.new_page()
    await page.goto(f"{server}{link}")
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{server}/console")
    return page


async def _axe(page: Any) -> list[dict[str, Any]]:
    """The serious and critical axe-core violations of the page as shown."""
    await page.add_script_tag(path=str(AXE))
    result = await page.evaluate("async () => (await axe.run(document)).violations")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]]}
        for v in result
        if v["impact"] in ("serious", "critical")
    ]


async def _check_page(browser: Any, page: Any, name: str) -> None:
    """axe-core on the page, then a screenshot of it at each width."""
    assert await _axe(page) == [], name
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    url = page.url
    cookies = await page.context.cookies()
    for width in WIDTHS:
        context = await _context(browser, width)
        await context.add_cookies(cookies)
        shot = await context.new_page()
        await shot.goto(url)
        await shot.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
        # Nothing wider than the screen: usable on a phone without sideways scrolling.
        overflow = await shot.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        wide = await shot.evaluate(
            "(w) => [...document.querySelectorAll('body *')]"
            ".filter(e => e.getBoundingClientRect().right > w + 1)"
            ".slice(0, 5).map(e => e.tagName + '.' + e.className)",
            width,
        )
        assert overflow <= 0, (name, width, overflow, wide)
        await context.close()


async def test_sign_in_by_link_with_the_keyboard(
    browser: Any, server: str, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Browser Sign-in Co")
    link = await add_user(db, tenant.id, "pm@example.com", "manager")
    context = await _context(browser)
    page = await context.new_page()
    await page.goto(f"{server}/console")
    assert page.url.endswith("/console/login")
    await _check_page(browser, page, "login")

    await page.goto(f"{server}{link}")
    await _check_page(browser, page, "sign-in")
    # Keyboard only: the skip link first, then through to the button.
    await page.keyboard.press("Tab")
    assert await page.evaluate("() => document.activeElement.textContent") == "Skip to content"
    await page.get_by_role("button", name="Sign in").focus()
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{server}/console")
    assert await page.get_by_role("heading", level=1).text_content() == "Today"
    assert "pm@example.com" in await page.locator("header").inner_text()
    await _check_page(browser, page, "today")
    cookie = next(c for c in await context.cookies() if c["name"] == "eal_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    # Script on the page cannot read the session.
    assert "eal_console" not in await page.evaluate("() => document.cookie")

    await page.get_by_role("button", name="Sign out").click()
    await page.wait_for_url(f"{server}/console/login")
    await page.goto(f"{server}/console")
    assert page.url.endswith("/console/login")
    await context.close()


async def test_a_forged_form_is_refused_with_a_page(
    browser: Any, server: str, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Browser CSRF Co")
    link = await add_user(db, tenant.id, "owner@example.com", "owner")
    page = await _signed_in(browser, server, link)
    # The sign-out form with its CSRF token replaced, as a forged request would carry.
    await page.evaluate(
        "() => { document.querySelector('input[name=csrf_token]').value = 'forged'; }"
    )
    async with page.expect_navigation():
        await page.get_by_role("button", name="Sign out").click()
    assert await page.get_by_role("heading", level=1).text_content() == "Not allowed"
    assert "did not come from this console" in await page.locator("main").inner_text()
    await _check_page(browser, page, "error-403")
    # Still signed in: the forged request changed nothing.
    await page.goto(f"{server}/console")
    assert await page.get_by_role("heading", level=1).text_content() == "Today"
    await page.context.close()


async def test_accepting_an_invite(browser: Any, server: str, factory: Factory) -> None:
    import httpx

    parent = await factory.tenant("Browser Invite Network")
    async with httpx.AsyncClient(base_url=server) as api:
        created = await api.post(
            "/api/v1/organizations",
            json={"name": "Alpharetta Location", "primary_admin_email": "owner@alpharetta.example"},
            headers=parent.headers,
        )
    assert created.status_code == 201, created.text
    path = created.json()["invite_url"].removeprefix("http://testserver")
    context = await _context(browser)
    page = await context.new_page()
    await page.goto(f"{server}{path}")
    assert "Join Alpharetta Location" in await page.get_by_role("heading", level=1).text_content()
    await _check_page(browser, page, "invite")
    async with page.expect_navigation():
        await page.get_by_role("button", name="Accept the invitation").click()
    key = await page.locator("#api-key").text_content()
    assert key and key.startswith("eal_live_")
    assert "/console/sign-in/csl_" in (await page.locator("#sign-in-link").text_content() or "")
    assert await _axe(page) == []
    await page.get_by_role("link", name="Open the console").click()
    await page.wait_for_url(f"{server}/console")
    assert "owner@alpharetta.example" in await page.locator("header").inner_text()
    # The key shown works against the API.
    async with httpx.AsyncClient(base_url=server) as api:
        me = await api.get("/api/v1/organizations/me", headers={"Authorization": f"Bearer {key}"})
    assert me.json()["name"] == "Alpharetta Location"
    await context.close()


async def test_approving_a_claim_line_with_the_keyboard(
    browser: Any, server: str, factory: Factory, db: Database, runtime: Any
) -> None:
    import httpx

    from tests.console.test_claims_pages import ready_claim

    tenant = await factory.tenant("Browser Claims Co")
    async with httpx.AsyncClient(base_url=server) as api:
        claim = await ready_claim(api, runtime, tenant)
    link = await add_user(db, tenant.id, "pm@claims.example", "staff")
    page = await _signed_in(browser, server, link)
    await page.get_by_role("link", name="Claims").click()
    await page.wait_for_url(f"{server}/console/claims")
    await _check_page(browser, page, "claims")
    await page.get_by_role("link", name="jn_console").click()
    await page.wait_for_url(f"{server}/console/claims/{claim['id']}")
    await _check_page(browser, page, "claim")
    assert await page.locator("#claim-status").text_content() == "Ready for review"
    approve = page.get_by_role("button", name="Approve WTR EXTRT in Basement")
    await approve.focus()
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    line = page.locator("li.line.decided-approve")
    assert await line.count() == 1
    assert "WTR EXTRT" in await line.inner_text()
    assert await page.locator("#claim-status").text_content() == "Partly reviewed"


async def test_correcting_a_call(browser: Any, server: str, factory: Factory, db: Database) -> None:
    import httpx

    from tests.console.test_calls_pages import make_call

    tenant = await factory.tenant("Browser Calls Co")
    async with httpx.AsyncClient(base_url=server) as api:
        call = await make_call(api, tenant)
    link = await add_user(db, tenant.id, "office@calls.example", "staff")
    page = await _signed_in(browser, server, link)
    await page.get_by_role("link", name="Calls").click()
    await page.wait_for_url(f"{server}/console/calls")
    await _check_page(browser, page, "calls")
    await page.locator(f'a[href="/console/calls/{call["id"]}"]').click()
    await page.wait_for_url(f"{server}/console/calls/{call['id']}")
    await _check_page(browser, page, "call")
    await page.get_by_label("What the call was about").select_option("mold")
    await page.get_by_label("Urgency").select_option("medium")
    await page.get_by_label("Yes").check()
    await page.get_by_label("Note (optional)").fill("Mold behind the vanity")
    async with page.expect_navigation():
        await page.get_by_role("button", name="Save the correction").click()
    assert "corrected by a person" in await page.locator("#classification").inner_text()
    assert "Mold" in await page.locator("#classification").inner_text()


async def test_moving_a_lead_with_the_keyboard_and_by_dragging(
    browser: Any, server: str, factory: Factory, db: Database
) -> None:
    import httpx

    from tests.console.test_leads_pages import make_lead

    tenant = await factory.tenant("Browser Leads Co")
    async with httpx.AsyncClient(base_url=server) as api:
        lead = await make_lead(api, tenant)
    link = await add_user(db, tenant.id, "manager@leads.example", "manager")
    page = await _signed_in(browser, server, link)
    await page.get_by_role("link", name="Leads").click()
    await page.wait_for_url(f"{server}/console/leads")
    await _check_page(browser, page, "leads")
    card = page.locator(f"#lead-{lead['id']}")
    await card.get_by_label("Move Dana Reed to").select_option("contacted")
    async with page.expect_navigation():
        await card.get_by_role("button", name="Move to").press("Enter")
    column = page.locator('[data-stage="contacted"]')
    assert "Dana Reed" in await column.inner_text()
    # Dragging the card to the Won column sends the same move.
    async with page.expect_navigation():
        await page.locator(f"#lead-{lead['id']}").drag_to(page.locator('[data-stage="won"]'))
    assert "Dana Reed" in await page.locator('[data-stage="won"]').inner_text()
    await page.get_by_role("link", name="Dana Reed").click()
    await _check_page(browser, page, "lead")
    assert await page.locator("#lead-stage").text_content() == "Won"


async def test_approving_a_review_reply(
    browser: Any, server: str, factory: Factory, db: Database
) -> None:
    import httpx

    from tests.console.test_content_pages import negative_reply

    tenant = await factory.tenant("Browser Content Co")
    async with httpx.AsyncClient(base_url=server) as api:
        reply = await negative_reply(api, tenant)
    link = await add_user(db, tenant.id, "owner@content.example", "owner")
    page = await _signed_in(browser, server, link)
    await _check_page(browser, page, "today-waiting")
    await page.get_by_role("link", name="Content", exact=True).click()
    await page.wait_for_url(f"{server}/console/content")
    await _check_page(browser, page, "content")
    await page.get_by_role("link", name="Review replies waiting for the owner").click()
    await page.locator(f'a[href="/console/content/{reply["id"]}"]').click()
    await page.wait_for_url(f"{server}/console/content/{reply['id']}")
    await _check_page(browser, page, "content-item")
    await page.get_by_label("Reply").fill("Sam, we are sorry. Our manager will call you today.")
    async with page.expect_navigation():
        await page.get_by_role("button", name="Save").click()
    async with page.expect_navigation():
        await page.get_by_role("button", name="Approve the reply").click()
    assert await page.locator("#content-status").text_content() == "Draft"
    assert "may be published now" in await page.locator("main").inner_text()


async def test_outreach_settings_and_audit_pages_are_accessible(
    browser: Any, server: str, factory: Factory, db: Database
) -> None:
    import httpx

    tenant = await factory.tenant("Browser Owner Co", environment="test")
    async with httpx.AsyncClient(base_url=server, headers=tenant.headers) as api:
        lead = (await api.post("/api/v1/leads", json={"email": "lee@example.com"})).json()
        sequence = (
            await api.post(
                "/api/v1/outreach/sequences",
                json={
                    "name": "Follow-up",
                    "channel": "email",
                    "steps": [{"delay": "1d", "subject": "Hello", "body": "Hi"}],
                },
            )
        ).json()
        await api.post(
            f"/api/v1/outreach/sequences/{sequence['id']}/enrollments",
            json={"lead_ids": [lead["id"]]},
        )
        await api.post(
            "/api/v1/outreach/suppressions", json={"channel": "email", "address": "x@example.com"}
        )
        hook = (
            await api.post(
                "/api/v1/webhooks",
                json={"url": "https://127.0.0.1:9/eal", "events": ["lead.created"]},
            )
        ).json()
        await api.post("/api/v1/leads", json={"email": "second@example.com"})
    link = await add_user(db, tenant.id, "owner@owner.example", "owner")
    page = await _signed_in(browser, server, link)
    for path, name in (
        ("/console/outreach", "outreach"),
        (f"/console/outreach/sequences/{sequence['id']}", "sequence"),
        ("/console/settings", "settings"),
        ("/console/settings/organization", "organization-settings"),
        (f"/console/settings/webhooks/{hook['id']}", "webhook"),
        ("/console/audit-log", "audit-log"),
        ("/console/leads?q=lee", "leads-search"),
    ):
        response = await page.goto(f"{server}{path}")
        assert response is not None and response.status == 200, path
        await _check_page(browser, page, name)
    missing = await page.goto(f"{server}/console/calls/call_{'0' * 32}")
    assert missing is not None and missing.status == 404
    await _check_page(browser, page, "error-404")
