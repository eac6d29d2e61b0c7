"""Settings in the console: owners add and disable users, create and revoke keys,
see webhook deliveries and redeliver; other roles neither see nor reach it."""

from __future__ import annotations

import re
from typing import Any

import httpx

from eal.db.engine import Database
from tests.console.support import add_user, browser, form_token, sign_in
from tests.factories import Factory
from tests.support import audit_entries


async def test_owners_manage_users_and_keys(
    app: Any, client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Console Settings Co")
    owner = await add_user(db, tenant.id, "owner@settings.example", "owner")
    manager = await add_user(db, tenant.id, "manager@settings.example", "manager")
    async with browser(app) as m:
        await sign_in(m, manager)
        today = await m.get("/console")
        assert 'href="/console/settings"' not in today.text
        assert (await m.get("/console/settings")).status_code == 403
        forged = await m.post(
            "/console/settings/keys", data={"csrf_token": form_token(today), "scope": "admin"}
        )
        assert forged.status_code == 403
    async with browser(app) as o:
        await sign_in(o, owner)
        shown = await o.get("/console/settings")
        assert shown.status_code == 200 and "manager@settings.example" in shown.text
        csrf = form_token(shown)
        added = await o.post(
            "/console/settings/users",
            data={"csrf_token": csrf, "email": "Crew@Settings.example", "role": "staff"},
        )
        assert added.status_code == 200
        link = re.search(
            r'id="new-link">http://testserver(/console/sign-in/csl_[^<]+)<', added.text
        )
        assert link is not None
        twice = await o.post(
            "/console/settings/users",
            data={"csrf_token": csrf, "email": "crew@settings.example", "role": "staff"},
        )
        assert twice.status_code == 409 and "already a console user" in twice.text
        created = await o.post(
            "/console/settings/keys",
            data={"csrf_token": csrf, "scope": "read", "environment": "live", "name": "Zapier"},
        )
        secret = re.search(r'id="new-key">(eal_live_[^<]+)<', created.text)
        assert secret is not None
        me = await client.get(
            "/api/v1/organizations/me", headers={"Authorization": f"Bearer {secret.group(1)}"}
        )
        assert me.status_code == 200
        again = await o.get("/console/settings")
        assert secret.group(1) not in again.text  # shown once
        zapier = re.search(
            r"<td>Zapier</td>.*?/console/settings/keys/([0-9a-f-]+)/revoke", again.text, re.S
        )
        assert zapier is not None
        target = zapier.group(1)
        revoked = await o.post(f"/console/settings/keys/{target}/revoke", data={"csrf_token": csrf})
        assert revoked.status_code == 303
        assert (
            await client.get(
                "/api/v1/organizations/me", headers={"Authorization": f"Bearer {secret.group(1)}"}
            )
        ).status_code == 401
        users = re.findall(r"/console/settings/users/([0-9a-f-]+)/disable", again.text)
        assert len(users) == 2  # the manager and the new crew member, never oneself
    async with browser(app) as crew:
        await sign_in(crew, link.group(1))
        assert "crew@settings.example" in (await crew.get("/console")).text
        async with browser(app) as o2:
            await sign_in(o2, await add_user(db, tenant.id, "second@settings.example", "owner"))
            page = await o2.get("/console/settings")
            crew_id = re.search(
                r"<td>crew@settings.example</td>.*?/console/settings/users/([0-9a-f-]+)/disable",
                page.text,
                re.S,
            )
            assert crew_id is not None
            disabled = await o2.post(
                f"/console/settings/users/{crew_id.group(1)}/disable",
                data={"csrf_token": form_token(page)},
            )
            assert disabled.status_code == 303
        # The disabled user's session ends with their next request.
        assert (await crew.get("/console")).headers["location"] == "/console/login"
    assert len(await audit_entries(db, tenant.id, "api_key.revoked")) == 1


async def test_webhook_deliveries_and_redelivery(
    app: Any, client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Console Webhooks Co")
    hook = await client.post(
        "/api/v1/webhooks",
        json={"url": "https://127.0.0.1:9/eal", "events": ["lead.created"]},
        headers=tenant.headers,
    )
    lead = await client.post(
        "/api/v1/leads", json={"email": "w@example.com"}, headers=tenant.headers
    )
    assert hook.status_code == 201 and lead.status_code == 201
    link = await add_user(db, tenant.id, "owner@hooks.example", "owner")
    async with browser(app) as o:
        await sign_in(o, link)
        settings = await o.get("/console/settings")
        assert "https://127.0.0.1:9/eal" in settings.text
        page = await o.get(f"/console/settings/webhooks/{hook.json()['id']}")
        assert page.status_code == 200 and "lead.created" in page.text
        action = re.search(r'action="(/console/settings/webhooks/[^"]+/redeliver)"', page.text)
        assert action is not None
        again = await o.post(action.group(1), data={"csrf_token": form_token(page)})
        assert again.status_code == 303
        assert "Queued for delivery again" in (await o.get(again.headers["location"])).text
        assert (await o.get("/console/settings/webhooks/not-a-uuid")).status_code == 404
