"""Organization settings: defaults, the merge of a PATCH, stored credentials and what is shown.

Vendor credentials are kept encrypted inside the settings JSON
(`settings.integrations.<vendor>.api_key_encrypted`) with a masked hint next
to them; the API shows the hint, never the ciphertext.
"""

from __future__ import annotations

from typing import Any

from eal.errors import field_error
from eal.kit.secretbox import SecretBox, mask
from eal.organizations.schemas import CrmSettingsIn, SettingsIn

DEFAULT_SETTINGS = {"timezone": "America/New_York", "default_locale": "en-US"}


def public_settings(stored: dict[str, Any]) -> dict[str, Any]:
    """Settings as the API shows them: credentials replaced by a masked hint."""
    shown = dict(stored)
    integrations = dict(shown.get("integrations") or {})
    crm = integrations.get("crm")
    if isinstance(crm, dict):
        integrations["crm"] = {k: v for k, v in crm.items() if k != "api_key_encrypted"}
        shown["integrations"] = integrations
    return shown


def crm_secret(settings: dict[str, Any]) -> str | None:
    """The stored (encrypted) CRM key, if any."""
    crm = (settings.get("integrations") or {}).get("crm")
    return crm.get("api_key_encrypted") if isinstance(crm, dict) else None


def _encrypt_unless_unchanged(previous: Any, secret: str, box: SecretBox) -> str:
    # Re-sending the stored key must stay a no-op: encryption is randomised, so
    # a fresh ciphertext of the same key would look like a change.
    stored = previous.get("api_key_encrypted") if isinstance(previous, dict) else None
    if stored:
        try:
            if box.decrypt(stored) == secret:
                return str(stored)
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
                elif name == "crm":
                    integrations["crm"] = _crm_settings(integrations.get("crm"), item, box)
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


def _crm_settings(stored: Any, item: CrmSettingsIn, box: SecretBox) -> dict[str, Any]:
    """The stored form of CRM settings; without a new api_key the stored one is kept."""
    if item.api_key is None:
        if not isinstance(stored, dict) or stored.get("vendor") != item.vendor:
            raise field_error(
                "settings.integrations.crm.api_key",
                f"is required: no {item.vendor} key is stored for this organization",
            )
        encrypted, hint = stored["api_key_encrypted"], stored["api_key_hint"]
    else:
        encrypted = _encrypt_unless_unchanged(stored, item.api_key, box)
        hint = mask(item.api_key)
    return {
        "vendor": item.vendor,
        "base_url": item.base_url,
        "lead_id_field": item.lead_id_field,
        "api_key_hint": hint,
        "api_key_encrypted": encrypted,
    }


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
