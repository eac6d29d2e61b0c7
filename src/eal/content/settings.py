"""The content parts of an organization's settings: profile, reviews, WordPress, Google Business.

`settings.profile` (`{phone, website}`, used in calls to action), `settings.reviews`
(`auto_publish_positive`), `settings.integrations.wordpress` and
`settings.integrations.google_business` are validated here when an organization saves
them; the organizations domain stores them (the application password and the access token
encrypted, masked when shown) and the content domain reads them back with `ContentConfig`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import httpx
from pydantic import Field, field_validator

from eal.integrations.google_business import DEFAULT_BASE_URL, GoogleBusinessClient
from eal.integrations.wordpress import WordPressClient
from eal.kit.schemas import NON_BLANK, StrictBody
from eal.kit.secretbox import SecretBox
from eal.leads.phone import PHONE_JSON_SCHEMA, normalize_phone
from eal.organizations.vendor_settings import SECRET_PATTERN, VENDOR_URL_PATTERN
from eal.outreach.settings import Secret, Url

VendorUrl = Annotated[
    str,
    Field(
        pattern=r"^https?://",
        max_length=500,
        json_schema_extra={"pattern": VENDOR_URL_PATTERN, "format": "uri"},
    ),
]
ResourceId = Annotated[str, Field(pattern=r"^(accounts/|locations/)?[A-Za-z0-9_-]{1,100}$")]


class ProfileSettingsIn(StrictBody):
    """`settings.profile`: how content names the business (calls to action)."""

    phone: str | None = Field(default=None, json_schema_extra=PHONE_JSON_SCHEMA)
    website: VendorUrl | None = None

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return None if value is None else normalize_phone(value)


class ReviewsSettingsIn(StrictBody):
    """`settings.reviews`."""

    auto_publish_positive: bool | None = Field(
        default=None,
        description="Publish the reply to a positive review to Google Business Profile "
        "without a person reading it first (default false). Negative and mixed reviews "
        "always wait for the owner.",
    )


class WordPressSettingsIn(StrictBody):
    """A WordPress site and user; the application password is stored encrypted, never shown."""

    site_url: VendorUrl
    username: Annotated[
        str, Field(min_length=1, max_length=200, json_schema_extra={"pattern": NON_BLANK})
    ]
    application_password: Secret | None = Field(
        default=None,
        json_schema_extra={"pattern": SECRET_PATTERN},
        description="Required the first time (Users -> Profile -> Application Passwords); "
        "omit it to keep the stored one.",
    )

    @field_validator("username")
    @classmethod
    def _username(cls, value: str) -> str:
        if ":" in value:
            raise ValueError("must not contain ':'")
        return value


class GoogleBusinessSettingsIn(StrictBody):
    """A Business Profile location; the OAuth access token is stored encrypted, never shown."""

    access_token: Secret | None = Field(
        default=None,
        json_schema_extra={"pattern": SECRET_PATTERN},
        description="Required the first time; omit it to keep the stored one.",
    )
    account_id: ResourceId
    location_id: ResourceId
    base_url: Url | None = Field(
        default=None,
        description=f"Default {DEFAULT_BASE_URL}.",
        json_schema_extra={"pattern": VENDOR_URL_PATTERN, "format": "uri"},
    )


class WordPressSettingsCreate(WordPressSettingsIn):
    """WordPress settings of a new organization: the application password is required."""

    application_password: Secret = Field(json_schema_extra={"pattern": SECRET_PATTERN})  # type: ignore[assignment]


class GoogleBusinessSettingsCreate(GoogleBusinessSettingsIn):
    """Business Profile settings of a new organization: the access token is required."""

    access_token: Secret = Field(json_schema_extra={"pattern": SECRET_PATTERN})  # type: ignore[assignment]


@dataclass(frozen=True)
class ContentConfig:
    """The content settings as generation and publishing use them (defaults filled in)."""

    phone: str | None
    website: str | None
    auto_publish_positive: bool
    llm_enabled: bool

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> ContentConfig:
        """Read the stored (valid) settings; missing parts take their defaults."""
        profile = settings.get("profile") or {}
        return cls(
            phone=profile.get("phone"),
            website=profile.get("website"),
            auto_publish_positive=bool(
                (settings.get("reviews") or {}).get("auto_publish_positive", False)
            ),
            llm_enabled=bool((settings.get("ai") or {}).get("llm_enabled", True)),
        )


class ConnectorUnreadable(Exception):
    """A connector is configured but its stored secret cannot be decrypted."""


def _item(settings: dict[str, Any], name: str) -> dict[str, Any] | None:
    item = (settings.get("integrations") or {}).get(name)
    return item if isinstance(item, dict) else None


def _secret(box: SecretBox, item: dict[str, Any], field: str, name: str) -> str | None:
    token = item.get(field + "_encrypted")
    if not token:
        return None
    try:
        return box.decrypt(token)
    except ValueError as exc:
        raise ConnectorUnreadable(
            f"the stored {name} {field} cannot be decrypted; set it again"
        ) from exc


def wordpress_client(
    settings: dict[str, Any], box: SecretBox, http: httpx.AsyncClient
) -> WordPressClient | None:
    """The organization's WordPress site, or None when none is configured."""
    item = _item(settings, "wordpress")
    if item is None:
        return None
    password = _secret(box, item, "application_password", "wordpress")
    if password is None:
        return None
    return WordPressClient(item["site_url"], item["username"], password, http)


def google_business_client(
    settings: dict[str, Any], box: SecretBox, http: httpx.AsyncClient
) -> GoogleBusinessClient | None:
    """The organization's Business Profile location, or None when none is configured."""
    item = _item(settings, "google_business")
    if item is None:
        return None
    token = _secret(box, item, "access_token", "google_business")
    if token is None:
        return None
    return GoogleBusinessClient(
        token,
        item["account_id"],
        item["location_id"],
        http,
        base_url=item.get("base_url") or DEFAULT_BASE_URL,
    )


def configured_channels(settings: dict[str, Any]) -> frozenset[str]:
    """The publishing channels this organization has a connector for."""
    return frozenset(name for name in ("wordpress", "google_business") if _item(settings, name))
