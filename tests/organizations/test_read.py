"""GET /organizations/me and GET /organizations (a parent's children with their grants)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from tests.support import assert_error, error_fields

ORGS = "/api/v1/organizations"


async def test_me_returns_the_calling_organization(client, factory):
    t = await factory.tenant("PuroClean of North Metro Atlanta", scopes="read")
    r = await client.get(f"{ORGS}/me", headers=t.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"] == str(t.id)
    assert body["name"] == "PuroClean of North Metro Atlanta"
    assert body["industry"] == "restoration"
    assert body["parent_organization_id"] is None
    assert body["settings"] == {"timezone": "America/New_York", "default_locale": "en-US"}
    assert body["created_at"].endswith("Z")


async def test_me_of_a_child_names_its_parent(client, factory):
    parent = await factory.tenant("Me Parent")
    child = await factory.tenant("Me Child", parent=parent.id, scopes="read")
    body = (await client.get(f"{ORGS}/me", headers=child.headers)).json()
    assert body["parent_organization_id"] == str(parent.id)


async def test_children_list_shows_only_active_grants(client, factory, db):
    parent = await factory.tenant("List Parent")
    granted = await factory.tenant("Granted Child", parent=parent.id)
    await factory.tenant("Plain Child", parent=parent.id)
    await factory.tenant("Someone Else's Child", parent=(await factory.tenant("Other")).id)
    r = await client.post(
        f"{ORGS}/{granted.id}/grants",
        json={
            "parent_organization_id": str(parent.id),
            "scopes": ["calls.read", "leads.read"],
            "expires_at": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
        },
        headers=granted.headers,
    )
    assert r.status_code == 201, r.text
    async with db.system_transaction() as conn:
        await conn.execute(
            text(
                "INSERT INTO org_grants (organization_id, parent_organization_id, scopes, "
                "expires_at) VALUES (:c, :p, '{audit_log.read}', now() - interval '1 minute')"
            ),
            {"c": granted.id, "p": parent.id},
        )
    r = await client.get(ORGS, headers=parent.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["next_cursor"] is None
    by_name = {c["name"]: c for c in body["data"]}
    assert set(by_name) == {"Granted Child", "Plain Child"}
    assert by_name["Granted Child"]["grants"] == ["calls.read", "leads.read"]
    assert by_name["Granted Child"]["id"] == str(granted.id)
    assert by_name["Plain Child"]["grants"] == []


async def test_organization_without_children_gets_an_empty_page(client, factory):
    t = await factory.tenant("Childless")
    r = await client.get(ORGS, headers=t.headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"data": [], "next_cursor": None}


async def test_children_are_paged_with_an_opaque_cursor(client, factory):
    parent = await factory.tenant("Paged Parent")
    for i in range(3):
        await factory.tenant(f"Paged Child {i}", parent=parent.id)
    first = await client.get(ORGS, params={"limit": 2}, headers=parent.headers)
    assert first.status_code == 200, first.text
    page1 = first.json()
    assert len(page1["data"]) == 2 and page1["next_cursor"]
    assert "=" not in page1["next_cursor"] and "+" not in page1["next_cursor"]
    second = await client.get(
        ORGS, params={"limit": 2, "cursor": page1["next_cursor"]}, headers=parent.headers
    )
    page2 = second.json()
    assert len(page2["data"]) == 1 and page2["next_cursor"] is None
    names = [c["name"] for c in page1["data"] + page2["data"]]
    assert sorted(names) == ["Paged Child 0", "Paged Child 1", "Paged Child 2"]
    assert len(set(names)) == 3


async def test_a_tampered_cursor_is_400(client, factory):
    parent = await factory.tenant("Tampered Parent")
    for i in range(3):
        await factory.tenant(f"Tampered Child {i}", parent=parent.id)
    cursor = (await client.get(ORGS, params={"limit": 2}, headers=parent.headers)).json()[
        "next_cursor"
    ]
    for bad in (cursor[:-3] + "!!!", cursor[5:], "bm90IGpzb24", "e30"):
        r = await client.get(ORGS, params={"limit": 2, "cursor": bad}, headers=parent.headers)
        assert_error(r, 400, "invalid_request")


async def test_limit_outside_1_to_200_is_422(client, factory):
    t = await factory.tenant("Limit Parent")
    for limit in (0, 201, -1):
        r = await client.get(ORGS, params={"limit": limit}, headers=t.headers)
        assert error_fields(r) == ["limit"]
    assert error_fields(await client.get(ORGS, params={"limit": "ten"}, headers=t.headers)) == [
        "limit"
    ]
    assert (await client.get(ORGS, params={"limit": 200}, headers=t.headers)).status_code == 200


async def test_children_created_at_the_same_instant_page_by_id(client, factory, db):
    parent = await factory.tenant("Tie Parent")
    ids = {str((await factory.tenant(f"Tie Child {i}", parent=parent.id)).id) for i in range(3)}
    async with db.system_transaction() as conn:
        await conn.execute(
            text(
                "UPDATE organizations SET created_at = '2026-01-01T00:00:00Z' "
                "WHERE parent_organization_id = :p"
            ),
            {"p": parent.id},
        )
    seen: list[str] = []
    cursor = None
    for _ in range(4):
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(ORGS, params=params, headers=parent.headers)).json()
        seen += [c["id"] for c in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(ids)
    assert cursor is None
