"""The organization's settings in the console: forms drawn from the API's models,
secrets entered and never shown back, the API's validation."""

from __future__ import annotations

from typing import Any

import httpx

from eal.db.engine import Database
from tests.console.support import add_user, browser, form_token, sign_in
from tests.factories import Factory

SECRET = "jn_live_console_7f3a9c2e41"
PAGE = "/console/settings/organization"


async def test_a_crm_key_is_entered_kept_and_never_shown(
    app: Any, client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Console Org Settings Co")
    link = await add_user(db, tenant.id, "owner@orgsettings.example", "owner")
    async with browser(app) as o:
        await sign_in(o, link)
        shown = await o.get(PAGE)
        assert shown.status_code == 200
        assert 'name="api_key" type="password"' in shown.text and "CRM (JobNimbus)" in shown.text
        csrf = form_token(shown)
        saved = await o.post(
            f"{PAGE}/integrations/crm",
            data={"csrf_token": csrf, "vendor": "jobnimbus", "api_key": SECRET},
        )
        assert saved.status_code == 303, saved.text
        after = await o.get(PAGE)
        assert SECRET not in after.text and SECRET[-4:] in after.text  # the masked hint only
        kept = await o.post(
            f"{PAGE}/integrations/crm",
            data={
                "csrf_token": csrf,
                "vendor": "jobnimbus",
                "api_key": "",
                "lead_id_field": "cf_string_7",
            },
        )
        assert kept.status_code == 303
        bad = await o.post(
            f"{PAGE}/integrations/crm",
            data={"csrf_token": csrf, "vendor": "jobnimbus", "lead_id_field": "not a field"},
        )
        assert bad.status_code == 422 and "lead_id_field" in bad.text
        general = await o.post(
            f"{PAGE}/general",
            data={"csrf_token": csrf, "name": "Console Org Renamed", "timezone": "America/Chicago"},
        )
        assert general.status_code == 303
        wrong = await o.post(
            f"{PAGE}/general", data={"csrf_token": csrf, "name": "X", "timezone": "Mars/Base"}
        )
        assert wrong.status_code == 422 and 'role="alert"' in wrong.text
    me = (await client.get("/api/v1/organizations/me", headers=tenant.headers)).json()
    assert me["name"] == "Console Org Renamed" and me["settings"]["timezone"] == "America/Chicago"
    crm = me["settings"]["integrations"]["crm"]
    assert crm["api_key_hint"].endswith(SECRET[-4:]) and crm["lead_id_field"] == "cf_string_7"
    async with browser(app) as o:
        await sign_in(o, await add_user(db, tenant.id, "second@orgsettings.example", "owner"))
        page = await o.get(PAGE)
        gone = await o.post(
            f"{PAGE}/integrations/crm", data={"csrf_token": form_token(page), "remove": "1"}
        )
        assert gone.status_code == 303
    me = (await client.get("/api/v1/organizations/me", headers=tenant.headers)).json()
    assert "crm" not in (me["settings"].get("integrations") or {})


async def test_only_owners_reach_the_organization_settings(
    app: Any, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Console Org Settings Manager Co")
    link = await add_user(db, tenant.id, "manager@orgsettings.example", "manager")
    async with browser(app) as m:
        await sign_in(m, link)
        assert (await m.get(PAGE)).status_code == 403
        today = await m.get("/console")
        refused = await m.post(
            f"{PAGE}/integrations/crm",
            data={"csrf_token": form_token(today), "vendor": "jobnimbus", "api_key": SECRET},
        )
        assert refused.status_code == 403


async def test_service_area_business_hours_and_dispatch(
    app: Any, client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Console Dispatch Settings Co")
    link = await add_user(db, tenant.id, "owner@dispatch.example", "owner")
    async with browser(app) as o:
        await sign_in(o, link)
        shown = await o.get(PAGE)
        assert (
            'value="08:00-18:00"' in shown.text and 'value="closed"' in shown.text
        )  # the defaults
        csrf = form_token(shown)
        area = await o.post(
            f"{PAGE}/service-area",
            data={
                "csrf_token": csrf,
                "postal_codes": "30075, 30076 30062",
                "center_postal_code": "30075",
                "radius_miles": "25",
            },
        )
        assert area.status_code == 303, area.text
        hours = {day: "08:00-18:00" for day in ("mon", "tue", "wed", "thu", "fri")}
        saved = await o.post(
            f"{PAGE}/business-hours",
            data={"csrf_token": csrf, **hours, "sat": "09:00-12:00, 13:00-15:00", "sun": "closed"},
        )
        assert saved.status_code == 303, saved.text
        bad = await o.post(
            f"{PAGE}/business-hours", data={"csrf_token": csrf, **hours, "sat": "nine to five"}
        )
        assert bad.status_code == 422 and "Saturday" in bad.text
        late = await o.post(
            f"{PAGE}/business-hours", data={"csrf_token": csrf, **hours, "sat": "09:00-25:00"}
        )
        assert late.status_code == 422
        dispatch = await o.post(
            f"{PAGE}/dispatch",
            data={
                "csrf_token": csrf,
                "auto_dispatch": "on",
                "min_confidence": "0.7",
                "on_call_phone": "(770) 555-0142",
            },
        )
        assert dispatch.status_code == 303, dispatch.text
        wrong = await o.post(f"{PAGE}/dispatch", data={"csrf_token": csrf, "min_confidence": "2"})
        assert wrong.status_code == 422 and "min_confidence" in wrong.text
    settings = (await client.get("/api/v1/organizations/me", headers=tenant.headers)).json()[
        "settings"
    ]
    assert sorted(settings["service_area"]["postal_codes"]) == ["30062", "30075", "30076"]
    assert settings["service_area"]["radius_miles"] == 25
    assert settings["business_hours"]["sat"] == [["09:00", "12:00"], ["13:00", "15:00"]]
    assert settings["business_hours"]["sun"] == []
    assert (
        settings["dispatch"]["auto_dispatch"] is True
        and settings["dispatch"]["min_confidence"] == 0.7
    )
    assert settings["dispatch"]["on_call_phone"] == "+17705550142"
