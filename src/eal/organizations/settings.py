"""Organization settings: defaults, the merge of a PATCH, stored credentials and what is shown.

Vendor credentials are kept encrypted inside the settings JSON
(`settings.integrations.<vendor>.api_key_encrypted`) with a masked hint next
to them; the API shows the hint, never the ciphertext.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from eal.errors import field_error
from eal.kit.secretbox import SecretBox, mask
from eal.organizations.schemas import SettingsIn

DEFAULT_SETTINGS = {"timezone": "America/New_York", "default_locale": "en-US"}


#: Each integration's secret fields: stored as `<field>_encrypted` plus a masked
#: `<field>_hint`, never shown. `REQUIRED` names those needed the first time.
SECRET_FIELDS: dict[str, tuple[str, ...]] = {
    "crm": ("api_key",),
    "sms": ("auth_token",),
    "email": ("password",),
    "callrail": ("signing_key", "api_key"),
    "wordpress": ("application_password",),
    "google_business": ("access_token",),
    "companycam": ("api_key",),
}
REQUIRED_SECRETS: dict[str, tuple[str, ...]] = {
    "crm": ("api_key",),
    "sms": ("auth_token",),
    "wordpress": ("application_password",),
    "google_business": ("access_token",),
    "companycam": ("api_key",),
}
ENCRYPTED_SUFFIX = "_encrypted"


def public_settings(stored: dict[str, Any]) -> dict[str, Any]:
    """Settings as the API shows them: credentials replaced by a masked hint."""
    shown = dict(stored)
    integrations = shown.get("integrations")
    if isinstance(integrations, dict):
        shown["integrations"] = {
            name: (
                {k: v for k, v in item.items() if not k.endswith(ENCRYPTED_SUFFIX)}
                if isinstance(item, dict)
                else item
            )
            for name, item in integrations.items()
        }
    return shown


def stored_secrets(settings: dict[str, Any]) -> dict[str, str]:
    """Every stored ciphertext, by `integration.field` (to tell when one changed)."""
    found: dict[str, str] = {}
    integrations = settings.get("integrations") or {}
    for name, fields in SECRET_FIELDS.items():
        item = integrations.get(name)
        if not isinstance(item, dict):
            continue
        for field in fields:
            value = item.get(field + ENCRYPTED_SUFFIX)
            if value:
                found[f"{name}.{field}"] = value
    return found


def crm_secret(settings: dict[str, Any]) -> str | None:
    """The stored (encrypted) CRM key, if any."""
    return stored_secrets(settings).get("crm.api_key")


def _encrypt_unless_unchanged(stored: Any, field: str, secret: str, box: SecretBox) -> str:
    # Re-sending the stored secret must stay a no-op: encryption is randomised, so
    # a fresh ciphertext of the same secret would look like a change.
    ciphertext = stored.get(field + ENCRYPTED_SUFFIX) if isinstance(stored, dict) else None
    if ciphertext:
        try:
            if box.decrypt(ciphertext) == secret:
                return str(ciphertext)
        except ValueError:
            pass  # made with another secret key: replace it
    return box.encrypt(secret)


def merge_settings(current: dict[str, Any], patch: SettingsIn, box: SecretBox) -> dict[str, Any]:
    """Apply a settings patch: keys sent replace stored ones; an explicit null removes one."""
    merged = dict(current)
    for key in patch.model_fields_set:
        value = getattr(patch, key)
        if value is None:
            merged.pop(key, None)
        elif key == "integrations":
            integrations = dict(merged.get("integrations") or {})
            for name in value.model_fields_set:
                item = getattr(value, name)
                if item is None:
                    integrations.pop(name, None)
                else:
                    integrations[name] = _integration(name, integrations.get(name), item, box)
            if integrations:
                merged["integrations"] = integrations
            else:
                # No integration left: drop the key, so removing nothing stays a no-op.
                merged.pop("integrations", None)
        else:
            # Only what was given is stored: unset and default parts are left out.
            merged[key] = (
                value.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
                if hasattr(value, "model_dump")
                else value
            )
    return merged


def _integration(name: str, stored: Any, item: BaseModel, box: SecretBox) -> dict[str, Any]:
    """The stored form of one integration; a secret not sent keeps its stored value."""
    secrets = SECRET_FIELDS.get(name, ())
    result = item.model_dump(mode="json", exclude=set(secrets))
    vendor = result.get("vendor")
    same_vendor = isinstance(stored, dict) and stored.get("vendor") == vendor
    for field in secrets:
        secret = getattr(item, field)
        if secret is not None:
            result[field + "_hint"] = mask(secret)
            result[field + ENCRYPTED_SUFFIX] = _encrypt_unless_unchanged(stored, field, secret, box)
        elif same_vendor and stored.get(field + ENCRYPTED_SUFFIX):
            result[field + "_hint"] = stored[field + "_hint"]
            result[field + ENCRYPTED_SUFFIX] = stored[field + ENCRYPTED_SUFFIX]
        elif field in REQUIRED_SECRETS.get(name, ()):
            raise field_error(
                f"settings.integrations.{name}.{field}",
                f"is required: no {vendor or name} {field} is stored for this organization",
            )
    return result


def _flatten(settings: dict[str, Any], prefix: str = "settings") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in settings.items():
        path = f"{prefix}.{key}"
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, path))
        else:
            flat[path] = value
    return flat


def audit_view(name: str, settings: dict[str, Any]) -> dict[str, Any]:
    """An organization as its audit diffs describe it: the name and every settings leaf."""
    view = {"name": name}
    view.update(_flatten(public_settings(settings)))
    return view
