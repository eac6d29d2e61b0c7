"""The claims parts of an organization's settings: CompanyCam, and the scope's factors and codes.

`settings.integrations.companycam` (`{api_key, base_url}`, the key stored
encrypted and masked when shown) and `settings.claims` (`{factors, code_map}`:
overrides of the shipped S500 factors, and the organization's own price-list
codes for the shipped catalog's) are validated here when an organization
saves them; the organizations domain stores them and extraction reads them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

import httpx
from pydantic import Field, create_model

from eal.claims.scope import load_catalog, load_factors
from eal.claims.scope.data import DEHUMIDIFIER_KINDS
from eal.integrations.companycam import DEFAULT_BASE_URL, CompanyCamClient
from eal.kit.schemas import NON_BLANK, StrictBody
from eal.kit.secretbox import SecretBox
from eal.organizations.vendor_settings import SECRET_PATTERN, VENDOR_URL_PATTERN
from eal.outreach.settings import Secret, Url

PriceCode = Annotated[
    str, Field(min_length=1, max_length=50, json_schema_extra={"pattern": NON_BLANK})
]


# Factors the calculator counts with (whole numbers), and their largest sensible value.
_COUNTS = {"per_wet_room": 10, "per_inset_offset": 10, "technicians": 50, "default_class": 4}


def _override_type(path: str, key: str, value: Any) -> Any:
    """The type an override of the shipped `value` must have."""
    if isinstance(value, dict):
        return _overrides_model(path, value)
    if isinstance(value, str):
        return (
            Literal[DEHUMIDIFIER_KINDS]
            if key == "kind"
            else Annotated[str, Field(min_length=1, json_schema_extra={"pattern": NON_BLANK})]
        )
    if isinstance(value, list):
        item: Any = (
            Annotated[
                str, Field(min_length=1, max_length=100, json_schema_extra={"pattern": NON_BLANK})
            ]
            if isinstance(value[0], str)
            else Annotated[int, Field(gt=0, le=1200)]
        )
        return Annotated[list[item], Field(min_length=1, max_length=50)]
    if key in _COUNTS:
        return Annotated[int, Field(gt=0, le=_COUNTS[key])]
    # A size or a rate: above zero; confidences are at most 1.
    top = 1 if path.startswith("confidence") else 1_000_000
    return Annotated[float, Field(gt=0, le=top, allow_inf_nan=False)]


def _overrides_model(path: str, values: dict[str, Any]) -> type[StrictBody]:
    """A body model taking any subset of `values` (a section of the factors file)."""
    name = "ClaimFactors" + "".join(
        part.title().replace("_", "") for part in path.split(".") if part
    )
    fields: dict[str, Any] = {
        key: (_override_type(f"{path}.{key}".lstrip("."), key, value) | None, None)
        for key, value in values.items()
        if key != "version"
    }
    model: type[StrictBody] = create_model(name, __base__=StrictBody, **fields)
    model.__doc__ = f"Overrides of the shipped factors{' in ' + path if path else ''}."
    return model


# The factors an organization may override, typed from the shipped file itself, so the
# API document lists every one and a wrong name or value is refused by the schema.
if TYPE_CHECKING:
    ClaimFactors = StrictBody
    CatalogCode = str
else:
    ClaimFactors = _overrides_model("", load_factors().values())
    CatalogCode = Literal[tuple(load_catalog().codes())]


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

    factors: ClaimFactors | None = Field(
        default=None,
        description="Overrides of the shipped factors (src/eal/claims/data/scope_factors.toml), "
        'nested as there: {"air_movers": {"floor_sf_per_unit": 55}}.',
    )
    code_map: dict[CatalogCode, PriceCode] | None = Field(
        default=None,
        description="The organization's price-list code for shipped catalog codes "
        '({"WTR DRYW": "DRY-10"}); lines show it as `code`, the shipped one as `catalog_code`.',
    )


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
