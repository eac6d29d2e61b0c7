"""The invite page: a person opens the invite_url, sees the organization and accepts."""

from __future__ import annotations

from typing import Any

from tests.console.support import browser, form_token
from tests.factories import Factory

ORGS = "/api/v1/organizations"


async def test_an_invite_is_accepted_in_the_browser_once(app: Any, factory: Factory) -> None:
    parent = await factory.tenant("Console Invite Network")
    async with browser(app) as api:
        created = await api.post(
            ORGS,
            json={"name": "Roswell Location", "primary_admin_email": "Owner@Example.com"},
            headers=parent.headers,
        )
    assert created.status_code == 201, created.text
    url = created.json()["invite_url"]
    assert url.startswith("http://testserver/invite/itok_")
    path = url.removeprefix("http://testserver")
    async with browser(app) as client:
        shown = await client.get(path)
        assert shown.status_code == 200
        assert "Join Roswell Location" in shown.text and "Owner@example.com" in shown.text
        forged = await client.post(path, data={"csrf_token": "forged"})
        assert forged.status_code == 403
        accepted = await client.post(path, data={"csrf_token": form_token(shown)})
        assert accepted.status_code == 200, accepted.text
        assert "eal_live_" in accepted.text and "/console/sign-in/csl_" in accepted.text
        assert accepted.headers["cache-control"] == "no-store"
        today = await client.get("/console")
        assert today.status_code == 200 and "owner@example.com" in today.text
        again = await client.get(path)
        assert "accepted already" in again.text
        # The API's accept endpoint and the page spend the same invite.
        token = path.rsplit("/", 1)[-1]
        assert (await client.post(f"/api/v1/invites/{token}/accept")).status_code == 409
        replay = await client.post(path, data={"csrf_token": form_token(shown)})
        assert replay.status_code == 409 and "text/html" in replay.headers["content-type"]


async def test_an_invite_without_an_email_signs_in_with_its_key(app: Any, factory: Factory) -> None:
    parent = await factory.tenant("Console Invite Keys")
    async with browser(app) as client:
        created = await client.post(ORGS, json={"name": "Keyed Location"}, headers=parent.headers)
        path = created.json()["invite_url"].removeprefix("http://testserver")
        shown = await client.get(path)
        accepted = await client.post(path, data={"csrf_token": form_token(shown)})
        assert accepted.status_code == 200 and "sign-in link" not in accepted.text.lower()
        today = await client.get("/console")
        assert "admin API key" in today.text
        assert (await client.get("/invite/itok_missing")).status_code == 404
