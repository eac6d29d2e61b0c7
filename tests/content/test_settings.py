"""The content settings: profile, reviews, WordPress and Google Business Profile credentials."""

from __future__ import annotations

import httpx

from eal.db.engine import Database
from tests.content.support import GBP_TOKEN, ORGS, PHONE, WP_PASSWORD, configure
from tests.factories import Factory
from tests.support import error_fields, org_row


async def test_credentials_are_stored_encrypted_and_shown_masked(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Settings Co")
    body = {
        "settings": {
            "profile": {"phone": "(770) 555-0142", "website": "https://example.com"},
            "reviews": {"auto_publish_positive": True},
            "integrations": {
                "wordpress": {
                    "site_url": "http://127.0.0.1:9/blog",
                    "username": "dana.editor",
                    "application_password": WP_PASSWORD,
                },
                "google_business": {
                    "access_token": GBP_TOKEN,
                    "account_id": "accounts/106544219846318392011",
                    "location_id": "4830127765590231487",
                },
            },
        }
    }
    r = await client.patch(f"{ORGS}/{tenant.id}", json=body, headers=tenant.headers)
    assert r.status_code == 200, r.text
    shown = r.json()["settings"]
    assert shown["profile"] == {"phone": PHONE, "website": "https://example.com"}
    assert shown["reviews"] == {"auto_publish_positive": True}
    wordpress = shown["integrations"]["wordpress"]
    assert "application_password" not in wordpress
    assert "application_password_encrypted" not in wordpress
    assert wordpress["application_password_hint"].endswith(WP_PASSWORD[-4:])
    google = shown["integrations"]["google_business"]
    assert "access_token_encrypted" not in google and google["access_token_hint"]
    raw = str((await org_row(db, tenant.id))["settings"])
    assert WP_PASSWORD not in raw and GBP_TOKEN not in raw
    # Changing the rest keeps the stored secret.
    again = await configure(
        client,
        tenant,
        integrations={
            "wordpress": {"site_url": "http://127.0.0.1:9/news", "username": "dana.editor"}
        },
    )
    assert again["integrations"]["wordpress"]["site_url"] == "http://127.0.0.1:9/news"
    assert again["integrations"]["wordpress"]["application_password_hint"]


async def test_bad_content_settings_are_422_naming_the_field(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    tenant = await factory.tenant("Bad Settings Co")
    for settings, field in [
        ({"profile": {"phone": "call us"}}, "settings.profile.phone"),
        ({"profile": {"website": "example.com"}}, "settings.profile.website"),
        ({"reviews": {"auto_publish_positive": "sometimes"}}, "settings.reviews"),
        (
            {"integrations": {"wordpress": {"site_url": "http://127.0.0.1:9", "username": "dana"}}},
            "settings.integrations.wordpress.application_password",
        ),
        (
            {
                "integrations": {
                    "google_business": {"account_id": "1", "location_id": "2"},
                }
            },
            "settings.integrations.google_business.access_token",
        ),
        (
            {
                "integrations": {
                    "google_business": {
                        "access_token": GBP_TOKEN,
                        "account_id": "a/b/c",
                        "location_id": "2",
                    }
                }
            },
            "settings.integrations.google_business.account_id",
        ),
    ]:
        r = await client.patch(
            f"{ORGS}/{tenant.id}", json={"settings": settings}, headers=tenant.headers
        )
        assert any(f.startswith(field) for f in error_fields(r)), (settings, r.text)
