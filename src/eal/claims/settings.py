"""The claims parts of an organization's settings: CompanyCam, and the scope's factors and codes.

`settings.integrations.companycam` (`{api_key, base_url}`, the key stored
encrypted and masked when shown) and `settings.claims` (`{factors, code_map}`:
overrides of the shipped S500 factors, and the organization's own price-list
codes for the shipped catalog's) are validated here when an organization
saves them; the organizations domain stores them and extraction reads them.
"""

from __future__ import annotations

from typing import Annotated, Any

import httpx
from pydantic import Field, field_validator

from eal.claims.scope import load_catalog, load_factors
from eal.integrations.companycam import DEFAULT_BASE_URL, CompanyCamClient
from eal.kit.schemas import NON_BLANK, StrictBody
from eal.kit.secretbox import SecretBox
from eal.organizations.vendor_settings import SECRET_PATTERN, VENDOR_URL_PATTERN
from eal.outreach.settings import Secret, Url

PriceCode = Annotated[
    str, Field(min_length=1, max_length=50, json_schema_extra={"pattern": NON_BLANK})
]


class CompanyCamSettingsIn(StrictBody):
    """A CompanyCam access token (stored encrypted, never shown) and the API's address."""

    api_key: Secret | None = Field(
        default=None,
        json_schema_extra={"pattern": SECRET_PATTERN},
        description="Required the first time; omit it to keep the stored one.",
    )
    base_url: Url | None = Field(
        default=None,
        description=f"Default {DEFAULT_BASE_URL}.",
        json_schema_extra={"pattern": VENDOR_URL_PATTERN, "format": "uri"},
    )


class CompanyCamSettingsCreate(CompanyCamSettingsIn):
    """CompanyCam settings of a new organization: the token is required."""

    api_key: Secret = Field(json_schema_extra={"pattern": SECRET_PATTERN})  # type: ignore[assignment]


class ClaimsSettingsIn(StrictBody):
    """`settings.claims`: the organization's S500 factors and price-list codes."""

    factors: dict[str, Any] | None = Field(
        default=None,
        description="Overrides of the shipped factors (src/eal/claims/data/scope_factors.toml), "
        'nested as there: {"air_movers": {"floor_sf_per_unit": 55}}.',
    )
    code_map: dict[PriceCode, PriceCode] | None = Field(
        default=None,
        description="The organization's price-list code for shipped catalog codes "
        '({"WTR DRYW": "DRY-10"}); lines show it as `code`, the shipped one as `catalog_code`.',
    )

    @field_validator("factors")
    @classmethod
    def _factors(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value:
            load_factors().with_overrides(value)
        return value

    @field_validator("code_map")
    @classmethod
    def _codes(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value:
            catalog = load_catalog()
            unknown = sorted(code for code in value if not catalog.has(code))
            if unknown:
                raise ValueError(f"not codes of the shipped catalog: {', '.join(unknown)}")
        return value


class ConnectorUnreadable(Exception):
    """CompanyCam is configured but its stored token cannot be decrypted."""


def companycam_client(
    settings: dict[str, Any], box: SecretBox, http: httpx.AsyncClient
) -> CompanyCamClient | None:
    """The organization's CompanyCam account, or None when none is configured."""
    item = (settings.get("integrations") or {}).get("companycam")
    if not isinstance(item, dict) or not item.get("api_key_encrypted"):
        return None
    try:
        key = box.decrypt(item["api_key_encrypted"])
    except ValueError as exc:
        raise ConnectorUnreadable(
            "the stored CompanyCam api_key cannot be decrypted; set it again"
        ) from exc
    return CompanyCamClient(key, http=http, base_url=item.get("base_url") or DEFAULT_BASE_URL)
