"""Claims in the console: list, a claim's lines with evidence, decisions per line."""

from __future__ import annotations

import re
from typing import Any

import httpx

from eal.db.engine import Database
from eal.runtime import Runtime
from tests.claims.support import (
    BASEMENT,
    create_claim,
    get_claim,
    lines,
    photo,
    run_extraction,
    upload,
)
from tests.console.support import add_user, browser, form_token, sign_in
from tests.factories import Factory, Tenant
from tests.support import audit_entries


async def ready_claim(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> dict[str, Any]:
    """A water claim with the README's basement, a photo in it, and its scope drafted."""
    created = await create_claim(
        client,
        tenant,
        water_category=1,
        water_class=2,
        job_external_ref="jn_console",
        rooms=[BASEMENT],
    )
    stored = await upload(client, tenant, created["id"], photo(5))
    r = await client.put(
        f"/api/v1/claims/{created['id']}/rooms",
        json={"rooms": [{**BASEMENT, "photo_ids": [stored["id"]]}]},
        headers=tenant.headers,
    )
    assert r.status_code == 200, r.text
    await client.post(f"/api/v1/claims/{created['id']}/extract", headers=tenant.headers)
    await run_extraction(runtime, tenant, created["id"])
    return await get_claim(client, tenant, created["id"])


async def test_a_staff_member_decides_lines_and_each_is_audited(
    app: Any, client: httpx.AsyncClient, runtime: Runtime, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Console Claims Co")
    claim = await ready_claim(client, runtime, tenant)
    basement = lines(claim, "Basement")
    link = await add_user(db, tenant.id, "pm@example.com", "staff")
    async with browser(app) as pm:
        await sign_in(pm, link)
        listed = await pm.get("/console/claims?status=ready_for_review")
        assert listed.status_code == 200 and "jn_console" in listed.text
        assert (
            "No claims with this status" in (await pm.get("/console/claims?status=reviewed")).text
        )
        shown = await pm.get(f"/console/claims/{claim['id']}")
        assert shown.status_code == 200
        assert "4 ft x 84 LF = 336 SF" in shown.text  # the drywall line's evidence
        assert f"/claims/{claim['id']}.pdf?exp=" in shown.text
        # The room's photo thumbnail is served from this origin, signed.
        thumb = re.search(r'<img src="(/claims/[^"]+)"', shown.text)
        assert thumb is not None
        assert (await pm.get(thumb.group(1).replace("&amp;", "&"))).status_code == 200
        csrf = form_token(shown)
        url = f"/console/claims/{claim['id']}/lines/"

        drywall = basement["WTR DRYW"]["id"]
        approved = await pm.post(
            url + basement["WTR EXTRT"]["id"], data={"csrf_token": csrf, "decision": "approve"}
        )
        assert approved.status_code == 303
        assert approved.headers["location"].endswith(f"#{basement['WTR EXTRT']['id']}")
        edited = await pm.post(
            url + drywall,
            data={"csrf_token": csrf, "decision": "edit", "qty": "320", "note": "Re-measured"},
        )
        assert edited.status_code == 303
        no_reason = await pm.post(
            url + basement["CON MANIP"]["id"],
            data={"csrf_token": csrf, "decision": "reject", "reason": ""},
        )
        assert no_reason.status_code == 422 and "a rejection needs a reason" in no_reason.text
        bad_qty = await pm.post(
            url + drywall, data={"csrf_token": csrf, "decision": "edit", "qty": "lots"}
        )
        assert bad_qty.status_code == 422 and 'role="alert"' in bad_qty.text
        unknown = await pm.post(
            url + "scope_" + "0" * 32, data={"csrf_token": csrf, "decision": "approve"}
        )
        assert unknown.status_code == 422 and "no scope item" in unknown.text
        forged = await pm.post(url + drywall, data={"csrf_token": "forged", "decision": "approve"})
        assert forged.status_code == 403

    after = lines(await get_claim(client, tenant, claim["id"]), "Basement")
    assert after["WTR EXTRT"]["review"]["decision"] == "approve"
    assert after["WTR DRYW"]["qty"] == 320 and after["WTR DRYW"]["review"]["original_qty"] == 336
    assert after["CON MANIP"]["review"] is None
    reviewed = await audit_entries(db, tenant.id, "claim.item_reviewed")
    assert [e["payload"]["code"] for e in reviewed] == ["WTR EXTRT", "WTR DRYW"]
    # Each decision names the person who made it.
    assert {e["payload"]["console_user"] for e in reviewed} == {"pm@example.com"}


async def test_another_organizations_claim_is_a_404_page(
    app: Any, client: httpx.AsyncClient, runtime: Runtime, factory: Factory, db: Database
) -> None:
    owner = await factory.tenant("Console Claims Owner")
    other = await factory.tenant("Console Claims Other")
    claim = await create_claim(client, owner, loss_type="fire")
    link = await add_user(db, other.id, "nosy@example.com", "owner")
    async with browser(app) as nosy:
        await sign_in(nosy, link)
        page = await nosy.get(f"/console/claims/{claim['id']}")
        assert page.status_code == 404 and "<html" in page.text
        assert "Drafting the scope" not in page.text
        assert "No claims" in (await nosy.get("/console/claims")).text
        garbage = await nosy.get("/console/claims?cursor=not-a-cursor")
        assert garbage.status_code == 400 and "<html" in garbage.text
